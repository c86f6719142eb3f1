using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>A 64 MiB origin, its metadata path and a mount point per test; whatever a test left mounted is removed.</summary>
public abstract class TrackedMountFixture(FuseTransport? transport = null) : TransportFixture(transport)
{
    /// <summary><c>--transport</c> and its value when the fixture runs on one transport; nothing (auto) otherwise.</summary>
    protected string[] TransportArguments => Transport == FuseTransport.Auto ? [] : ["--transport", TransportSwitch.CliName(Transport)];

    protected TestDirectory Dir = null!;
    protected string Image = null!;
    protected string Meta = null!;
    protected string Mnt = null!;

    [SetUp]
    public void CreateFiles()
    {
        HostTools.RequireFuse();
        Dir = new TestDirectory(GetType().Name.ToLowerInvariant());
        Image = Dir.SparseFile("origin.img", 64L << 20);
        Meta = Dir.File("origin.era");
        Mnt = Dir.Subdirectory("mnt");
    }

    [TearDown]
    public void RemoveFiles()
    {
        Erafs.ForceCleanup(Mnt);
        Dir.Dispose();
    }

    /// <summary>Mounts Image with era tracking in Meta (created on first use), in the background.</summary>
    protected void Mount() =>
        Erafs.Run(["mount", "--origin", Image, "--metadata", Meta, "--create", "--log-file", Dir.File("daemon.log"), .. TransportArguments, Mnt]).Ok();

    protected string Control(string name) => File.ReadAllText(Path.Combine(Mnt, name));
}
