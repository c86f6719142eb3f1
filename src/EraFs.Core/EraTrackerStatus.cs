using System.Globalization;

namespace EraFs.Core;

/// <summary>An immutable picture of the tracker, published after every commit and control so readers never wait.</summary>
public sealed class EraTrackerStatus
{
    /// <summary>dm-era reports metadata block size in 512-byte sectors; ours is fixed at 4 KiB like dm-era's.</summary>
    public const int MetadataBlockSectors = 8;

    public required EraGeometry Geometry { get; init; }
    public required uint CurrentEra { get; init; }
    public required ulong BlocksWrittenThisEra { get; init; }
    public required ulong? HeldSnapshot { get; init; }
    public required Guid Generation { get; init; }
    public required bool Clean { get; init; }
    public required uint? LastCheckpointEra { get; init; }
    public required TrackerState State { get; init; }
    public required string? LastError { get; init; }
    public required bool PendingDigest { get; init; }
    public required ulong MetadataUsed { get; init; }
    public required ulong MetadataTotal { get; init; }
    public required ulong Commits { get; init; }
    public required bool RecoveredFromUncleanShutdown { get; init; }

    /// <summary>What the open found when it compared the origin with the history.</summary>
    public OriginCheck OriginCheck { get; init; }

    /// <summary>Bytes of the origin covered by blocks written this era; the partial last block counts only its real bytes.</summary>
    public ulong BytesWrittenThisEra { get; init; }

    /// <summary>dm-era's status line: <c>8 used/total era held-root-or-dash</c>, without a newline.</summary>
    public string StatusLine =>
        string.Create(CultureInfo.InvariantCulture,
            $"{MetadataBlockSectors} {MetadataUsed}/{MetadataTotal} {CurrentEra} {(HeldSnapshot is { } held ? held.ToString(CultureInfo.InvariantCulture) : "-")}");

    /// <summary>Key/value facts for the adapter's info file; values are invariant-culture strings.</summary>
    public IReadOnlyList<(string Key, string Value)> Info =>
    [
        ("block_size", Text(Geometry.BlockSize)),
        ("nr_blocks", Text(Geometry.NrBlocks)),
        ("origin_size", Text(Geometry.OriginSize)),
        ("current_era", Text(CurrentEra)),
        ("blocks_written_this_era", Text(BlocksWrittenThisEra)),
        ("bytes_written_this_era", Text(BytesWrittenThisEra)),
        ("held_snapshot", HeldSnapshot is { } held ? Text(held) : "-"),
        ("generation", Generation.ToString("D")),
        ("clean", Clean ? "true" : "false"),
        ("recovered_unclean_shutdown", RecoveredFromUncleanShutdown ? "true" : "false"),
        ("origin_check", OriginCheck.Name()),
        ("last_checkpoint_era", LastCheckpointEra is { } era ? Text(era) : "-"),
        ("state", State switch { TrackerState.Ok => "ok", TrackerState.Failed => "failed", _ => "closed" }),
        ("last_error", LastError ?? "-"),
        ("pending_digest", PendingDigest ? "true" : "false"),
        ("metadata_used_blocks", Text(MetadataUsed)),
        ("metadata_total_blocks", Text(MetadataTotal)),
        ("commits", Text(Commits)),
    ];

    internal static ulong BytesCovered(EraGeometry geometry, ulong blocksWritten, bool lastBlockWritten)
    {
        var bytes = blocksWritten * geometry.BlockSize;
        if (lastBlockWritten) bytes -= geometry.NrBlocks * geometry.BlockSize - (ulong)geometry.OriginSize;
        return bytes;
    }

    private static string Text<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
