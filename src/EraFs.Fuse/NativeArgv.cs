using System.Runtime.InteropServices;

namespace EraFs.Fuse;

/// <summary>A NULL-terminated argv of UTF-8 strings in native memory, freed on dispose.</summary>
internal sealed unsafe class NativeArgv : IDisposable
{
    public byte*[] Pointers { get; }

    public NativeArgv(IReadOnlyList<string> args)
    {
        Pointers = new byte*[args.Count + 1];
        for (var i = 0; i < args.Count; i++)
            Pointers[i] = (byte*)Marshal.StringToCoTaskMemUTF8(args[i]);
    }

    public void Dispose()
    {
        for (var i = 0; i < Pointers.Length; i++)
        {
            if (Pointers[i] != null) Marshal.FreeCoTaskMem((nint)Pointers[i]);
            Pointers[i] = null;
        }
    }
}
