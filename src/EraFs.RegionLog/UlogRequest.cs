using System.Buffers.Binary;
using System.Text;

namespace EraFs.RegionLog;

/// <summary>dm-log-userspace's request types (DM_ULOG_*), with the kernel's numbers.</summary>
public enum UlogRequestType : uint
{
    Ctr = 1,
    Dtr = 2,
    Presuspend = 3,
    Postsuspend = 4,
    Resume = 5,
    GetRegionSize = 6,
    IsClean = 7,
    InSync = 8,
    Flush = 9,
    MarkRegion = 10,
    ClearRegion = 11,
    GetResyncWork = 12,
    SetRegionSync = 13,
    GetSyncCount = 14,
    StatusInfo = 15,
    StatusTable = 16,
    IsRemoteRecovering = 17,
}

/// <summary>
/// One dm_ulog_request: the 160-byte header (luid, uuid, version, error, seq, request_type, data_size)
/// followed by data_size payload bytes, little-endian as on the hosts EraFs runs on.
/// </summary>
public sealed record UlogRequest(ulong Luid, string Uuid, uint Seq, UlogRequestType Type, int Error, byte[] Data)
{
    public const int HeaderSize = 160;
    public const uint RequestVersion = 3;
    public const int UuidLength = 129;
    public const int MaxDataSize = 1 << 20;

    /// <summary>The reply to this request: same identity and sequence number, with the daemon's error and payload.</summary>
    public UlogRequest Reply(int error, byte[] data) => this with { Error = error, Data = data };

    public byte[] Encode()
    {
        var buffer = new byte[HeaderSize + Data.Length];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(span, Luid);
        var uuid = Encoding.ASCII.GetBytes(Uuid);
        if (uuid.Length >= UuidLength) throw new ArgumentException($"uuid '{Uuid}' is longer than {UuidLength - 1} characters");
        uuid.CopyTo(span[8..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[140..], RequestVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[144..], Error);
        BinaryPrimitives.WriteUInt32LittleEndian(span[148..], Seq);
        BinaryPrimitives.WriteUInt32LittleEndian(span[152..], (uint)Type & 0xFF);
        BinaryPrimitives.WriteUInt32LittleEndian(span[156..], (uint)Data.Length);
        Data.CopyTo(span[HeaderSize..]);
        return buffer;
    }

    /// <summary>Reads one whole request; null at a clean end of stream. Throws <see cref="InvalidDataException"/> for a malformed one.</summary>
    public static UlogRequest? ReadFrom(Stream stream)
    {
        var header = new byte[HeaderSize];
        var got = stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        if (got == 0) return null;
        if (got < HeaderSize) throw new EndOfStreamException("userspace log connection closed inside a request header");
        var span = header.AsSpan();
        var version = BinaryPrimitives.ReadUInt32LittleEndian(span[140..]);
        if (version != RequestVersion) throw new InvalidDataException($"userspace log request version {version}, expected {RequestVersion}");
        var rawType = BinaryPrimitives.ReadUInt32LittleEndian(span[152..]);
        if ((rawType & ~0xFFu) != 0 || rawType is 0 or > (uint)UlogRequestType.IsRemoteRecovering)
            throw new InvalidDataException($"unknown userspace log request type 0x{rawType:x}");
        var size = BinaryPrimitives.ReadUInt32LittleEndian(span[156..]);
        if (size > MaxDataSize) throw new InvalidDataException($"userspace log request carries {size} bytes, more than {MaxDataSize}");
        var data = new byte[size];
        stream.ReadExactly(data);
        var uuidBytes = span.Slice(8, UuidLength);
        var nul = uuidBytes.IndexOf((byte)0);
        var uuid = Encoding.ASCII.GetString(nul < 0 ? uuidBytes : uuidBytes[..nul]);
        return new UlogRequest(
            BinaryPrimitives.ReadUInt64LittleEndian(span), uuid,
            BinaryPrimitives.ReadUInt32LittleEndian(span[148..]), (UlogRequestType)rawType,
            BinaryPrimitives.ReadInt32LittleEndian(span[144..]), data);
    }

    public static byte[] U64(ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return b;
    }

    public static byte[] U64s(IReadOnlyList<ulong> values)
    {
        var b = new byte[values.Count * 8];
        for (var i = 0; i < values.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(i * 8), values[i]);
        return b;
    }

    public static byte[] Pair(ulong first, long second)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, first);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), second);
        return b;
    }

    /// <summary>A string payload the way the kernel sends one: the text and a terminating NUL.</summary>
    public static byte[] Text(string value) => Encoding.ASCII.GetBytes(value + "\0");

    public static string ReadText(byte[] data)
    {
        var nul = Array.IndexOf(data, (byte)0);
        return Encoding.ASCII.GetString(data, 0, nul < 0 ? data.Length : nul);
    }

    public ulong ReadU64(int index = 0) => Data.Length >= (index + 1) * 8
        ? BinaryPrimitives.ReadUInt64LittleEndian(Data.AsSpan(index * 8))
        : throw new InvalidDataException($"{Type} payload of {Data.Length} bytes lacks field {index}");

    public long ReadI64(int index) => (long)ReadU64(index);
}
