using System.Globalization;
using System.Xml;

namespace EraFs.Tools;

/// <summary>Malformed or inconsistent era XML; the message names the file, line and column.</summary>
public sealed class EraXmlException(string message) : Exception(message);

/// <summary>
/// Reads era_dump XML (0.9.0's and the later releases', including &lt;marked&gt; runs) and drives a
/// visitor with what it finds. Everything is validated against the superblock's geometry before the
/// visitor sees it, and every error carries the line and column it was found at.
/// </summary>
public sealed class XmlRestoreReader
{
    private readonly string _name;
    private readonly XmlReader _xml;
    private ulong _nrBlocks;
    private uint _currentEra;

    private XmlRestoreReader(string name, XmlReader xml)
    {
        _name = name;
        _xml = xml;
    }

    /// <summary>Parses a whole XML file into an era history (no snapshot: the XML has none).</summary>
    public static EraHistory ReadFile(string path)
    {
        using var stream = File.OpenRead(path);
        var collector = new EraHistoryCollector();
        Read(path, stream, collector);
        return collector.Result;
    }

    public static void Read(string name, Stream input, IEraHistoryVisitor visitor)
    {
        var settings = new XmlReaderSettings { IgnoreComments = true, IgnoreWhitespace = true, DtdProcessing = DtdProcessing.Prohibit };
        using var xml = XmlReader.Create(input, settings);
        var reader = new XmlRestoreReader(name, xml);
        try
        {
            reader.ReadDocument(visitor);
        }
        catch (XmlException ex)
        {
            throw new EraXmlException($"{name}:{ex.LineNumber}:{ex.LinePosition}: not valid XML: {StripPosition(ex.Message)}");
        }
    }

    private void ReadDocument(IEraHistoryVisitor visitor)
    {
        _xml.MoveToContent();
        Expect("superblock");
        var blockSize = UInt("block_size");
        if (blockSize == 0 || blockSize % 8 != 0) throw Error($"block_size {blockSize} is not a whole number of 4 KiB pages (in sectors)");
        _nrBlocks = UInt("nr_blocks");
        if (_nrBlocks == 0) throw Error("nr_blocks is 0");
        if (_nrBlocks > EraFs.Core.EraGeometry.MaxNrBlocks) throw Error($"nr_blocks {_nrBlocks} is more than dm-era supports");
        _currentEra = (uint)UInt("current_era", uint.MaxValue);
        visitor.BeginSuperblock((uint)blockSize, _nrBlocks, _currentEra);
        var sawArray = false;
        uint? lastEra = null;
        if (!_xml.IsEmptyElement)
        {
            _xml.Read();
            while (_xml.NodeType == XmlNodeType.Element)
            {
                switch (_xml.Name)
                {
                    case "writeset" when !sawArray:
                        var at = Position();
                        var ws = ReadWriteset();
                        if (lastEra is { } last && ws.Era <= last) throw Error($"writeset of era {ws.Era} follows era {last}: eras must ascend", at);
                        lastEra = ws.Era;
                        visitor.Writeset(ws);
                        break;
                    case "era_array" when !sawArray:
                        visitor.EraArray(ReadEraArray());
                        sawArray = true;
                        break;
                    default:
                        throw Error($"unexpected <{_xml.Name}> here");
                }
            }
            if (_xml.NodeType != XmlNodeType.EndElement) throw Error($"unexpected {_xml.NodeType} in <superblock>");
        }
        if (!sawArray) visitor.EraArray(new uint[_nrBlocks]);
        visitor.EndSuperblock();
        _xml.Read();
        if (_xml.Read() && _xml.NodeType != XmlNodeType.None) throw Error("content after </superblock>");
    }

