using EraFs.TestSupport;

namespace EraFs.Core.Tests;

public class WriteHorizonTests
{
    private static MemoryEraStore Store() => new(EraGeometry.For(16 * 4096, 4096));

    [Test]
    public void A_due_renewal_is_asked_for_once_and_a_renewal_arms_the_next_one_far_ahead()
    {
        var store = Store();
        var horizon = new WriteHorizon(TimeSpan.FromHours(1));
        Assert.Multiple(() =>
        {
            Assert.That(horizon.AskForRenewalIfDue(), Is.True, "never armed: due at once");
            Assert.That(horizon.AskForRenewalIfDue(), Is.False, "already asked for");
            Assert.That(horizon.RenewalWanted, Is.True);
        });

        horizon.Renew(store);

        Assert.Multiple(() =>
        {
            Assert.That(store.WriteHorizon, Is.Not.Null);
            Assert.That(horizon.RenewalWanted, Is.False);
            Assert.That(horizon.AskForRenewalIfDue(), Is.False, "the next renewal is half an hour away");
        });
    }

    [Test]
    public void A_failed_renewal_throws_answers_the_request_and_leaves_the_renewal_due()
    {
        var store = Store();
        store.FailHorizon = true;
        var horizon = new WriteHorizon(TimeSpan.FromHours(1));
        Assert.That(horizon.AskForRenewalIfDue(), Is.True);

        Assert.Throws<IOException>(() => horizon.Renew(store));

        Assert.Multiple(() =>
        {
            Assert.That(store.WriteHorizon, Is.Null);
            Assert.That(horizon.RenewalWanted, Is.False);
            Assert.That(horizon.AskForRenewalIfDue(), Is.True, "still due: the failed attempt armed nothing");
        });
    }
}
