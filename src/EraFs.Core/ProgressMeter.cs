using System.Diagnostics;
using System.Globalization;

namespace EraFs.Core;

/// <summary>What a progress count counts: tracking blocks, metadata blocks, or bytes.</summary>
public enum ProgressUnit
{
    Blocks,
    Bytes,
}

/// <summary>
/// Percent, rate and ETA of one long task, redrawn in place (carriage return) on a terminal at most
/// four times a second, like qemu-img -p. The first report draws at once and <see cref="Finish"/>
/// draws the end, so even a task that outruns the clock shows where it started and ended.
/// </summary>
public sealed class ProgressMeter : IDisposable
{
    /// <summary>Redraws closer together than this would flicker and cost more than the work.</summary>
    public static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(250);

    private readonly TextWriter _output;
    private readonly string _label;
    private readonly ProgressUnit _unit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _lastDraw;
    private int _drawnLength;
    private ulong _done;
    private bool _finished;

    public ProgressMeter(TextWriter output, string label, ulong total, ProgressUnit unit)
    {
        _output = output;
        _label = label;
        Total = total;
        _unit = unit;
    }

    /// <summary>The amount the task will have done at the end; a task that learns it late may set it.</summary>
    public ulong Total { get; set; }

    /// <summary>Records how much is done (cumulative); redraws if the last draw is old enough.</summary>
    public void Report(ulong done)
    {
        _done = done;
        var now = _clock.Elapsed;
        if (_finished || (_lastDraw is { } last && now - last < RedrawInterval)) return;
        _lastDraw = now;
        Draw(Describe(_label, Math.Min(done, Total), Total, now, _unit, finished: false));
    }

    /// <summary>Draws the final state and ends the line; later reports draw nothing.</summary>
    public void Finish()
    {
        if (_finished) return;
        _finished = true;
        Draw(Describe(_label, Math.Max(_done, Total), Math.Max(_done, Total), _clock.Elapsed, _unit, finished: true));
        _output.Write('\n');
        _output.Flush();
    }

    /// <summary>Ends a line left half-drawn by a task that failed, so the error starts on a line of its own.</summary>
    public void Dispose()
    {
        if (_finished || _drawnLength == 0) return;
        _finished = true;
        _output.Write('\n');
        _output.Flush();
    }

    /// <summary>
    /// One line, "LABEL: P% (DONE of TOTAL), RATE, ETA T" (or "in T" once finished): the text the
    /// meter draws and the lines long work logs.
    /// </summary>
    public static string Describe(string label, ulong done, ulong total, TimeSpan elapsed, ProgressUnit unit, bool finished)
    {
        var fraction = total == 0 ? 1.0 : Math.Min(1.0, (double)done / total);
        // A task not finished is never shown as 100%: rounding would promise more than is done.
        var percent = finished ? fraction * 100 : Math.Min(fraction * 100, 99.9);
        var seconds = elapsed.TotalSeconds;
        var rate = seconds > 0.05 ? done / seconds : 0;
        string tail;
        if (finished) tail = $"in {Duration(seconds)}";
        else if (rate > 0 && done > 0) tail = $"ETA {Duration((total - Math.Min(done, total)) / rate)}";
        else tail = "ETA --";
        return string.Create(CultureInfo.InvariantCulture,
            $"{label}: {percent:0.0}% ({Amount(done, unit)} of {Amount(total, unit)}), {Amount((ulong)rate, unit)}/s, {tail}");
    }

    private void Draw(string line)
    {
        // Pad over the tail of a longer previous line instead of relying on terminal escapes.
        var padding = Math.Max(0, _drawnLength - line.Length);
        _output.Write('\r' + line + new string(' ', padding));
        _output.Flush();
        _drawnLength = line.Length;
    }

    private static string Amount(ulong value, ProgressUnit unit)
    {
        string[] prefixes = unit == ProgressUnit.Bytes ? ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] : ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
        var scaled = (double)value;
        var i = 0;
        while (scaled >= 1024 && i < prefixes.Length - 1)
        {
            scaled /= 1024;
            i++;
        }
        var number = i == 0 ? value.ToString(CultureInfo.InvariantCulture) : scaled.ToString("0.0", CultureInfo.InvariantCulture);
        return unit == ProgressUnit.Bytes ? $"{number} {prefixes[i]}" : $"{number}{(i == 0 ? "" : " " + prefixes[i])} blocks";
    }

    private static string Duration(double seconds)
    {
        if (double.IsNaN(seconds) || seconds < 0) seconds = 0;
        if (seconds < 60) return string.Create(CultureInfo.InvariantCulture, $"{seconds:0.0}s");
        var t = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : $"{t.Minutes}m{t.Seconds:00}s";
    }
}
