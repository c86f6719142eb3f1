using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>A scenario fixture on a real <c>erafs mount</c>: needs FUSE, losetup and fio; cleans up whatever a scenario left.</summary>
public abstract class CliMountFixture(FuseTransport? transport = null) : TransportFixture(transport)
{
    private protected TestDirectory Dir = null!;
    private protected CliMount Daemon = null!;

    /// <summary>Size of the scenario's sparse origin image.</summary>
    protected abstract long ImageSize { get; }

    [SetUp]
    public void CreateMount()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        HostTools.Require("fio");
        Dir = new TestDirectory("reliability");
        Daemon = new CliMount(Dir, ImageSize, Transport);
    }

    [TearDown]
    public void RemoveMount()
    {
        Daemon.Dispose();
        Dir.Dispose();
    }
}
