using System.Diagnostics;

namespace EraFs.Reliability.Tests;

/// <summary>Runs work on its own thread and fails the test if it neither finishes nor makes progress in time (a hang).</summary>
internal static class Watchdog
{
    public static void Run(string what, TimeSpan limit, Action work)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                error = e;
            }
        }) { IsBackground = true, Name = "watched:" + what };
        thread.Start();
        if (!thread.Join(limit)) Assert.Fail($"{what}: hang, no result after {limit.TotalSeconds:0} s");
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>Fails when <paramref name="progress"/> stops moving for <paramref name="stall"/> while <paramref name="running"/> holds.</summary>
    public static void WatchProgress(Func<long> progress, Func<bool> running, TimeSpan stall, string what)
    {
        var last = progress();
        var since = Stopwatch.StartNew();
        while (running())
        {
            Thread.Sleep(50);
            var now = progress();
            if (now != last)
            {
                last = now;
                since.Restart();
            }
            else if (since.Elapsed > stall)
            {
                Assert.Fail($"{what}: no progress for {stall.TotalSeconds:0} s (hang)");
            }
        }
    }
}
