using System.Globalization;
using System.Text;
using EraFs.Core;

namespace EraFs.FileSystem;

/// <summary>Writes Prometheus' text exposition format (version 0.0.4): a HELP and a TYPE line per family, then its samples.</summary>
public sealed class PrometheusText
{
    private readonly StringBuilder _text = new();

    public PrometheusText Counter(string name, string help, double value, params (string Name, string Value)[] labels) =>
        Family(name, help, "counter").Sample(name, labels, value);

    public PrometheusText Gauge(string name, string help, double value, params (string Name, string Value)[] labels) =>
        Family(name, help, "gauge").Sample(name, labels, value);

    /// <summary>One family with a sample per label set (e.g. one per mirror leg).</summary>
    public PrometheusText Family(string name, string help, string type, IEnumerable<((string Name, string Value)[] Labels, double Value)> samples)
    {
        Family(name, help, type);
        foreach (var (labels, value) in samples) Sample(name, labels, value);
        return this;
    }

    public PrometheusText Histogram(string name, string help, HistogramSnapshot histogram)
    {
        Family(name, help, "histogram");
        for (var i = 0; i < histogram.UpperBoundsSeconds.Count; i++)
            Sample(name + "_bucket", [("le", Number(histogram.UpperBoundsSeconds[i]))], histogram.CumulativeCounts[i]);
        Sample(name + "_bucket", [("le", "+Inf")], histogram.Count);
        Sample(name + "_sum", [], histogram.SumSeconds);
        return Sample(name + "_count", [], histogram.Count);
    }

    /// <summary>A summary: quantiles of recent observations, and the sum and count of all of them.</summary>
    public PrometheusText Summary(string name, string help, IEnumerable<(double Quantile, double Value)> quantiles, double sum, long count)
    {
        Family(name, help, "summary");
        foreach (var (q, v) in quantiles) Sample(name, [("quantile", Number(q))], v);
        Sample(name + "_sum", [], sum);
        return Sample(name + "_count", [], count);
    }

    public override string ToString() => _text.ToString();

    private PrometheusText Family(string name, string help, string type)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    private PrometheusText Sample(string name, (string Name, string Value)[] labels, double value)
    {
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0) _text.Append(',');
                _text.Append(labels[i].Name).Append("=\"")
                    .Append(labels[i].Value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")).Append('"');
            }
            _text.Append('}');
        }
        return Append(' ', Number(value));
    }

    private PrometheusText Append(char separator, string value)
    {
        _text.Append(separator).Append(value).Append('\n');
        return this;
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);
}
