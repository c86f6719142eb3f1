namespace EraFs.Fuse.Tests;

/// <summary>How a mount picks its transport from what was asked and the state of the enable_uring switch.</summary>
[TestFixture]
public class TransportChoiceTests
{
    [TestCase(FuseTransport.Auto, true, FuseTransport.IoUring, "auto, because")]
    [TestCase(FuseTransport.Auto, false, FuseTransport.Dev, "is off")]
    [TestCase(FuseTransport.Auto, null, FuseTransport.Dev, "absent")]
    [TestCase(FuseTransport.Dev, true, FuseTransport.Dev, "asked for")]
    [TestCase(FuseTransport.IoUring, true, FuseTransport.IoUring, "asked for")]
    public void Chooses_and_logs_why(FuseTransport asked, bool? uringSwitch, FuseTransport expected, string reason)
    {
        var log = new MemoryLog();
        Assert.That(FuseMount.ChooseTransport(asked, uringSwitch, log), Is.EqualTo(expected));
        Assert.That(log.Lines.Single(), Does.Contain(reason).And.Contain(UringParameter.Path));
    }

    [Test]
    public void Io_uring_with_the_switch_off_is_refused_with_how_to_switch_it_on()
    {
        var ex = Assert.Throws<FuseMountException>(() => FuseMount.ChooseTransport(FuseTransport.IoUring, false, new MemoryLog()));
        Assert.That(ex!.Message, Does.Contain(UringParameter.HowToEnable));
        Assert.That(ex.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void Io_uring_on_a_kernel_without_it_is_refused_saying_so()
    {
        var ex = Assert.Throws<FuseMountException>(() => FuseMount.ChooseTransport(FuseTransport.IoUring, null, new MemoryLog()));
        Assert.That(ex!.Message, Does.Contain("absent").And.Contain("6.14"));
    }

    [TestCase("0-1\n", 2)]
    [TestCase("0\n", 1)]
    [TestCase("0-3,8-11\n", 12)]
    public void Queue_count_follows_the_possible_cpus(string possible, int queues)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, possible);
            Assert.That(UringTransport.PossibleCpus(path), Is.EqualTo(queues));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
