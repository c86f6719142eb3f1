namespace EraFs.Fuse;

/// <summary>
/// The fuse module's <c>enable_uring</c> switch. EraFs reads it to choose a transport and never
/// writes it: switching a machine-wide setting is the administrator's call.
/// </summary>
public static class UringParameter
{
    /// <summary>Where the kernel exposes the switch (absent on kernels without FUSE over io_uring).</summary>
    public const string Path = "/sys/module/fuse/parameters/enable_uring";

    /// <summary>The command that switches it on, for messages that tell the user how.</summary>
    public const string HowToEnable = "echo Y > " + Path;

    /// <summary>True when on, false when off, null when this kernel has no FUSE over io_uring.</summary>
    public static bool? Read(string path = Path)
    {
        try
        {
            var value = File.ReadAllText(path).Trim();
            return value is "Y" or "y" or "1";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
