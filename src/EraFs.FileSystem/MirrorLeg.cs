namespace EraFs.FileSystem;

/// <summary>
/// One extra copy of the origin (an image file or block device of the origin's size) with dm-raid1's
/// health character: A alive, D write error, S resync error, F flush error, R read error.
/// </summary>
public sealed class MirrorLeg : IDisposable
{
    private readonly Origin _io;
    private volatile char _health = 'A';

    private MirrorLeg(Origin io) => _io = io;

    /// <summary>Opens a leg; it must have exactly the origin's size.</summary>
    public static MirrorLeg Open(string path, long originSize)
    {
        var io = Origin.Open(path);
        if (io.Size != originSize)
        {
            io.Dispose();
            throw new IOException($"{path}: mirror leg has {io.Size} bytes but the origin has {originSize}; legs must be the origin's size");
        }
        return new MirrorLeg(io);
    }

    public string Path => _io.Path;

    public char Health => _health;

    public bool Healthy => _health == 'A';

    /// <summary>Records the first failure only: the character says what broke the leg.</summary>
    public void Fail(char health)
    {
        if (_health == 'A') _health = health;
    }

    public int Read(Span<byte> buffer, long offset) => _io.Read(buffer, offset);

    public int Write(ReadOnlySpan<byte> data, long offset) => _io.Write(data, offset);

    public int Zero(long offset, long length, bool punch) => _io.Zero(offset, length, punch);

    public int Sync(bool dataOnly) => _io.Sync(dataOnly);

    public void Dispose() => _io.Dispose();
}
