using EraFs.Core;
using EraFs.TestSupport;

namespace EraFs.Metadata.Tests;

/// <summary>Small stores on in-memory devices.</summary>
internal static class StoreFixtures
{
    public static EraGeometry Geometry(ulong nrBlocks = 100_000) => EraGeometry.For((long)nrBlocks * 4096, 4096);

    public static (FaultyDevice Device, MetadataStore Store) NewStore(ulong nrBlocks = 100_000, uint journalBlocks = 8)
    {
        var device = new FaultyDevice();
        return (device, MetadataStore.Create(device, Geometry(nrBlocks), journalBlocks));
    }

    /// <summary>The device's current contents as a fresh device, as after a clean restart.</summary>
    public static FaultyDevice Reloaded(FaultyDevice device) => new(device.Name, device.Snapshot());

    public static List<BlockRun> Runs(params (ulong Start, ulong Count)[] runs) =>
        runs.Select(r => new BlockRun(r.Start, r.Count)).ToList();

    public static HashSet<ulong> Blocks(IEnumerable<BlockRun> runs)
    {
        var set = new HashSet<ulong>();
        foreach (var run in runs)
            for (var b = run.Start; b < run.End; b++) set.Add(b);
        return set;
    }
}
