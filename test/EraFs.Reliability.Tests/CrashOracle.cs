using EraFs.Core;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>What a crashed run was told and what its image looked like: the input to the oracles after recovery.</summary>
internal sealed record CrashRun(
    IReadOnlyList<IssuedWrite> Writes, uint OpenEra, uint AcknowledgedEra, ulong NrBlocks,
    byte[]? ImageAtOpen = null, byte[]? ImageAfterCrash = null);

/// <summary>Oracles O1 (changed bytes), O2 (issued writes) and O5 (eras never go back) on recovered metadata.</summary>
internal static class CrashOracle
{
    public static CrashRun Capture(TrackedStack stack, byte[]? imageAtOpen = null, byte[]? imageAfterCrash = null) =>
        new(stack.Writes, stack.OpenEra, stack.AcknowledgedEra, stack.Tracker.Geometry.NrBlocks, imageAtOpen, imageAfterCrash);

    /// <summary>
    /// Reads the recovered metadata, then reopens it as a mount would and reads it again; adds lost and false-positive
    /// blocks to the report and fails it on a gone-back era. Returns false when the metadata was refused.
    /// </summary>
    public static bool Check(FaultyDevice recovered, CrashRun run, ScenarioReport report, string where, bool reopen = true)
    {
        try
        {
            CheckOnce(recovered, run, report, where, countFalsePositives: true);
        }
        catch (MetadataException e)
        {
            report.Count("refused to open");
            TestContext.Out.WriteLine($"{report.Name} {where}: refused: {e.Message}");
            return false;
        }
        if (!reopen) return true;
        try
        {
            using var stack = TrackedStack.Open(recovered, new VolatileOrigin((long)run.NrBlocks * TrackedStack.BlockSize));
            stack.Close();
        }
        catch (MetadataException e) when (e.Message.Contains("must be checked", StringComparison.Ordinal))
        {
            report.Count("reopens refused (needs check)");
            return true;
        }
        // S8: the committed current writeset must survive the restart that archives it.
        CheckOnce(recovered, run, report, where + " after restart", countFalsePositives: false);
        return true;
    }

    private static void CheckOnce(FaultyDevice recovered, CrashRun run, ScenarioReport report, string where, bool countFalsePositives)
    {
        using var reader = new MetadataReader(new FaultyDevice(recovered.Name, recovered.Snapshot()));
        if (reader.CurrentEra < run.AcknowledgedEra)
            report.Fail("eras gone back", $"{where}: era {reader.CurrentEra} < acknowledged {run.AcknowledgedEra}");

        var lost = 0L;
        foreach (var group in run.Writes.Where(w => w.Issued).GroupBy(w => w.EraAtLeast))
        {
            var listed = Blocks(reader.WrittenSince(group.Key));
            foreach (var w in group)
                for (var b = w.Blocks.Start; b < w.Blocks.End; b++)
                    if (!listed.Contains(b)) lost++;
        }

        var sinceOpen = Blocks(reader.WrittenSince(run.OpenEra));
        if (run.ImageAtOpen is { } before && run.ImageAfterCrash is { } after)
        {
            foreach (var b in VolatileOrigin.ChangedBlocks(before, after, TrackedStack.BlockSize))
                if (!sinceOpen.Contains(b)) lost++;
        }

        var falsePositives = 0L;
        if (countFalsePositives)
        {
            // O1's |R \ D| when the images are known; otherwise blocks reported that no write even tried.
            var changed = new HashSet<ulong>();
            if (run.ImageAtOpen is { } b0 && run.ImageAfterCrash is { } b1)
                changed.UnionWith(VolatileOrigin.ChangedBlocks(b0, b1, TrackedStack.BlockSize));
            else
                foreach (var w in run.Writes)
                    for (var b = w.Blocks.Start; b < w.Blocks.End; b++) changed.Add(b);
            falsePositives = sinceOpen.Count(b => !changed.Contains(b));
        }
        report.Observe(lost, falsePositives, countFalsePositives ? (long)run.NrBlocks : 0, where);
    }

    public static HashSet<ulong> Blocks(IEnumerable<BlockRun> runs)
    {
        var set = new HashSet<ulong>();
        foreach (var run in runs)
            for (var b = run.Start; b < run.End; b++) set.Add(b);
        return set;
    }
}
