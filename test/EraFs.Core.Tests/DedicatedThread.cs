namespace EraFs.Core.Tests;

/// <summary>Starts work on its own thread, so tests that block many writers do not wait for the thread pool to grow.</summary>
internal static class DedicatedThread
{
    public static Task Run(Action action) =>
        Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public static Task<T> Run<T>(Func<T> function) =>
        Task.Factory.StartNew(function, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
