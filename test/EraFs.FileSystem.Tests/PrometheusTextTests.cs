using EraFs.Core;

namespace EraFs.FileSystem.Tests;

/// <summary>The exposition text follows Prometheus' format to the character: families, escaping, histogram series.</summary>
[TestFixture]
public class PrometheusTextTests
{
    [Test]
    public void Families_samples_labels_and_escapes()
    {
        var text = new PrometheusText()
            .Counter("erafs_x_total", "Help with a \\ and\na newline.", 3)
            .Family("erafs_leg", "Per leg.", "gauge", [([("leg", "/a \"b\"\\c")], 1.0), ([("leg", "/d")], 0.5)])
            .ToString();
        Assert.That(text, Is.EqualTo(
            "# HELP erafs_x_total Help with a \\\\ and\\na newline.\n" +
            "# TYPE erafs_x_total counter\n" +
            "erafs_x_total 3\n" +
            "# HELP erafs_leg Per leg.\n" +
            "# TYPE erafs_leg gauge\n" +
            "erafs_leg{leg=\"/a \\\"b\\\"\\\\c\"} 1\n" +
            "erafs_leg{leg=\"/d\"} 0.5\n"));
    }

    [Test]
    public void A_histogram_has_cumulative_buckets_ending_in_inf_then_sum_and_count()
    {
        var text = new PrometheusText().Histogram("erafs_h_seconds", "H.", new HistogramSnapshot([0.001, 0.01], [1, 3, 4], 4, 0.25)).ToString();
        Assert.That(text.Split('\n', StringSplitOptions.RemoveEmptyEntries)[2..], Is.EqualTo(new[]
        {
            "erafs_h_seconds_bucket{le=\"0.001\"} 1",
            "erafs_h_seconds_bucket{le=\"0.01\"} 3",
            "erafs_h_seconds_bucket{le=\"+Inf\"} 4",
            "erafs_h_seconds_sum 0.25",
            "erafs_h_seconds_count 4",
        }));
    }
}
