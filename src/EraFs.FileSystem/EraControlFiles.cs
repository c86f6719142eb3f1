using System.Globalization;
using System.Text;
using EraFs.Core;
using EraFs.Fuse;

namespace EraFs.FileSystem;

/// <summary>
/// The control surface of a tracked mount (status, info, checkpoint, take_metadata_snap,
/// drop_metadata_snap, message) and the one place where tracker refusals become errnos.
/// </summary>
public static class EraControlFiles
{
    /// <summary>dm-era's message names; the <c>message</c> file takes them, case-insensitively as dm-era does.</summary>
    public static readonly IReadOnlyList<string> Messages = ["checkpoint", "take_metadata_snap", "drop_metadata_snap"];

    public static IReadOnlyList<ControlFile> For(EraTracker tracker, Func<IEnumerable<(string Key, string Value)>> extraInfo, IFuseLog log)
    {
        return
        [
            new ControlFile("status", () => tracker.StatusLine + "\n", null),
            new ControlFile("info", () => FormatInfo(tracker.Info.Concat(extraInfo())), null),
            new ControlFile("checkpoint",
                () => (tracker.LastCheckpointEra?.ToString(CultureInfo.InvariantCulture) ?? "-") + "\n",
                _ => Control(tracker, log, "checkpoint")),
            new ControlFile("take_metadata_snap", null, _ => Control(tracker, log, "take_metadata_snap")),
            new ControlFile("drop_metadata_snap", null, _ => Control(tracker, log, "drop_metadata_snap")),
            new ControlFile("message", null, m => Message(tracker, log, m)),
        ];
    }

    /// <summary>Info for a mount without tracking: the same shape, only the mount's own facts.</summary>
    public static IReadOnlyList<ControlFile> Untracked(Func<IEnumerable<(string Key, string Value)>> info) =>
        [new ControlFile("info", () => FormatInfo(info()), null)];

    public static string FormatInfo(IEnumerable<(string Key, string Value)> lines)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in lines) sb.Append(k).Append(": ").Append(v).Append('\n');
        return sb.ToString();
    }

    private static int Message(EraTracker tracker, IFuseLog log, string text)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length != 1)
        {
            log.Error($"message refused: dm-era messages take exactly one word, got {words.Length}");
            return FuseErrors.EINVAL;
        }
        var name = words[0].ToLowerInvariant();
        return Messages.Contains(name) ? Control(tracker, log, name) : Unknown(log, words[0]);
    }

    /// <summary>Runs one dm-era message and logs what it did, so the log tells when each era began and each snapshot was held.</summary>
    private static int Control(EraTracker tracker, IFuseLog log, string name)
    {
        var before = tracker.Status;
        return Run(log, name, name switch
        {
            "checkpoint" => () => tracker.Checkpoint(),
            "take_metadata_snap" => tracker.TakeMetadataSnap,
            _ => tracker.DropMetadataSnap,
        }, () =>
        {
            var after = tracker.Status;
            return name switch
            {
                "checkpoint" => $"checkpoint: era {before.CurrentEra} -> {after.CurrentEra}",
                "take_metadata_snap" => $"take_metadata_snap: snapshot held at metadata block {after.HeldSnapshot}, era {before.CurrentEra} -> {after.CurrentEra}",
                _ => $"drop_metadata_snap: snapshot at metadata block {before.HeldSnapshot} dropped",
            };
        });
    }

    private static int Unknown(IFuseLog log, string word)
    {
        log.Error($"message refused: unknown message '{word}' (known: {string.Join(", ", Messages)})");
        return FuseErrors.EINVAL;
    }

    private static int Run(IFuseLog log, string what, Action action, Func<string> done)
    {
        try
        {
            action();
            log.Info(done());
            return 0;
        }
        catch (ControlRejectedException ex)
        {
            log.Error($"{what} refused: {ex.Message}");
            return ToErrno(ex.Error);
        }
        catch (TrackingFailedException ex)
        {
            log.Error($"{what} failed: {ex.Message}");
            return FuseErrors.EIO;
        }
    }

    /// <summary>The errno a control write answers for each refusal.</summary>
    public static int ToErrno(ControlError error) => error switch
    {
        ControlError.SnapshotHeld => FuseErrors.EBUSY,
        ControlError.NoSnapshot => FuseErrors.ENOENT,
        ControlError.Invalid => FuseErrors.EINVAL,
        ControlError.EraExhausted => FuseErrors.EOVERFLOW,
        _ => FuseErrors.EIO,
    };
}
