using EraFs.Core;
using EraFs.TestSupport;

namespace EraFs.Metadata.Tests;

/// <summary>One step of a scripted metadata workload.</summary>
internal abstract record WorkloadStep
{
    public sealed record Mark(BlockRun[] Runs) : WorkloadStep;
    public sealed record Checkpoint : WorkloadStep;
    public sealed record Snapshot : WorkloadStep;
    public sealed record DropSnapshot : WorkloadStep;
    public sealed record Digest : WorkloadStep;
    public sealed record Clean(bool Value) : WorkloadStep;
}

/// <summary>What a workload run was told before it stopped: the oracle for recovery.</summary>
internal sealed class WorkloadOutcome
{
    /// <summary>Blocks whose CommitMarks returned, with the era they were marked in.</summary>
    public List<(ulong Block, uint Era)> Acknowledged { get; } = [];

    /// <summary>Every block ever passed to CommitMarks, returned or not.</summary>
    public HashSet<ulong> Attempted { get; } = [];

    /// <summary>Largest era a completed rollover returned (or the era at start).</summary>
    public uint AcknowledgedEra { get; set; }

    /// <summary>Largest era the store could have reached had every started call completed.</summary>
    public uint AttemptedEra { get; set; }
}

/// <summary>Scripted workloads for the crash tests and the rules for checking a recovered store against them.</summary>
internal static class CrashWorkload
{
    public const ulong NrBlocks = 100_000;

    public static WorkloadStep[] Build(int seed, int steps, bool withSnapshots)
    {
        var random = new Random(seed);
        var script = new List<WorkloadStep> { new WorkloadStep.Clean(false) };
        for (var i = 0; i < steps; i++)
        {
            var roll = random.Next(100);
            if (roll < 60) script.Add(new WorkloadStep.Mark(RandomRuns(random, random.Next(1, 4), 64)));
            else if (roll < 70) script.Add(new WorkloadStep.Checkpoint());
            else if (roll < 82) script.Add(new WorkloadStep.Digest());
            else if (roll < 88 && withSnapshots) script.Add(new WorkloadStep.Snapshot());
            else if (roll < 94 && withSnapshots) script.Add(new WorkloadStep.DropSnapshot());
            else if (roll < 97) script.Add(new WorkloadStep.Mark(RandomRuns(random, 700, 4)));
            else script.Add(new WorkloadStep.Mark([new BlockRun(32_600, 100)]));
        }
        script.Add(new WorkloadStep.Clean(true));
        return [.. script];
    }

    /// <summary>Runs the script until it ends or the device loses power; I/O errors only skip the step.</summary>
    public static WorkloadOutcome Run(FaultyDevice device, IReadOnlyList<WorkloadStep> script)
    {
        var outcome = new WorkloadOutcome();
        MetadataStore store;
        try
        {
            store = MetadataStore.Open(device);
        }
        catch (MetadataException) when (device.Crashed)
        {
            return outcome;
        }
        outcome.AcknowledgedEra = outcome.AttemptedEra = store.CurrentEra;
        foreach (var step in script)
        {
            try
            {
                Apply(store, step, outcome);
            }
            catch (Exception e) when (e is MetadataException || device.Crashed)
            {
                if (device.Crashed) break;
            }
        }
        return outcome;
    }

    private static void Apply(MetadataStore store, WorkloadStep step, WorkloadOutcome outcome)
    {
        switch (step)
        {
            case WorkloadStep.Mark mark:
                foreach (var run in mark.Runs)
                    for (var b = run.Start; b < run.End; b++) outcome.Attempted.Add(b);
                store.CommitMarks(mark.Runs);
                foreach (var run in mark.Runs)
                    for (var b = run.Start; b < run.End; b++) outcome.Acknowledged.Add((b, store.CurrentEra));
                break;
            case WorkloadStep.Checkpoint:
                outcome.AttemptedEra = store.CurrentEra + 1;
                outcome.AcknowledgedEra = store.Rollover();
                break;
            case WorkloadStep.Snapshot when store.HeldSnapshot == null:
                outcome.AttemptedEra = store.CurrentEra + 1;
                store.TakeSnapshot();
                outcome.AcknowledgedEra = store.CurrentEra;
                break;
            case WorkloadStep.DropSnapshot when store.HeldSnapshot != null:
                store.DropSnapshot();
                break;
            case WorkloadStep.Digest:
                store.DigestStep();
                break;
            case WorkloadStep.Clean clean:
                store.SetClean(clean.Value, DateTime.UnixEpoch);
                break;
        }
    }

    /// <summary>Opens the recovered device and counts lost and falsely reported blocks; throws on any broken promise.</summary>
    public static (int Lost, int FalsePositives) Check(FaultyDevice recovered, WorkloadOutcome outcome, string scenario)
    {
        using var reader = new MetadataReader(recovered);
        if (reader.CurrentEra < outcome.AcknowledgedEra || reader.CurrentEra > outcome.AttemptedEra)
            throw new AssertionException(
                $"{scenario}: recovered era {reader.CurrentEra}, acknowledged {outcome.AcknowledgedEra}, attempted {outcome.AttemptedEra}");
        var lost = 0;
        foreach (var group in outcome.Acknowledged.GroupBy(a => a.Era))
            lost += Uncovered(group.Select(a => a.Block).Distinct().Order(), reader.WrittenSince(group.Key));
        var falsePositives = 0;
        foreach (var run in reader.WrittenSince(1))
            for (var b = run.Start; b < run.End; b++)
                if (!outcome.Attempted.Contains(b)) falsePositives++;
        if (reader.HeldSnapshot != null) _ = reader.WrittenSince(1, useSnapshot: true).Count();

        // The recovered store must also accept new work.
        using var store = MetadataStore.Open(recovered);
        store.CommitMarks([new BlockRun(NrBlocks - 1, 1)]);
        store.Rollover();
        store.DigestStep();
        return (lost, falsePositives);
    }

    /// <summary>Random runs in the sorted, merged shape CommitMarks takes (the tracker's batches come so).</summary>
    private static BlockRun[] RandomRuns(Random random, int count, int maxLength) =>
        BlockRuns.Normalize(Enumerable.Range(0, count)
            .Select(_ => new BlockRun((ulong)random.NextInt64(0, (long)NrBlocks - maxLength), (ulong)random.Next(1, maxLength + 1)))
            .ToList())
            .ToArray();

    /// <summary>How many of the sorted distinct blocks the ascending runs do not cover.</summary>
    private static int Uncovered(IEnumerable<ulong> sortedBlocks, IEnumerable<BlockRun> runs)
    {
        using var run = runs.GetEnumerator();
        var hasRun = run.MoveNext();
        var missing = 0;
        foreach (var block in sortedBlocks)
        {
            while (hasRun && run.Current.End <= block) hasRun = run.MoveNext();
            if (!hasRun || run.Current.Start > block) missing++;
        }
        return missing;
    }
}
