using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>View files: present with their source's bytes and size, absent while the source has none.</summary>
[TestFixture]
[Category("Mount")]
public class ViewFileTests
{
    [Test]
    public void View_appears_and_disappears_with_its_source_and_reads_its_bytes()
    {
        HostTools.RequireFuse();
        using var dir = new TestDirectory("view");
        byte[]? bytes = null;
        var view = new ViewFile("metadata", () => bytes is null ? null : new ByteViewContent(bytes));
        using var m = new DeviceMount(dir, 1 << 20, views: [view]);
        var path = Path.Combine(m.MountPoint, "metadata");

        Assert.That(File.Exists(path), Is.False);
        Assert.Throws<FileNotFoundException>(() => File.ReadAllBytes(path));

        bytes = new byte[20_000];
        new Random(5).NextBytes(bytes);
        // The kernel may cache the negative lookup for up to the attribute timeout.
        Assert.That(SpinWait.SpinUntil(() => File.Exists(path), TimeSpan.FromSeconds(3)), Is.True);
        Assert.That(new FileInfo(path).Length, Is.EqualTo(20_000));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(bytes));
        Assert.Throws<UnauthorizedAccessException>(() => File.OpenWrite(path).Dispose());

        bytes = null;
        Assert.That(SpinWait.SpinUntil(() => !File.Exists(path), TimeSpan.FromSeconds(3)), Is.True);
    }
}
