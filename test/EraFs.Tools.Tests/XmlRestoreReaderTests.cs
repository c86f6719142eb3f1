namespace EraFs.Tools.Tests;

[TestFixture]
public class XmlRestoreReaderTests
{
    private static EraHistory Parse(string xml)
    {
        var collector = new EraHistoryCollector();
        XmlRestoreReader.Read("in.xml", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(xml)), collector);
        return collector.Result;
    }

    private const string Head = "<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"8\" current_era=\"5\">\n";

    [TestCase("<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"8\" current_era=\"5\">\n  <writeset era=\"2\" nr_bits=\"8\">\n    <bit block=\"1\" value=\"yes\"/>",
        "in.xml:3:6: value=\"yes\" is not a boolean (true or false)")]
    [TestCase(Head + "  <writeset era=\"6\" nr_bits=\"8\"/>\n</superblock>", "in.xml:2:4: writeset era 6 is later than current_era 5")]
    [TestCase(Head + "  <writeset era=\"2\" nr_bits=\"8\">\n    <bit block=\"8\" value=\"true\"/>\n  </writeset>\n</superblock>", "in.xml:3:6: bit 8 lies past nr_bits 8")]
    [TestCase(Head + "  <era_array>\n    <era block=\"1\" era=\"9\"/>\n  </era_array>\n</superblock>", "in.xml:3:6: block 1 has era 9, later than current_era 5")]
    [TestCase(Head + "  <mapping/>\n</superblock>", "in.xml:2:4: unexpected <mapping> here")]
    [TestCase(Head + "  <writeset era=\"3\" nr_bits=\"8\"/>\n  <writeset era=\"2\" nr_bits=\"8\"/>\n</superblock>", "in.xml:3:4: writeset of era 2 follows era 3: eras must ascend")]
    [TestCase(Head + "  <era_array>\n", "in.xml:3:1: not valid XML: Unexpected end of file has occurred. The following elements are not closed: era_array, superblock")]
    [TestCase("\u0001\u0002binary", "in.xml:1:1: not valid XML: '\u0001', hexadecimal value 0x01, is an invalid character")]
    [TestCase("<superblock uuid=\"\" block_size=\"100\" nr_blocks=\"8\" current_era=\"5\"/>", "in.xml:1:2: block_size 100 is not a whole number of 4 KiB pages (in sectors)")]
    public void Errors_name_the_line_and_column(string xml, string expected)
    {
        var ex = Assert.Throws<EraXmlException>(() => Parse(xml))!;
        Assert.That(ex.Message, Does.StartWith(expected));
    }

    [Test]
    public void Reads_both_bit_and_marked_writesets_and_a_sparse_era_array()
    {
        var h = Parse(Head + """
              <writeset era="2" nr_bits="8">
                <bit block="1" value="true"/>
                <bit block="2" value="false"/>
                <marked block_begin="4" len="3"/>
              </writeset>
              <era_array>
                <era block="7" era="1"/>
              </era_array>
            </superblock>
            """);
        Assert.That(h.Live.Writesets.Single().Runs(), Is.EqualTo(new EraFs.Core.BlockRun[] { new(1, 1), new(4, 3) }));
        Assert.That(h.Live.Eras, Is.EqualTo(new uint[] { 0, 0, 0, 0, 0, 0, 0, 1 }));
        Assert.That((h.BlockSizeSectors, h.NrBlocks, h.Live.CurrentEra), Is.EqualTo((128u, 8UL, 5u)));
    }
}
