using System.Security.Cryptography;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>Runs the real erafs CLI built next to the tests, and hashes files for oracle O6.</summary>
internal static class ErafsCli
{
    public static string Dll => Path.Combine(TestContext.CurrentContext.TestDirectory, "erafs.dll");

    public static HostTools.Result Run(params string[] args) =>
        HostTools.Run("dotnet", new[] { Dll }.Concat(args), TimeSpan.FromMinutes(2));

    public static string Sha256(string path) =>
        File.Exists(path) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "absent";

    /// <summary>O6 for a refused command: a non-zero exit, one <c>erafs:</c> error line, no unhandled exception, and the files unchanged.</summary>
    public static void ExpectRefusal(ScenarioReport report, string where, string[] args, params string[] untouched)
    {
        var before = untouched.Select(Sha256).ToArray();
        var r = Run(args);
        report.Try();
        if (r.ExitCode == 0) report.Fail("silent acceptances", $"{where}: exit 0: {r.Stdout}");
        else if (r.Stderr.Contains("Unhandled exception", StringComparison.Ordinal) || !r.Stderr.StartsWith("erafs", StringComparison.Ordinal))
            report.Fail("crashes or unnamed errors", $"{where}: exit {r.ExitCode}: {r.Stderr}");
        else report.Count("refused by name");
        if (!before.SequenceEqual(untouched.Select(Sha256))) report.Fail("state changes after rejected input", where);
    }
}
