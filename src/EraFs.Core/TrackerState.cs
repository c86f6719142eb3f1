namespace EraFs.Core;

/// <summary>Whether the tracker can still record new marks.</summary>
public enum TrackerState
{
    /// <summary>Tracking normally.</summary>
    Ok,
    /// <summary>A metadata commit failed: writes needing a new mark are refused until the metadata is checked.</summary>
    Failed,
    /// <summary>Closed; no further writes are expected.</summary>
    Closed,
}
