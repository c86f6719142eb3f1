using dotnet_etcd;
using EraFs.TestSupport;

namespace EraFs.RegionLog.Cluster.Tests;

/// <summary>The test cluster itself: three real members elect a leader and serve a put and a get, with one member down too.</summary>
[TestFixture]
public class EtcdClusterTests
{
    [Test]
    public void Three_members_elect_a_leader_and_serve_a_put_and_a_get_even_with_one_member_killed()
    {
        using var cluster = EtcdCluster.Start();
        using var client = new EtcdClient(cluster.Endpoints);
        var deadline = () => DateTime.UtcNow.AddSeconds(5);
        var status = client.Status(new Etcdserverpb.StatusRequest(), deadline: deadline());
        Assert.That(status.Leader, Is.Not.Zero, "a leader was elected");

        client.Put("/smoke/a", "one", deadline: deadline());
        Assert.That(client.GetVal("/smoke/a", deadline: deadline()), Is.EqualTo("one"));

        cluster.Kill(0);
        cluster.WaitHealthy(1);
        // The client may still pick the dead member's endpoint first; a bounded retry shows the quorum serves.
        string? got = null;
        for (var attempt = 0; attempt < 20 && got is null; attempt++)
        {
            try
            {
                client.Put("/smoke/b", "two", deadline: deadline());
                got = client.GetVal("/smoke/b", deadline: deadline());
            }
            catch (Grpc.Core.RpcException)
            {
                Thread.Sleep(250);
            }
        }
        Assert.That(got, Is.EqualTo("two"), "two of three members keep quorum");
    }
}
