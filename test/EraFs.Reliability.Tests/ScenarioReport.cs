namespace EraFs.Reliability.Tests;

/// <summary>
/// The counts of one scenario and its one-line figure, <c>NAME: N tried, L lost, F false positives, ...</c>;
/// <see cref="Finish"/> prints it and fails on any loss, crash, hang, silent acceptance or state change.
/// </summary>
internal sealed class ScenarioReport(string name)
{
    private readonly Lock _lock = new();
    private readonly List<string> _failures = [];
    private readonly SortedDictionary<string, long> _extra = new(StringComparer.Ordinal);

    public string Name { get; } = name;
    public long Tried { get; private set; }
    public long Lost { get; private set; }
    public long FalsePositives { get; private set; }

    /// <summary>Blocks that could have been reported (denominator of the false-positive rate).</summary>
    public long BlocksConsidered { get; private set; }

    public void Try(long count = 1)
    {
        lock (_lock) Tried += count;
    }

    /// <summary>Adds one oracle outcome: blocks the promise required but were missing, and blocks reported without a change.</summary>
    public void Observe(long lost, long falsePositives, long blocksConsidered, string where)
    {
        lock (_lock)
        {
            Lost += lost;
            FalsePositives += falsePositives;
            BlocksConsidered += blocksConsidered;
            if (lost > 0 && _failures.Count < 20) _failures.Add($"{where}: {lost} blocks lost");
        }
    }

    /// <summary>A named count printed in the line (refusals, crashes reached, checkpoints, ...).</summary>
    public void Count(string what, long by = 1)
    {
        lock (_lock) _extra[what] = _extra.GetValueOrDefault(what) + by;
    }

    /// <summary>A broken promise other than a lost block: recorded with its context, fails the scenario.</summary>
    public void Fail(string what, string where)
    {
        lock (_lock)
        {
            _extra[what] = _extra.GetValueOrDefault(what) + 1;
            if (_failures.Count < 20) _failures.Add($"{where}: {what}");
        }
    }

    public string Line
    {
        get
        {
            lock (_lock)
            {
                var fp = BlocksConsidered > 0 ? $" ({100.0 * FalsePositives / BlocksConsidered:0.###}% of blocks)" : "";
                var line = $"{Name}: {Tried} tried, {Lost} lost, {FalsePositives} false positives{fp}";
                foreach (var (k, v) in _extra) line += $", {v} {k}";
                return line;
            }
        }
    }

    public void Finish()
    {
        var line = Line;
        TestContext.Out.WriteLine(line);
        TestContext.Progress.WriteLine(line);
        lock (_lock)
        {
            foreach (var f in _failures) TestContext.Out.WriteLine($"  {f}");
            Assert.That(Tried, Is.GreaterThan(0), $"{line}: nothing was tried");
            Assert.That(_failures, Is.Empty, line);
            Assert.That(Lost, Is.Zero, line);
        }
    }
}
