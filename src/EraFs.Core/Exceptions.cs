namespace EraFs.Core;

/// <summary>A write could not be tracked durably, so it must not reach the origin (answered as EIO).</summary>
public sealed class TrackingFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A control request that is invalid in the current state (answered with its errno, state unchanged).</summary>
public sealed class ControlRejectedException(ControlError error, string message) : Exception(message)
{
    public ControlError Error { get; } = error;
}

/// <summary>Why a control request was refused; the adapter maps each to one errno.</summary>
public enum ControlError
{
    /// <summary>A snapshot is already held (EBUSY).</summary>
    SnapshotHeld,
    /// <summary>No snapshot is held (ENOENT).</summary>
    NoSnapshot,
    /// <summary>The request is malformed or unknown (EINVAL).</summary>
    Invalid,
    /// <summary>The era counter would pass its largest value (EOVERFLOW).</summary>
    EraExhausted,
    /// <summary>Metadata could not be written (EIO).</summary>
    MetadataFailed,
}

/// <summary>Metadata that cannot be used: corrupt, mismatched or for another origin. The message names the file and what is wrong.</summary>
public class MetadataException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Metadata whose bytes are damaged (bad checksum, bad magic, impossible field).</summary>
public sealed class MetadataCorruptException(string message, Exception? inner = null) : MetadataException(message, inner);
