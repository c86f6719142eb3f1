namespace EraFs.Metadata;

/// <summary>What a metadata block holds; stored in its header so a misdirected pointer is caught.</summary>
public enum BlockKind : ushort
{
    Superblock = 1,
    JournalBlock = 2,
    IndexNode = 3,
    BitsetPage = 4,
    EraPage = 5,
    ArchiveCatalog = 6,
    SnapshotRoot = 7,
}
