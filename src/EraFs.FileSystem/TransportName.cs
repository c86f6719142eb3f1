using EraFs.Fuse;

namespace EraFs.FileSystem;

/// <summary>
/// The spelling of a <see cref="FuseTransport"/> on the command line, in <c>info</c> and in metrics:
/// the kernel's own words (io_uring, /dev/fuse), so one name holds from flag to scrape.
/// </summary>
public static class TransportName
{
    /// <summary>The names a user may give, for messages that list them.</summary>
    public const string Choices = "auto, io_uring or dev";

    /// <summary>auto, io_uring or dev.</summary>
    public static string Of(FuseTransport transport) => transport switch
    {
        FuseTransport.Auto => "auto",
        FuseTransport.IoUring => "io_uring",
        FuseTransport.Dev => "dev",
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "not a transport"),
    };

    /// <summary>The transport a name stands for; case matters, as it does for every other flag value.</summary>
    public static bool TryParse(string name, out FuseTransport transport)
    {
        foreach (var t in Enum.GetValues<FuseTransport>())
        {
            if (Of(t) != name) continue;
            transport = t;
            return true;
        }
        transport = FuseTransport.Auto;
        return false;
    }
}
