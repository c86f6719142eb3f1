using EraFs.TestSupport;

namespace EraFs.Core.Tests;

/// <summary>The controls and upkeep the worker runs, built from their parts without the tracker façade.</summary>
public class EraControlsTests
{
    private sealed class Parts : IDisposable
    {
        public Parts()
        {
            Store = new MemoryEraStore(EraGeometry.For(16 * 4096, 4096));
            // As the open does: marks go to a fresh era, never to era 0.
            Store.Rollover();
            Commits = new GroupCommit(Store, 16, line => { lock (Log) Log.Add(line); });
            Horizon = new WriteHorizon(TimeSpan.FromHours(1));
            Controls = new EraControls(Store, Store.Geometry, Commits, Horizon, line => { lock (Log) Log.Add(line); }, recovered: false, OriginCheck.CleanShutdown);
            Controls.Publish();
            Commits.Start(Controls);
        }

        public MemoryEraStore Store { get; }
        public GroupCommit Commits { get; }
        public WriteHorizon Horizon { get; }
        public EraControls Controls { get; }
        public List<string> Log { get; } = [];

        public void Dispose() => Commits.Dispose();
    }

    [Test]
    public void A_failed_write_horizon_renewal_fails_tracking_like_a_failed_commit()
    {
        using var parts = new Parts();
        parts.Store.FailHorizon = true;
        Assert.That(parts.Horizon.AskForRenewalIfDue(), Is.True);
        parts.Commits.Wake();

        Assert.That(() => parts.Controls.Status.State, Is.EqualTo(TrackerState.Failed).After(5000, 10));
        Assert.Multiple(() =>
        {
            Assert.That(parts.Controls.Status.LastError, Does.Contain("write horizon could not be committed"));
            Assert.That(parts.Store.NeedsCheck, Is.True);
            Assert.Throws<TrackingFailedException>(() => parts.Commits.WaitForMarks(new BlockRun(0, 1)));
            var refused = Assert.Throws<ControlRejectedException>(() => parts.Controls.Checkpoint());
            Assert.That(refused!.Error, Is.EqualTo(ControlError.MetadataFailed));
        });
    }

    [Test]
    public void A_checkpoint_forgets_every_mark_and_publishes_the_new_era()
    {
        using var parts = new Parts();
        parts.Commits.WaitForMarks(new BlockRun(3, 2));
        var epoch = parts.Commits.EraEpoch;

        var era = parts.Controls.Checkpoint();

        Assert.Multiple(() =>
        {
            Assert.That(era, Is.EqualTo(2u));
            Assert.That(parts.Commits.AllDurable(new BlockRun(3, 2)), Is.False);
            Assert.That(parts.Commits.EraEpoch, Is.EqualTo(epoch + 2));
            Assert.That(parts.Controls.Status.CurrentEra, Is.EqualTo(2u));
            Assert.That(parts.Controls.Status.LastCheckpointEra, Is.EqualTo(2u));
            Assert.That(parts.Controls.Status.BlocksWrittenThisEra, Is.Zero);
            Assert.That(parts.Store.WrittenSince(1), Is.EqualTo(new ulong[] { 3, 4 }));
            Assert.That(parts.Store.WrittenSince(2), Is.Empty);
        });
    }

    [Test]
    public void After_close_marks_and_controls_are_refused_and_a_clean_shutdown_is_recorded()
    {
        using var parts = new Parts();
        parts.Controls.Close(MemoryEraStore.DefaultOriginMtime);

        Assert.Multiple(() =>
        {
            Assert.That(parts.Store.RecordedClean, Is.True);
            Assert.That(parts.Controls.Status.State, Is.EqualTo(TrackerState.Closed));
            Assert.Throws<TrackingFailedException>(() => parts.Commits.WaitForMarks(new BlockRun(0, 1)));
            Assert.Throws<ObjectDisposedException>(() => parts.Controls.Checkpoint());
        });
    }
}
