namespace EraFs.Core.Tests;

/// <summary>How the open classifies writes to the origin that bypassed tracking, as a table.</summary>
public class OriginCheckTests
{
    private static readonly DateTime Recorded = new(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    [TestCase(true, 0, null, null, OriginCheck.CleanShutdown)]
    [TestCase(true, 1, null, null, OriginCheck.ChangedWhileUnmounted)]
    [TestCase(false, 0, null, null, OriginCheck.UncleanWithoutHorizon)]
    [TestCase(false, 0, 10, null, OriginCheck.UncleanShutdown)]
    [TestCase(false, 200_000_000, 10, null, OriginCheck.ChangedAfterCrash)]
    [TestCase(false, 0, 10, 20, OriginCheck.ChangedAfterCrash)]
    [TestCase(false, 0, 10, 5, OriginCheck.UncleanShutdown)]
    public void Classifies_the_origin_against_what_the_last_mount_recorded(
        bool wasClean, int mtimeTicksLater, int? horizonSecondsLater, int? ctimeSecondsLater, OriginCheck expected)
    {
        var state = new StoreOpenState(wasClean, Recorded, false, null, horizonSecondsLater is { } h ? Recorded.AddSeconds(h) : null);
        var options = new EraTrackerOptions
        {
            OriginSize = 4096,
            OriginMtimeUtc = Recorded.AddTicks(mtimeTicksLater),
            OriginChangedUtc = ctimeSecondsLater is { } c ? Recorded.AddSeconds(c) : null,
        };
        Assert.That(OpenSequence.CheckOrigin(state, options), Is.EqualTo(expected));
    }
}
