using System.Reflection;
using System.Runtime.InteropServices;
using EraFs.Fuse.Kernel;
using EraFs.Fuse.Native;
using EraFs.TestSupport;

namespace EraFs.Fuse.Tests;

/// <summary>
/// Every size, offset, opcode and flag of the hand-written kernel FUSE ABI and libfuse structs,
/// against a probe compiled from this machine's linux/fuse.h and fuse3 headers.
/// </summary>
[TestFixture]
public unsafe class NativeLayoutTests
{
    private static Dictionary<string, long>? s_probe;

    private static Dictionary<string, long> Probe()
    {
        if (s_probe is not null) return s_probe;
        HostTools.Require("gcc");
        if (!File.Exists("/usr/include/fuse3/fuse_lowlevel.h")) Assert.Ignore("libfuse3-dev headers are not installed");
        if (!File.Exists("/usr/include/linux/fuse.h")) Assert.Ignore("linux-libc-dev headers are not installed");
        using var dir = new TestDirectory("probe");
        var source = Path.Combine(TestContext.CurrentContext.TestDirectory, "native", "layout_probe.c");
        var exe = dir.File("probe");
        HostTools.Run("gcc", "-Wall", "-Werror", "-I/usr/include/fuse3", "-o", exe, source).Ok();
        var output = HostTools.Run(exe).Ok().Stdout;
        s_probe = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .ToDictionary(f => f[0], f => long.Parse(f[1]));
        return s_probe;
    }

    private static IEnumerable<Type> Declared() =>
        typeof(FuseAbi).Assembly.GetTypes()
            .Where(t => t.IsValueType && !t.IsEnum && !NewerThanHeader(t) &&
                        (t.Name.StartsWith("fuse_", StringComparison.Ordinal) || t.Name.StartsWith("io_", StringComparison.Ordinal) || t.Name == "__kernel_timespec") &&
                        t.Namespace is "EraFs.Fuse.Kernel" or "EraFs.Fuse.Native" &&
                        t.GetCustomAttribute<System.Runtime.CompilerServices.CompilerGeneratedAttribute>() is null)
            .OrderBy(t => t.Name);

    // The FUSE io_uring structs arrived in 7.42; a header older than that cannot judge them.
    private static bool NewerThanHeader(Type t) => t.Name.StartsWith("fuse_uring", StringComparison.Ordinal);

    [Test]
    public void Fuse_uring_structs_match_the_header_when_it_has_them()
    {
        var uring = typeof(FuseAbi).Assembly.GetTypes().Where(NewerThanHeader).ToList();
        Assert.That(uring, Has.Count.EqualTo(3));
        if (!Probe().ContainsKey("fuse_uring_req_header"))
            Assert.Ignore($"/usr/include/linux/fuse.h is 7.{Probe()["FUSE_KERNEL_MINOR_VERSION"]}, older than the io_uring structs (7.42)");
        foreach (var t in uring)
        {
            Assert.That(Marshal.SizeOf(t), Is.EqualTo(Probe()[t.Name]), $"sizeof(struct {t.Name})");
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
                Assert.That((long)Marshal.OffsetOf(t, f.Name), Is.EqualTo(Probe()[$"{t.Name}.{f.Name}"]), $"{t.Name}.{f.Name}");
        }
    }

    private static IEnumerable<TestCaseData> Sizes() =>
        Declared().Select(t => new TestCaseData(t).SetName($"Size_{t.Name}"));

    [TestCaseSource(nameof(Sizes))]
    public void Struct_size_matches_the_header(Type type)
    {
        Assert.That(Probe().ContainsKey(type.Name), $"the probe prints no size for struct {type.Name}");
        Assert.That(Marshal.SizeOf(type), Is.EqualTo(Probe()[type.Name]), $"sizeof(struct {type.Name})");
    }

    private static IEnumerable<TestCaseData> Offsets() =>
        from t in Declared()
        from f in t.GetFields(BindingFlags.Public | BindingFlags.Instance)
        select new TestCaseData(t, f.Name).SetName($"Offset_{t.Name}_{f.Name}");

    [TestCaseSource(nameof(Offsets))]
    public void Field_offset_matches_the_header(Type type, string field)
    {
        var key = $"{type.Name}.{field}";
        if (type == typeof(fuse_lowlevel_ops)) Assert.Pass("fuse_lowlevel_ops is checked by size only: every slot stays null");
        Assert.That(Probe().ContainsKey(key), $"the probe prints no offset for {key}");
        Assert.That((long)Marshal.OffsetOf(type, field), Is.EqualTo(Probe()[key]), key);
    }

    private static IEnumerable<TestCaseData> Opcodes() =>
        Enum.GetValues<fuse_opcode>().Select(o => new TestCaseData(o).SetName($"Opcode_{o}"));

    [TestCaseSource(nameof(Opcodes))]
    public void Opcode_matches_the_header(object opcode)
    {
        var name = opcode.ToString()!;
        Assert.That(Probe().ContainsKey(name), $"the probe prints no {name}");
        Assert.That((long)(uint)(fuse_opcode)opcode, Is.EqualTo(Probe()[name]), name);
    }

    private static IEnumerable<TestCaseData> Constants() =>
        typeof(FuseAbi).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && (f.Name.StartsWith("FUSE_", StringComparison.Ordinal) || f.Name.StartsWith("FOPEN_", StringComparison.Ordinal)))
            .Select(f => new TestCaseData(f.Name, Convert.ToUInt64(f.GetRawConstantValue())).SetName($"Constant_{f.Name}"));

    [TestCaseSource(nameof(Constants))]
    public void Constant_matches_the_header(string name, ulong value)
    {
        if (name == nameof(FuseAbi.FUSE_KERNEL_MINOR_VERSION))
        {
            // We speak a newer minor than the installed header may know; the kernel picks the lower.
            Assert.That(value, Is.GreaterThanOrEqualTo((ulong)Probe()[name]), name);
            return;
        }
        if (!Probe().ContainsKey(name) && Probe()["FUSE_KERNEL_MINOR_VERSION"] < (long)FuseAbi.FUSE_KERNEL_MINOR_VERSION)
            Assert.Ignore($"{name} is newer than /usr/include/linux/fuse.h (7.{Probe()["FUSE_KERNEL_MINOR_VERSION"]})");
        Assert.That(Probe().ContainsKey(name), $"the probe prints no {name}");
        Assert.That(value, Is.EqualTo((ulong)Probe()[name]), name);
    }

    [Test]
    public void Loaded_libfuse_is_version_3()
    {
        var v = LibFuse.fuse_version();
        // major * 100 + minor since libfuse 3.10 (3.14 → 314).
        Assert.That(v / 100, Is.EqualTo(3), $"fuse_version() = {v}");
    }
}
