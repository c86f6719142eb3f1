using System.Buffers.Binary;
using EraFs.Metadata;
using EraFs.TestSupport;
using EraFs.Tools.DmEra;

namespace EraFs.Tools.Tests;

/// <summary>Writes histories in each format and runs Debian's era_* 0.9.0 binaries on them.</summary>
internal static class EraTools
{
    public static void RequireBinaries()
    {
        foreach (var tool in new[] { "era_check", "era_dump", "era_restore", "era_invalidate" }) HostTools.Require(tool);
    }

    public static HostTools.Result Run(string tool, params string[] args) =>
        HostTools.Run(tool, args, TimeSpan.FromMinutes(1));

    public static void WriteNative(EraHistory history, string path) =>
        NativeHistory.Write(StreamedHistory.FromDense(history), path, null, null);

    public static EraHistory LoadNative(string path)
    {
        using var reader = MetadataReader.Open(path);
        return NativeHistory.Load(reader);
    }

    public static void Export(string nativePath, string dmPath)
    {
        var image = DmEraWriter.Write(LoadNative(nativePath));
        using var file = new FileStream(dmPath, FileMode.Create, FileAccess.Write);
        image.WriteTo(file);
    }

    /// <summary>Copies dm-era metadata with the held snapshot's clone superblock moved to block 0.</summary>
    public static void PromoteSnapshot(string path, string copy)
    {
        File.Copy(path, copy, overwrite: true);
        var bytes = File.ReadAllBytes(copy);
        var clone = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(0xD8));
        Assert.That(clone, Is.Not.Zero, "block 0 names a metadata snapshot");
        var block = bytes.AsSpan((int)clone * DmBlock.Size, DmBlock.Size).ToArray();
        DmBlock.Seal(block, DmBlockKind.Superblock, 0);
        using var file = new FileStream(copy, FileMode.Open, FileAccess.Write);
        file.Write(block);
    }

    public static EraHistory ReadDmEra(string path)
    {
        using var reader = new DmFileReader(path);
        return DmEraReader.Read(reader);
    }

    public static string Dump(EraHistory history, bool logical = false)
    {
        var text = new StringWriter();
        StreamedHistory.FromDense(history).Accept(new XmlDumpWriter(text), logical);
        return text.ToString();
    }

    public static string InvalidateXml(string nativePath, uint since, bool useSnapshot)
    {
        using var reader = MetadataReader.Open(nativePath);
        var text = new StringWriter();
        InvalidationReport.WriteXml(reader.WrittenSince(since, useSnapshot), text, spacedEnd: true);
        return text.ToString();
    }
}
