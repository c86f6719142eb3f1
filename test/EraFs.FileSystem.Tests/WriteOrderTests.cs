namespace EraFs.FileSystem.Tests;

/// <summary>WriteOrder holds back exactly the ranges that overlap one in flight.</summary>
[TestFixture]
public class WriteOrderTests
{
    [Test]
    public void An_overlapping_range_waits_for_the_one_in_flight_and_a_disjoint_one_does_not()
    {
        var order = new WriteOrder();
        var first = order.Enter(4096, 4096);
        var overlapping = Task.Run(() => { using (order.Enter(8191, 10)) { } });
        var disjoint = Task.Run(() => { using (order.Enter(8192, 4096)) { } });
        Assert.That(disjoint.Wait(TimeSpan.FromSeconds(10)), Is.True, "a range that only touches the end goes at once");
        Assert.That(overlapping.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "an overlapping range waits");
        first.Dispose();
        Assert.That(overlapping.Wait(TimeSpan.FromSeconds(10)), Is.True, "it goes once the first range ends");
    }
}
