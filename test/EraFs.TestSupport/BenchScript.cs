using System.Diagnostics;
using NUnit.Framework;

namespace EraFs.TestSupport;

/// <summary>Runs a script under bench/ the way a user does, with the erafs the tests built, and keeps its output.</summary>
public static class BenchScript
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs bench/<paramref name="script"/> with WORK and ERAFS_BIN set; fails the test if it does not end in time.</summary>
    public static Outcome Run(string script, string work, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(Repository.Root(), "bench", script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The erafs the test project built, so the script needs no second build.
        psi.Environment["ERAFS_BIN"] = Path.Combine(TestContext.CurrentContext.TestDirectory, "erafs");
        psi.Environment["WORK"] = work;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(15)), Is.True, $"bench/{script} finished");
        var output = stdout.Result + stderr.Result;
        TestContext.Out.WriteLine(output[Math.Max(0, output.Length - 4000)..]);
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result);
    }
}