    private EraWriteset ReadWriteset()
    {
        var era = (uint)UInt("era", uint.MaxValue);
        if (era > _currentEra) throw Error($"writeset era {era} is later than current_era {_currentEra}");
        var nrBits = UInt("nr_bits");
        if (nrBits > _nrBlocks) throw Error($"nr_bits {nrBits} is more than nr_blocks {_nrBlocks}");
        var ws = EraWriteset.Empty(era, nrBits);
        foreach (var name in Children("bit", "marked"))
        {
            if (name == "bit")
            {
                var block = UInt("block");
                if (block >= nrBits) throw Error($"bit {block} lies past nr_bits {nrBits}");
                if (Bool("value")) ws.Set(block);
            }
            else
            {
                var begin = UInt("block_begin");
                var len = UInt("len");
                if (begin + len > nrBits) throw Error($"marked run {begin}+{len} lies past nr_bits {nrBits}");
                for (var b = begin; b < begin + len; b++) ws.Set(b);
            }
        }
        return ws;
    }

    private uint[] ReadEraArray()
    {
        var eras = new uint[_nrBlocks];
        foreach (var _ in Children("era"))
        {
            var block = UInt("block");
            if (block >= _nrBlocks) throw Error($"era entry for block {block} lies past nr_blocks {_nrBlocks}");
            var era = (uint)UInt("era", uint.MaxValue);
            if (era > _currentEra) throw Error($"block {block} has era {era}, later than current_era {_currentEra}");
            eras[block] = era;
        }
        return eras;
    }

    /// <summary>Visits each child element (which must be empty and one of names), leaving the reader after the parent.</summary>
    private IEnumerable<string> Children(params string[] names)
    {
        if (_xml.IsEmptyElement)
        {
            _xml.Read();
            yield break;
        }
        _xml.Read();
        while (_xml.NodeType == XmlNodeType.Element)
        {
            if (!names.Contains(_xml.Name)) throw Error($"unexpected <{_xml.Name}> here");
            if (!_xml.IsEmptyElement) throw Error($"<{_xml.Name}> must be empty");
            yield return _xml.Name;
            _xml.Read();
        }
        if (_xml.NodeType != XmlNodeType.EndElement) throw Error($"unexpected {_xml.NodeType} here");
        _xml.Read();
    }

    private void Expect(string name)
    {
        if (_xml.NodeType != XmlNodeType.Element || _xml.Name != name) throw Error($"expected <{name}>, found <{_xml.Name}>");
    }

    private ulong UInt(string attribute, ulong max = ulong.MaxValue)
    {
        var text = _xml.GetAttribute(attribute) ?? throw Error($"<{_xml.Name}> has no {attribute} attribute");
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > max)
            throw Error($"{attribute}=\"{text}\" is not a whole number up to {max}");
        return value;
    }

    private bool Bool(string attribute) => _xml.GetAttribute(attribute) switch
    {
        "true" => true,
        "false" => false,
        var other => throw Error($"{attribute}=\"{other}\" is not a boolean (true or false)"),
    };

    private (int Line, int Column) Position()
    {
        var info = (IXmlLineInfo)_xml;
        return (info.LineNumber, info.LinePosition);
    }

    private EraXmlException Error(string problem, (int Line, int Column)? at = null)
    {
        var (line, column) = at ?? Position();
        return new EraXmlException($"{_name}:{line}:{column}: {problem}");
    }

    private static string StripPosition(string message)
    {
        var i = message.IndexOf(" Line ", StringComparison.Ordinal);
        return i > 0 ? message[..i].TrimEnd('.') : message;
    }
}

/// <summary>Assembles what a visitor is shown into an era history (the restore side of the IR).</summary>
public sealed class EraHistoryCollector : IEraHistoryVisitor
{
    private uint _blockSize;
    private uint _currentEra;
    private readonly List<EraWriteset> _writesets = [];
    private uint[] _eras = [];

    public EraHistory Result => new(_blockSize, (ulong)_eras.Length, new EraState(_currentEra, _writesets, _eras), null);

    public void BeginSuperblock(uint blockSizeSectors, ulong nrBlocks, uint currentEra)
    {
        _blockSize = blockSizeSectors;
        _currentEra = currentEra;
        _eras = new uint[nrBlocks];
    }

    public void Writeset(EraWriteset writeset) => _writesets.Add(writeset);

    public void EraArray(uint[] eras) => _eras = eras;

    public void EndSuperblock()
    {
    }
}
