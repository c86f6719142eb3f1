using EraFs.Fuse;
using NUnit.Framework;

namespace EraFs.TestSupport;

/// <summary>Base of a mount fixture that runs on one FUSE transport: holds the module switch for the fixture's whole life.</summary>
public abstract class TransportFixture(FuseTransport? transport)
{
    private TransportSwitch? _switch;

    /// <summary>The transport the fixture's mounts use; auto when the fixture names none.</summary>
    protected FuseTransport Transport => transport ?? FuseTransport.Auto;

    [OneTimeSetUp]
    public void UseTransport()
    {
        if (transport is { } t) _switch = TransportSwitch.Use(t);
    }

    [OneTimeTearDown]
    public void RestoreSwitch() => _switch?.Dispose();
}
