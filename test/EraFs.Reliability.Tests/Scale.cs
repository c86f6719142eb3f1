namespace EraFs.Reliability.Tests;

/// <summary>CI or soak size: ERAFS_SOAK=1 switches every scenario to its soak counts.</summary>
internal static class Scale
{
    public static bool Soak { get; } = Environment.GetEnvironmentVariable("ERAFS_SOAK") == "1";

    /// <summary>The CI count, or the soak count under ERAFS_SOAK=1; ERAFS_SOAK_FACTOR scales soak counts down to fit a time box.</summary>
    public static int Pick(int ci, int soak)
    {
        if (!Soak) return ci;
        var factor = double.TryParse(Environment.GetEnvironmentVariable("ERAFS_SOAK_FACTOR"),
            System.Globalization.CultureInfo.InvariantCulture, out var f) ? f : 1.0;
        return Math.Max(ci, (int)(soak * factor));
    }

    /// <summary>How long a scenario may run before its watchdog calls it hung.</summary>
    public static TimeSpan Watchdog => Soak ? TimeSpan.FromMinutes(20) : TimeSpan.FromSeconds(120);
}
