namespace EraFs.TestSupport;

/// <summary>A loop device attached with losetup -f --show, detached on dispose.</summary>
public sealed class LoopDevice : IDisposable
{
    private LoopDevice(string path) => Path = path;

    /// <summary>/dev/loopN.</summary>
    public string Path { get; }

    public static LoopDevice Attach(string file, bool directIo = false)
    {
        HostTools.Require("losetup");
        var args = new List<string> { "-f", "--show" };
        if (directIo) args.Add("--direct-io=on");
        args.Add(file);
        var r = HostTools.Run("losetup", args).Ok();
        return new LoopDevice(r.Stdout.Trim());
    }

    public void Dispose()
    {
        // udev or a just-unmounted file system may hold the device for a moment.
        for (var i = 0; i < 50; i++)
        {
            if (HostTools.Run("losetup", "-d", Path).ExitCode == 0) return;
            Thread.Sleep(100);
        }
    }
}
