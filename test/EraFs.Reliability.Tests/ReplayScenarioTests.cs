using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>S5: the dm-log-writes analogue; every metadata flush of a workload is a possible crash state, each checked with O2 and O5.</summary>
[TestFixture]
[Category("Reliability")]
public class ReplayScenarioTests
{
    [Test]
    public void S5_replay_to_every_flush_point_and_subsets_of_the_writes_after_it()
    {
        var report = new ScenarioReport("S5 replay to every flush");
        const ulong nrBlocks = 256;
        var fresh = TrackedStack.FreshMetadata(nrBlocks);
        var recorder = new RecordingDevice("meta.bin", fresh);
        var ops = Op.Random(77, Scale.Pick(300, 3000), nrBlocks);
        var random = new Random(77);
        var writes = new List<(IssuedWrite Write, int Flushes)>();
        var eras = new List<(uint Era, int Flushes)>();
        uint openEra;
        using (var stack = TrackedStack.Open(recorder, new VolatileOrigin((long)nrBlocks * TrackedStack.BlockSize)))
        {
            openEra = stack.OpenEra;
            eras.Add((openEra, recorder.Flushes));
            foreach (var op in ops)
            {
                Op.Run(stack, [op], random, () => false);
                // Whatever this op made durable is durable by the flush count seen now.
                if (op is Op.Write) writes.Add((stack.Writes[^1], recorder.Flushes));
                else eras.Add((stack.AcknowledgedEra, recorder.Flushes));
            }
            stack.Close();
        }
        var flushes = recorder.Flushes;
        var subsets = Scale.Pick(8, 32);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var f = 0; f <= flushes; f++)
            {
                var required = writes.Where(w => w.Flushes <= f).Select(w => w.Write).ToList();
                var acknowledged = eras.Where(e => e.Flushes <= f).Select(e => e.Era).DefaultIfEmpty(0u).Max();
                var run = new CrashRun(required, openEra, acknowledged, nrBlocks);
                for (var s = 0; s <= subsets; s++)
                {
                    var pick = new Random(f * 1000 + s);
                    var image = recorder.ReplayTo(f, _ => s > 0 && pick.Next(2) == 0);
                    report.Try();
                    CrashOracle.Check(new FaultyDevice("meta.bin", image), run, report, $"flush {f} subset {s}");
                }
            }
        });
        report.Count("flush points", flushes + 1);
        report.Finish();
    }
}
