using EraFs.Core;
using EraFs.TestSupport;

namespace EraFs.Metadata.Tests;

/// <summary>The file device, the fault-injecting device, and damaged metadata that must be refused by name.</summary>
public class DeviceTests
{
    [Test]
    public void MetadataFileWritesReadsAndSyncs()
    {
        var path = Path.Combine(Path.GetTempPath(), $"erafs-dev-{Guid.NewGuid():N}.bin");
        try
        {
            using (var device = MetadataFile.Open(path, writable: true, create: true))
            {
                device.Write(8192, [1, 2, 3]);
                device.Flush();
                Assert.That(device.Length, Is.EqualTo(8195));
                var buffer = new byte[8];
                Assert.That(device.Read(8192, buffer), Is.EqualTo(3));
                Assert.That(buffer[..3], Is.EqualTo(new byte[] { 1, 2, 3 }));
                device.SetLength(4096);
                Assert.That(device.Length, Is.EqualTo(4096));
            }
            using var readOnly = MetadataFile.Open(path, writable: false);
            Assert.Throws<UnauthorizedAccessException>(() => readOnly.Write(0, [1]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void OpeningAMissingFileNamesIt()
    {
        var e = Assert.Throws<MetadataException>(() => MetadataStore.Open("/nonexistent/meta.bin"));
        Assert.That(e!.Message, Does.StartWith("/nonexistent/meta.bin: cannot open metadata"));
    }

    [Test]
    public void FaultyDeviceKeepsFlushedWritesAndMixesPendingOnes()
    {
        var device = new FaultyDevice { Seed = 5, CrashAtFlush = 2 };
        device.Write(0, new byte[4096].Select(_ => (byte)1).ToArray());
        device.Flush();
        device.Write(0, new byte[64 * 512].Select(_ => (byte)2).ToArray());
        Assert.Throws<PowerLossException>(device.Flush);
        Assert.Throws<PowerLossException>(() => device.Read(0, new byte[1]));
        var after = device.Recover().Snapshot();
        var sectors = Enumerable.Range(0, 64).Select(s => after.AsSpan(s * 512, 512).ToArray()).ToList();
        var persisted = sectors.Count(s => s.All(b => b == 2));
        var dropped = sectors.Count(s => s.All(b => b is 0 or 1));
        Assert.That(persisted, Is.GreaterThan(0));
        Assert.That(dropped, Is.GreaterThan(0));
        Assert.That(64 - persisted - dropped, Is.GreaterThan(0), "garbage sectors");
        Assert.That(sectors.Take(8).Where(s => s.All(b => b is 0 or 1)).All(s => s.All(b => b == 1)), Is.True,
            "a dropped sector keeps its flushed contents");
    }

    [Test]
    public void FaultyDeviceTearsAWriteAtChosenSectors()
    {
        var device = new FaultyDevice { TearAtWrite = (2, 0b101) };
        device.Write(0, new byte[512]);
        Assert.Throws<PowerLossException>(() => device.Write(0, new byte[4 * 512].Select(_ => (byte)9).ToArray()));
        var after = device.Recover().Snapshot();
        // The dropped last sector never extended the file.
        Assert.That(after, Has.Length.EqualTo(3 * 512));
        Assert.That(after[0], Is.EqualTo(9));
        Assert.That(after[512], Is.Zero);
        Assert.That(after[1024], Is.EqualTo(9));
    }

    [Test]
    public void FaultyDeviceFailsOperationsTransientlyOrPersistently()
    {
        var transient = new FaultyDevice { FailAtOperation = 2, FailKind = FaultKind.Enospc };
        transient.Write(0, [1]);
        var e = Assert.Throws<IOException>(() => transient.Write(1, [2]));
        Assert.That(e!.Message, Is.EqualTo("No space left on device"));
        transient.Write(1, [3]);
        transient.Flush();

        var persistent = new FaultyDevice { FailAtOperation = 1, FailPersistently = true };
        Assert.Throws<IOException>(() => persistent.Write(0, [1]));
        Assert.Throws<IOException>(persistent.Flush);
    }

    [Test]
    public void RandomlyDamagedMetadataOpensOrIsRefusedNeverCrashes()
    {
        var (device, store) = StoreFixtures.NewStore();
        store.Rollover();
        store.CommitMarks(StoreFixtures.Runs((10, 100), (50_000, 7)).ToArray());
        store.TakeSnapshot();
        store.CommitMarks(StoreFixtures.Runs((20, 5)).ToArray());
        store.DigestStep();
        var image = device.Snapshot();
        var random = new Random(7);
        int opened = 0, refused = 0;
        for (var i = 0; i < 400; i++)
        {
            var mutant = image.ToArray();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                mutant[random.Next(mutant.Length)] ^= (byte)(1 << random.Next(8));
            try
            {
                using var reader = new MetadataReader(new FaultyDevice("meta.bin", mutant));
                _ = reader.WrittenSince(0).Count() + reader.EraArrayRuns().Count() + reader.WrittenSince(1, useSnapshot: true).Count();
                using var reopened = MetadataStore.Open(new FaultyDevice("meta.bin", mutant));
                opened++;
            }
            catch (MetadataException e)
            {
                Assert.That(e.Message, Does.StartWith("meta.bin: "));
                refused++;
            }
        }
        TestContext.Out.WriteLine($"metadata-mutants: {opened} opened, {refused} refused, 0 crashed");
        Assert.That(opened + refused, Is.EqualTo(400));
    }
}
