namespace EraFs.Fuse;

/// <summary>Where the io_uring serving threads of a queue run.</summary>
public enum RingPlacement
{
    /// <summary>Wherever the scheduler puts them, on any CPU the process may use.</summary>
    Spread,

    /// <summary>On the CPU of their queue, which is the CPU the request was issued on.</summary>
    Pinned,
}

/// <summary>
/// Chooses, by measuring, whether the io_uring serving threads run pinned to their queue's CPU or
/// spread. Neither wins everywhere (2 CPUs, 4k requests): when the issuer sleeps until its answer
/// (a loop device without direct I/O, which sends one request at a time, or any QD1 job), a pinned
/// thread answers on the issuer's warm CPU without a cross-CPU wake-up and served 1.7-4x the
/// requests; when the issuer keeps submitting (QD32 through a loop device with direct I/O), a
/// pinned thread competes with it for its CPU while the other idles, and served 0.6-0.75x.
/// So the transport serves in one placement, now and then tries the other for a short trial, and
/// keeps whichever served more requests per second. A trial that loses makes the next one wait
/// twice as long (up to <c>maxBackoff</c> times), so a steady workload pays little for the probing;
/// a change of rate by more than half resets the wait, since the workload has changed.
/// The caller measures the rate over fixed windows and calls <see cref="EndWindow"/> after each.
/// </summary>
internal sealed class RingPlacementChooser
{
    private readonly int _steadyWindows;
    private readonly int _maxBackoff;
    private readonly double _minRate;
    private readonly double _margin;
    private Phase _phase = Phase.Steady;
    private int _windowsInPhase;
    private int _backoff = 1;
    private double _previous;
    private double _last;
    private double _baseline;

    /// <param name="start">The placement served first.</param>
    /// <param name="steadyWindows">Windows served in one placement before the first trial of the other.</param>
    /// <param name="maxBackoff">Most times <paramref name="steadyWindows"/> that losing trials stretch the wait to.</param>
    /// <param name="minRate">Requests per second below which nothing is tried: an idle mount has nothing to measure.</param>
    /// <param name="margin">How much more (0.05 = 5 %) a trial must serve to be kept, so noise does not flip the placement.</param>
    public RingPlacementChooser(RingPlacement start, int steadyWindows = 10, int maxBackoff = 8, double minRate = 1000, double margin = 0.05)
    {
        if (steadyWindows < 2) throw new ArgumentOutOfRangeException(nameof(steadyWindows), "needs at least two windows to measure a baseline");
        Current = start;
        _steadyWindows = steadyWindows;
        _maxBackoff = Math.Max(1, maxBackoff);
        _minRate = minRate;
        _margin = margin;
    }

    private enum Phase
    {
        Steady,

        // The first window of a trial: threads are still moving to their new CPUs, so it is not measured.
        Settling,
        Measuring,
    }

    /// <summary>The placement the serving threads should be in for the next window.</summary>
    public RingPlacement Current { get; private set; }

    /// <summary>Trials of the other placement started.</summary>
    public long Trials { get; private set; }

    /// <summary>Trials that served more and so became the placement.</summary>
    public long Adoptions { get; private set; }

    /// <summary>
    /// Takes the rate (requests per second) of the window that just ended, served in
    /// <see cref="Current"/>; returns the placement for the next window.
    /// </summary>
    public RingPlacement EndWindow(double rate)
    {
        switch (_phase)
        {
            case Phase.Steady:
                _windowsInPhase++;
                if (_windowsInPhase > 2 && Changed(_last, rate)) _backoff = 1;
                _previous = _last;
                _last = rate;
                if (_windowsInPhase >= _steadyWindows * _backoff && Math.Min(_previous, _last) >= _minRate)
                {
                    _baseline = (_previous + _last) / 2;
                    Current = Other(Current);
                    Trials++;
                    _phase = Phase.Settling;
                }
                break;
            case Phase.Settling:
                _phase = Phase.Measuring;
                break;
            case Phase.Measuring:
                if (rate > _baseline * (1 + _margin))
                {
                    Adoptions++;
                    _backoff = 1;
                }
                else
                {
                    Current = Other(Current);
                    _backoff = Math.Min(_backoff * 2, _maxBackoff);
                }
                _phase = Phase.Steady;
                _windowsInPhase = 0;
                _previous = _last = 0;
                break;
        }
        return Current;
    }

    private static RingPlacement Other(RingPlacement p) => p == RingPlacement.Pinned ? RingPlacement.Spread : RingPlacement.Pinned;

    private static bool Changed(double before, double now) => before > 0 && (now > before * 2 || now < before / 2);
}
