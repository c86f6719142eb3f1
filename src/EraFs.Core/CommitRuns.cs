namespace EraFs.Core;

/// <summary>The shape <see cref="IEraStore.CommitMarks"/> takes its runs in: non-empty, ascending, disjoint and not touching.</summary>
/// <remarks>
/// The tracker sorts and merges each batch once (<see cref="MarkBatch.SortAndMerge"/>); a store only
/// checks, so a caller that forgot to merge fails loudly instead of paying for a second sort.
/// </remarks>
public static class CommitRuns
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first run out of shape; checks only, changes nothing.</summary>
    public static void Require(ReadOnlySpan<BlockRun> runs, string paramName)
    {
        for (var i = 0; i < runs.Length; i++)
        {
            if (runs[i].Count == 0)
                throw new ArgumentException($"run {i} (at block {runs[i].Start}) is empty", paramName);
            if (i > 0 && runs[i].Start <= runs[i - 1].End)
                throw new ArgumentException(
                    $"run {i} ({runs[i].Start}+{runs[i].Count}) does not start after run {i - 1} ({runs[i - 1].Start}+{runs[i - 1].Count}) ends; runs must be sorted, disjoint and not touching",
                    paramName);
        }
    }
}
