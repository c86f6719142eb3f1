using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace EraFs.Fuse;

/// <summary>
/// Page-aligned native buffers for read replies, reused so the read path allocates nothing in
/// steady state (the daemon may serve a loop device during memory reclaim).
/// </summary>
internal sealed unsafe class NativeBufferPool(int bufferSize) : IDisposable
{
    private readonly ConcurrentBag<nint> _free = [];
    private int _disposed;

    public int BufferSize { get; } = bufferSize;

    public byte* Rent() => _free.TryTake(out var p) ? (byte*)p : (byte*)NativeMemory.AlignedAlloc((nuint)BufferSize, 4096);

    public void Return(byte* buffer)
    {
        if (Volatile.Read(ref _disposed) != 0) NativeMemory.AlignedFree(buffer);
        else _free.Add((nint)buffer);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        while (_free.TryTake(out var p)) NativeMemory.AlignedFree((void*)p);
    }
}
