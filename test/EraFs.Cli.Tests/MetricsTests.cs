using System.Text.Json;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>MOUNT/metrics is Prometheus text that Prometheus' own Python parser reads, and its counters move with the I/O.</summary>
[TestFixture]
[Category("Mount")]
public class MetricsTests : TrackedMountFixture
{
    [Test]
    public void Metrics_parse_with_a_real_parser_and_the_write_counter_moves_after_a_write()
    {
        PrometheusParser.Require();
        var leg = Dir.SparseFile("leg.img", 64L << 20);
        Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--create", "--mirror", leg, "--log", "core",
            "--log-file", Dir.File("daemon.log"), Mnt).Ok();

        var before = Parse();
        Assert.That(before["erafs_device_writes"]["type"].GetString(), Is.EqualTo("counter"));
        Assert.That(before["erafs_era_commit_latency_seconds"]["type"].GetString(), Is.EqualTo("histogram"));
        foreach (var family in new[] { "erafs_era_current", "erafs_metadata_used_blocks", "erafs_metadata_total_blocks", "erafs_metadata_snapshot_held",
                     "erafs_region_dirty_regions", "erafs_region_out_of_sync_regions", "erafs_resync_copied_bytes", "erafs_mirror_leg_healthy", "erafs_era_marks" })
            Assert.That(before.ContainsKey(family), Is.True, $"family {family}");
        Assert.That(Sample(before, "erafs_mirror_leg_healthy", ("leg", leg)), Is.EqualTo(1));

        HostTools.Run("dd", "if=/dev/urandom", $"of={Path.Combine(Mnt, "device")}", "bs=64k", "count=3", "seek=10",
            "oflag=direct", "conv=notrunc", "status=none").Ok();
        File.AppendAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
        var after = Parse();

        Assert.That(Sample(after, "erafs_device_writes_total") - Sample(before, "erafs_device_writes_total"), Is.GreaterThanOrEqualTo(1));
        Assert.That(Sample(after, "erafs_device_written_bytes_total") - Sample(before, "erafs_device_written_bytes_total"), Is.EqualTo(3 * 65536));
        Assert.That(Sample(after, "erafs_era_marks_total") - Sample(before, "erafs_era_marks_total"), Is.EqualTo(3), "three first writes");
        Assert.That(Sample(after, "erafs_era_commit_latency_seconds_count"), Is.GreaterThan(Sample(before, "erafs_era_commit_latency_seconds_count")));
        Assert.That(Sample(after, "erafs_era_commit_latency_seconds_bucket", ("le", "+Inf")), Is.EqualTo(Sample(after, "erafs_era_commit_latency_seconds_count")));
        Assert.That(Sample(after, "erafs_era_current"), Is.EqualTo(Sample(before, "erafs_era_current") + 1));
        Assert.That(Sample(after, "erafs_control_writes_total", ("file", "checkpoint"), ("result", "accepted")), Is.EqualTo(1));
        Erafs.Run("unmount", Mnt).Ok();
    }

    private Dictionary<string, Dictionary<string, JsonElement>> Parse() => PrometheusParser.Parse(Control("metrics"));

    private static double Sample(Dictionary<string, Dictionary<string, JsonElement>> families, string sample, params (string Name, string Value)[] labels) =>
        PrometheusParser.Sample(families, sample, labels);
}

/// <summary>Prometheus' own Python parser (Debian's python3-prometheus-client) reading a metrics text, as JSON.</summary>
internal static class PrometheusParser
{
    // Debian's python3-prometheus-client (installed by scripts/deps.sh) lives beside Debian's python3.
    private const string Python = "/usr/bin/python3";

    private const string ParserScript = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for f in text_string_to_metric_families(sys.stdin.read()):
            out[f.name] = {"type": f.type, "help": f.documentation,
                           "samples": [[s.name, s.labels, s.value] for s in f.samples]}
        print(json.dumps(out))
        """;

    public static void Require()
    {
        if (HostTools.Run(Python, "-c", "import prometheus_client.parser").ExitCode != 0)
            Assert.Ignore("python3-prometheus-client is not installed (scripts/deps.sh installs it)");
    }

    /// <summary>Families by name; the parser fails the test on text it cannot read.</summary>
    public static Dictionary<string, Dictionary<string, JsonElement>> Parse(string text)
    {
        var r = HostTools.Run(Python, ["-c", ParserScript], stdin: text).Ok();
        return JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, JsonElement>>>(r.Stdout)!;
    }

    public static double Sample(Dictionary<string, Dictionary<string, JsonElement>> families, string sample, params (string Name, string Value)[] labels)
    {
        var matches = families.Values.SelectMany(f => f["samples"].EnumerateArray())
            .Where(s => s[0].GetString() == sample && labels.All(l => s[1].TryGetProperty(l.Name, out var v) && v.GetString() == l.Value))
            .Select(s => s[2].GetDouble()).ToList();
        Assert.That(matches, Has.Count.EqualTo(1), $"one sample {sample} {string.Join(",", labels)}");
        return matches[0];
    }
}
