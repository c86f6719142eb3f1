using System.Runtime.InteropServices;

namespace EraFs.Fuse.Native;

#pragma warning disable IDE1006, CS8981 // C names on purpose: these mirror libfuse3 3.14 headers.

// test/EraFs.Fuse.Tests compiles a probe against the real libfuse3 headers and compares these.

/// <summary>struct fuse_args (fuse_opt.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_args
{
    public int argc;
    public byte** argv;
    public int allocated;
}

/// <summary>
/// struct fuse_lowlevel_ops of libfuse 3.14: 44 function pointers, all left null. libfuse only
/// makes the mount; it never dispatches a request for EraFs.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_lowlevel_ops
{
    public fixed ulong slots[44];
}
