namespace EraFs.Tools.Tests;

/// <summary>
/// Random era histories shaped like real ones: eras with gaps (digested or skipped), writesets of
/// varied density (sparse bits, long runs, whole ranges), an era array of older eras, and optionally a
/// held snapshot whose view is an earlier state of the same history.
/// </summary>
internal static class HistoryGenerator
{
    public const uint BlockSizeSectors = 128;

    public static EraHistory Generate(int seed, ulong nrBlocks, int writesets, bool snapshot, bool currentWrites = true)
    {
        var random = new Random(seed);
        var eras = new List<uint>();
        uint era = (uint)random.Next(1, 4);
        for (var i = 0; i < writesets; i++)
        {
            eras.Add(era);
            era += (uint)(random.Next(4) == 0 ? random.Next(2, 6) : 1);
        }
        var currentEra = era + (uint)random.Next(0, 2);
        var all = eras.Select(e => Writeset(random, e, nrBlocks)).ToList();
        var digestedUpTo = eras.Count > 0 ? eras[0] : currentEra;
        var eraArray = new uint[nrBlocks];
        for (ulong b = 0; b < nrBlocks; b++)
            if (random.Next(3) == 0) eraArray[b] = (uint)random.Next(0, (int)Math.Max(1, digestedUpTo));
        var liveWritesets = all.ToList();
        if (currentWrites && random.Next(3) != 0) liveWritesets.Add(Writeset(random, currentEra, nrBlocks));
        EraState? snap = null;
        if (snapshot && all.Count > 0)
        {
            var cut = random.Next(1, all.Count + 1);
            var snapEra = cut < all.Count ? all[cut].Era : currentEra;
            snap = new EraState(snapEra, all.Take(cut).ToList(), (uint[])eraArray.Clone());
        }
        return new EraHistory(BlockSizeSectors, nrBlocks, new EraState(currentEra, liveWritesets, eraArray), snap);
    }

    private static EraWriteset Writeset(Random random, uint era, ulong nrBlocks)
    {
        var ws = EraWriteset.Empty(era, nrBlocks);
        switch (random.Next(4))
        {
            case 0:
                for (var i = 0; i < 1 + (int)Math.Min(nrBlocks / 8, 200); i++) ws.Set((ulong)random.NextInt64((long)nrBlocks));
                break;
            case 1:
                for (var r = 0; r < random.Next(1, 6); r++)
                {
                    var start = (ulong)random.NextInt64((long)nrBlocks);
                    var end = Math.Min(nrBlocks, start + (ulong)random.NextInt64(1, (long)Math.Max(2, nrBlocks / 3)));
                    for (var b = start; b < end; b++) ws.Set(b);
                }
                break;
            case 2:
                for (ulong b = 0; b < nrBlocks; b++) if (random.Next(2) == 0) ws.Set(b);
                break;
            default:
                if (random.Next(2) == 0) ws.Set(nrBlocks - 1);
                break;
        }
        return ws;
    }
}
