using EraFs.FileSystem;

namespace EraFs.Reliability.Tests;

/// <summary>One step of a tracker workload: a write (offset, length), a control message, or an image fsync.</summary>
internal abstract record Op
{
    public sealed record Write(long Offset, int Length) : Op;
    public sealed record Control(string File) : Op;
    public sealed record Fsync : Op;

    /// <summary>Small ops on a few blocks: a whole block, a sub-block rewrite of it, a write straddling two blocks, and every control.</summary>
    public static readonly Op[] Alphabet =
    [
        new Write(0, 4096),
        new Write(1024, 512),
        new Write(4096 + 2048, 4096),
        new Control("checkpoint"),
        new Control("take_metadata_snap"),
        new Control("drop_metadata_snap"),
    ];

    /// <summary>Every sequence of 1..maxLength ops from the alphabet (CrashMonkey's bounded workloads).</summary>
    public static IEnumerable<Op[]> Exhaustive(int maxLength)
    {
        IEnumerable<Op[]> level = [[]];
        for (var n = 1; n <= maxLength; n++)
        {
            level = level.SelectMany(prefix => Alphabet.Select(op => prefix.Append(op).ToArray())).ToList();
            foreach (var w in level) yield return w;
        }
    }

    /// <summary>A seeded random workload over <paramref name="nrBlocks"/> blocks: mostly writes, some controls and fsyncs.</summary>
    public static Op[] Random(int seed, int length, ulong nrBlocks)
    {
        var random = new Random(seed);
        var size = (long)nrBlocks * TrackedStack.BlockSize;
        var ops = new Op[length];
        for (var i = 0; i < length; i++)
        {
            var roll = random.Next(100);
            ops[i] = roll switch
            {
                < 70 => RandomWrite(random, size),
                < 80 => new Control("checkpoint"),
                < 85 => new Control("take_metadata_snap"),
                < 90 => new Control("drop_metadata_snap"),
                _ => new Fsync(),
            };
        }
        return ops;
    }

    private static Write RandomWrite(Random random, long size)
    {
        var length = random.Next(4) switch
        {
            0 => 512,
            1 => 4096,
            2 => random.Next(1, 3 * 4096),
            _ => random.Next(1, 64 * 1024),
        };
        var offset = random.NextInt64(0, size - length);
        if (random.Next(2) == 0) offset -= offset % 512;
        return new Write(offset, length);
    }

    /// <summary>Runs ops until done or <paramref name="stop"/> says the power is gone; errors from refused ops are expected.</summary>
    public static void Run(TrackedStack stack, IEnumerable<Op> ops, Random random, Func<bool> stop)
    {
        foreach (var op in ops)
        {
            if (stop()) return;
            try
            {
                switch (op)
                {
                    case Write w:
                        stack.Write(w.Offset, w.Length, random);
                        break;
                    case Control c:
                        stack.Control(c.File, "1\n");
                        break;
                    case Fsync:
                        stack.Fs.Fsync(DeviceFileSystem.DeviceInode, 0, dataOnly: true);
                        break;
                }
            }
            catch (Exception) when (stop())
            {
                return;
            }
        }
    }
}
