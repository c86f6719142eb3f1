using System.Globalization;

namespace EraFs.Tools;

/// <summary>
/// Writes an era history as era_dump's XML: 2-space indentation, no declaration, one &lt;bit&gt; per
/// writeset bit and one &lt;era&gt; per block. Logical mode prints no writesets and gives each block
/// its newest era (0.9.0's binary picks the oldest writeset holding the block instead).
/// </summary>
public sealed class XmlDumpWriter(TextWriter output, bool logical = false) : IEraHistoryVisitor
{
    private readonly List<EraWriteset> _writesets = [];

    public void BeginSuperblock(uint blockSizeSectors, ulong nrBlocks, uint currentEra) =>
        output.Write($"<superblock uuid=\"\" block_size=\"{Num(blockSizeSectors)}\" nr_blocks=\"{Num(nrBlocks)}\" current_era=\"{Num(currentEra)}\">\n");

    public void Writeset(EraWriteset writeset)
    {
        if (logical)
        {
            _writesets.Add(writeset);
            return;
        }
        output.Write($"  <writeset era=\"{Num(writeset.Era)}\" nr_bits=\"{Num(writeset.NrBits)}\">\n");
        for (ulong b = 0; b < writeset.NrBits; b++)
            output.Write(writeset.IsSet(b)
                ? $"    <bit block=\"{Num(b)}\" value=\"true\"/>\n"
                : $"    <bit block=\"{Num(b)}\" value=\"false\"/>\n");
        output.Write("  </writeset>\n");
    }

    public void EraArray(uint[] eras)
    {
        if (logical) eras = new EraState(0, _writesets, eras).LogicalEras();
        output.Write("  <era_array>\n");
        for (var b = 0; b < eras.Length; b++)
            output.Write($"    <era block=\"{Num((uint)b)}\" era=\"{Num(eras[b])}\"/>\n");
        output.Write("  </era_array>\n");
    }

    public void EndSuperblock() => output.Write("</superblock>\n");

    private static string Num(ulong n) => n.ToString(CultureInfo.InvariantCulture);
}
