using System.Diagnostics;
using NUnit.Framework;

namespace EraFs.TestSupport;

/// <summary>Runs real host tools (losetup, mkfs, fio, era_*) for tests, and skips tests whose needs this host cannot meet.</summary>
public static class HostTools
{
    /// <summary>Skips (like libfuse's exit 77) unless we are root with /dev/fuse, which mount tests need.</summary>
    public static void RequireFuse()
    {
        if (Mono.Unix.Native.Syscall.geteuid() != 0) Assert.Ignore("mount tests need root");
        if (!System.IO.File.Exists("/dev/fuse") && !Directory.Exists("/dev/fuse") && !IsCharDevice("/dev/fuse"))
            Assert.Ignore("/dev/fuse is missing");
    }

    /// <summary>Skips unless <paramref name="tool"/> is on PATH.</summary>
    public static void Require(string tool)
    {
        if (Which(tool) is null) Assert.Ignore($"{tool} is not installed");
    }

    public static string? Which(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Concat(["/usr/sbin", "/sbin"]))
        {
            var p = Path.Combine(dir, tool);
            if (System.IO.File.Exists(p)) return p;
        }
        return null;
    }

    private static bool IsCharDevice(string path) =>
        Mono.Unix.Native.Syscall.stat(path, out var st) == 0 &&
        (st.st_mode & Mono.Unix.Native.FilePermissions.S_IFMT) == Mono.Unix.Native.FilePermissions.S_IFCHR;

    /// <summary>Result of one finished process.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public Result Ok()
        {
            Assert.That(ExitCode, Is.Zero, $"command failed ({ExitCode}): {Stderr}{Stdout}");
            return this;
        }
    }

    /// <summary>Runs a program to completion (bounded by <paramref name="timeout"/>) and captures its output.</summary>
    public static Result Run(string program, IEnumerable<string> args, TimeSpan? timeout = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo(Which(program) ?? program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish in time");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(string program, params string[] args) => Run(program, (IEnumerable<string>)args);
}
