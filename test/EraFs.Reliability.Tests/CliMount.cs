using System.Diagnostics;
using System.Text.Json;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>
/// A real <c>erafs mount</c> daemon over an image, with the loop devices and fio runs a scenario starts; Dispose
/// cleans up in libfuse's order (losetup -d, lazy unmount, then kill -9 of our own daemon) even after a failure.
/// </summary>
internal sealed class CliMount : IDisposable
{
    public const int BlockSize = 64 * 1024;
    private readonly List<LoopDevice> _loops = [];
    private readonly List<Process> _fios = [];
    private readonly List<int> _daemons = [];
    private readonly string[] _transportArguments;

    public CliMount(TestDirectory dir, long imageSize, FuseTransport? transport = null)
    {
        _transportArguments = transport is { } t ? ["--transport", TransportSwitch.CliName(t)] : [];
        Dir = dir;
        Image = dir.SparseFile("origin.img", imageSize);
        Meta = dir.File("origin.era");
        MountPoint = dir.Subdirectory("mnt");
        DaemonLog = dir.File("daemon.log");
    }

    public TestDirectory Dir { get; }
    public string Image { get; }
    public string Meta { get; }
    public string MountPoint { get; }
    public string DaemonLog { get; }
    public string Device => Path.Combine(MountPoint, "device");
    public int Pid { get; private set; }

    public void Mount(params string[] extra)
    {
        ErafsCli.Run(["mount", "--origin", Image, "--metadata", Meta, "--create", "--log-file", DaemonLog, .. _transportArguments, .. extra, MountPoint]).Ok();
        Pid = int.Parse(Control("info").Split('\n').First(l => l.StartsWith("pid: ", StringComparison.Ordinal))[5..]);
        _daemons.Add(Pid);
    }

    public string Control(string name) => File.ReadAllText(Path.Combine(MountPoint, name));

    public uint Era => uint.Parse(Control("status").Split(' ')[2]);

    /// <summary>O1 step 1: checkpoint, flush the image through EraFs, and keep a copy of it as snap_E.</summary>
    public (uint Era, string Snapshot) CheckpointAndSnapshot()
    {
        File.AppendAllText(Path.Combine(MountPoint, "checkpoint"), "1\n");
        var era = uint.Parse(Control("checkpoint").Trim());
        using (var handle = File.OpenHandle(Device, FileMode.Open, FileAccess.ReadWrite)) RandomAccess.FlushToDisk(handle);
        var snapshot = Dir.File($"snap-{era}.img");
        File.Copy(Image, snapshot, overwrite: true);
        return (era, snapshot);
    }

    public LoopDevice AttachLoop()
    {
        var loop = LoopDevice.Attach(Device);
        _loops.Add(loop);
        return loop;
    }

    public void Detach(LoopDevice loop)
    {
        loop.Dispose();
        _loops.Remove(loop);
    }

    public Process StartFio(string target, int seconds, int seed)
    {
        var psi = new ProcessStartInfo("fio",
            $"--name=load --filename={target} --ioengine=libaio --iodepth=32 --direct=1 --rw=randwrite --bsrange=512-128k " +
            $"--time_based --runtime={seconds} --randseed={seed} --output=/dev/null")
        { RedirectStandardOutput = true, RedirectStandardError = true };
        var fio = Process.Start(psi)!;
        _fios.Add(fio);
        return fio;
    }

    public static bool Alive(int pid) =>
        Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    public bool WaitForExit(int pid, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (Alive(pid) && DateTime.UtcNow < until) Thread.Sleep(20);
        return !Alive(pid);
    }

    /// <summary>O1 step 3: the blocks changed since the snapshot must all be listed as written since its era.</summary>
    public void CheckChangedBlocks(ScenarioReport report, uint era, string snapshot, string where)
    {
        var listed = WrittenSince(era);
        var changed = ChangedBlocks(snapshot, Image);
        var lost = changed.Count(b => !listed.Contains(b));
        var nrBlocks = new FileInfo(Image).Length / BlockSize;
        report.Observe(lost, listed.Count(b => !changed.Contains(b)), nrBlocks, where);
        report.Count("blocks changed", changed.Count);
        if (File.Exists(DaemonLog) && File.ReadAllText(DaemonLog).Contains("write order broken", StringComparison.Ordinal))
            report.Fail("write-order violations in the daemon log", where);
        File.Delete(snapshot);
    }

    public HashSet<ulong> WrittenSince(uint era)
    {
        var json = ErafsCli.Run("invalidate", "--written-since", era.ToString(), "--format", "json", Meta).Ok().Stdout;
        var set = new HashSet<ulong>();
        using var doc = JsonDocument.Parse(json);
        foreach (var range in doc.RootElement.GetProperty("ranges").EnumerateArray())
            for (var b = range[0].GetUInt64(); b < range[1].GetUInt64(); b++) set.Add(b);
        return set;
    }

    private static HashSet<ulong> ChangedBlocks(string before, string after)
    {
        var changed = new HashSet<ulong>();
        using var a = File.OpenRead(before);
        using var b = File.OpenRead(after);
        var ba = new byte[BlockSize];
        var bb = new byte[BlockSize];
        for (ulong block = 0; ; block++)
        {
            var na = a.ReadAtLeast(ba, BlockSize, throwOnEndOfStream: false);
            var nb = b.ReadAtLeast(bb, BlockSize, throwOnEndOfStream: false);
            if (na == 0 && nb == 0) return changed;
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb))) changed.Add(block);
        }
    }

    /// <summary>After a kill: stop the load, detach, and remove the dead mount.</summary>
    public void CleanUpAfterCrash(TimeSpan timeout)
    {
        foreach (var fio in _fios)
        {
            if (!fio.WaitForExit(timeout)) fio.Kill();
        }
        _fios.Clear();
        foreach (var loop in _loops.ToList()) Detach(loop);
        if (MountPointCheck.IsMountPoint(Path.GetFullPath(MountPoint))) MountPointCheck.Unmount(Path.GetFullPath(MountPoint), lazy: true);
    }

    public void Dispose()
    {
        foreach (var fio in _fios.Where(f => !f.HasExited)) fio.Kill();
        foreach (var loop in _loops) loop.Dispose();
        if (MountPointCheck.IsMountPoint(Path.GetFullPath(MountPoint))) MountPointCheck.Unmount(Path.GetFullPath(MountPoint), lazy: true);
        foreach (var pid in _daemons.Where(Alive)) Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGKILL);
    }
}
