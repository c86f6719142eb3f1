using System.Globalization;
using System.Xml;
using EraFs.Core;
using EraFs.Metadata;

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
                        lastEra = ReadWriteset(visitor, lastEra);
                        break;
                    case "era_array" when !sawArray:
                        Visit(ReadEraArray(), visitor.EraArray);
                        sawArray = true;
                        break;
                    default:
                        throw Error($"unexpected <{_xml.Name}> here");
                }
            }
            if (_xml.NodeType != XmlNodeType.EndElement) throw Error($"unexpected {_xml.NodeType} in <superblock>");
        }
        if (!sawArray) visitor.EraArray([new EraRun(0, _nrBlocks, 0)]);
        visitor.EndSuperblock();
        _xml.Read();
        if (_xml.Read() && _xml.NodeType != XmlNodeType.None) throw Error("content after </superblock>");
    }

    private uint ReadWriteset(IEraHistoryVisitor visitor, uint? lastEra)
    {
        var at = Position();
        var era = (uint)UInt("era", uint.MaxValue);
        if (era > _currentEra) throw Error($"writeset era {era} is later than current_era {_currentEra}");
        var nrBits = UInt("nr_bits");
        if (nrBits > _nrBlocks) throw Error($"nr_bits {nrBits} is more than nr_blocks {_nrBlocks}");
        if (lastEra is { } last && era <= last) throw Error($"writeset of era {era} follows era {last}: eras must ascend", at);
        Visit(ReadBits(nrBits), runs => visitor.Writeset(era, nrBits, runs));
        return era;
    }

    /// <summary>Set bits and marked runs in document order, neighbours joined into one run.</summary>
    private IEnumerable<BlockRun> ReadBits(ulong nrBits)
    {
        ulong start = 0, end = 0;
        foreach (var name in Children("bit", "marked"))
        {
            ulong begin, len;
            if (name == "bit")
            {
                begin = UInt("block");
                if (begin >= nrBits) throw Error($"bit {begin} lies past nr_bits {nrBits}");
                if (!Bool("value")) continue;
                len = 1;
            }
            else
            {
                begin = UInt("block_begin");
                len = UInt("len");
                if (begin + len > nrBits) throw Error($"marked run {begin}+{len} lies past nr_bits {nrBits}");
                if (len == 0) continue;
            }
            if (end > start && begin <= end && begin + len >= start)
            {
                (start, end) = (Math.Min(start, begin), Math.Max(end, begin + len));
                continue;
            }
            if (end > start) yield return new BlockRun(start, end - start);
            (start, end) = (begin, begin + len);
        }
        if (end > start) yield return new BlockRun(start, end - start);
    }

    /// <summary>Era entries in document order, neighbours of equal era joined into one run.</summary>
    private IEnumerable<EraRun> ReadEraArray()
    {
        var pending = new EraRun(0, 0, 0);
        foreach (var _ in Children("era"))
        {
            var block = UInt("block");
            if (block >= _nrBlocks) throw Error($"era entry for block {block} lies past nr_blocks {_nrBlocks}");
            var era = (uint)UInt("era", uint.MaxValue);
            if (era > _currentEra) throw Error($"block {block} has era {era}, later than current_era {_currentEra}");
            if (pending.Count > 0 && pending.End == block && pending.Era == era)
            {
                pending = pending with { Count = pending.Count + 1 };
                continue;
            }
            if (pending.Count > 0) yield return pending;
            pending = new EraRun(block, 1, era);
        }
        if (pending.Count > 0) yield return pending;
    }

    /// <summary>
    /// Hands a visitor a stream read from the document, then reads whatever it left, so the reader
    /// always ends after the element and every entry is validated.
    /// </summary>
    private static void Visit<T>(IEnumerable<T> items, Action<IEnumerable<T>> visit)
    {
        using var once = new SingleUse<T>(items.GetEnumerator());
        visit(once);
        once.Drain();
    }

    /// <summary>An enumerable over one enumerator: every enumeration continues where the last stopped.</summary>
    private sealed class SingleUse<T>(IEnumerator<T> items) : IEnumerable<T>, IDisposable
    {
        public IEnumerator<T> GetEnumerator()
        {
            while (items.MoveNext()) yield return items.Current;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public void Drain()
        {
            while (items.MoveNext()) { }
        }

        public void Dispose() => items.Dispose();
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

/// <summary>Assembles what a visitor is shown into a dense era history (for small histories and tests).</summary>
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

    public void Writeset(uint era, ulong nrBits, IEnumerable<BlockRun> runs) => _writesets.Add(EraWriteset.FromRuns(era, nrBits, runs));

    public void EraArray(IEnumerable<EraRun> runs)
    {
        foreach (var run in runs)
            if (run.Start < (ulong)_eras.Length)
                Array.Fill(_eras, run.Era, (int)run.Start, (int)(Math.Min(run.End, (ulong)_eras.Length) - run.Start));
    }

    public void EndSuperblock()
    {
    }
}
