namespace EraFs.Metadata;

/// <summary>Verified read access to metadata blocks; the writer and the read-only tools each provide one.</summary>
internal interface IBlockSource
{
    /// <summary>The metadata file's name, for error messages.</summary>
    string FileName { get; }

    /// <summary>The block's bytes, checked to be a sound block of that kind at that place; callers must not modify them.</summary>
    byte[] Read(ulong blockNr, BlockKind kind);
}
