using System.Globalization;
using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools;

/// <summary>
/// Writes an era history as era_dump's XML: 2-space indentation, no declaration, one &lt;bit&gt; per
/// writeset bit and one &lt;era&gt; per block, as the runs arrive (they must ascend). For the logical
/// form (no writesets, each block its newest era) visit <see cref="StreamedView.Logical"/>; 0.9.0's
/// binary picks the oldest writeset holding the block instead.
/// </summary>
public sealed class XmlDumpWriter(TextWriter output) : IEraHistoryVisitor
{
    private ulong _nrBlocks;

    public void BeginSuperblock(uint blockSizeSectors, ulong nrBlocks, uint currentEra)
    {
        _nrBlocks = nrBlocks;
        output.Write($"<superblock uuid=\"\" block_size=\"{Num(blockSizeSectors)}\" nr_blocks=\"{Num(nrBlocks)}\" current_era=\"{Num(currentEra)}\">\n");
    }

    public void Writeset(uint era, ulong nrBits, IEnumerable<BlockRun> runs)
    {
        output.Write($"  <writeset era=\"{Num(era)}\" nr_bits=\"{Num(nrBits)}\">\n");
        ulong next = 0;
        foreach (var run in runs)
        {
            var end = Math.Min(run.End, nrBits);
            if (run.Start < next) throw new ArgumentException($"writeset of era {era}: runs do not ascend ({run.Start} after {next})");
            for (; next < run.Start; next++) Bit(next, false);
            for (; next < end; next++) Bit(next, true);
        }
        for (; next < nrBits; next++) Bit(next, false);
        output.Write("  </writeset>\n");
    }

    public void EraArray(IEnumerable<EraRun> runs)
    {
        output.Write("  <era_array>\n");
        ulong next = 0;
        foreach (var run in runs)
        {
            var end = Math.Min(run.End, _nrBlocks);
            if (run.Start < next) throw new ArgumentException($"era array: runs do not ascend ({run.Start} after {next})");
            for (; next < run.Start; next++) Era(next, 0);
            for (; next < end; next++) Era(next, run.Era);
        }
        for (; next < _nrBlocks; next++) Era(next, 0);
        output.Write("  </era_array>\n");
    }

    public void EndSuperblock() => output.Write("</superblock>\n");

    private void Bit(ulong block, bool value) =>
        output.Write(value ? $"    <bit block=\"{Num(block)}\" value=\"true\"/>\n" : $"    <bit block=\"{Num(block)}\" value=\"false\"/>\n");

    private void Era(ulong block, uint era) => output.Write($"    <era block=\"{Num(block)}\" era=\"{Num(era)}\"/>\n");

    private static string Num(ulong n) => n.ToString(CultureInfo.InvariantCulture);
}
