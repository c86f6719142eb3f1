using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EraFs.Fuse.Native;
using EraFs.TestSupport;

namespace EraFs.Fuse.Tests;

/// <summary>Every size and offset of the hand-written native structs, against a probe compiled from the real headers.</summary>
[TestFixture]
public unsafe class NativeLayoutTests
{
    private static Dictionary<string, long>? s_probe;

    private static Dictionary<string, long> Probe()
    {
        if (s_probe is not null) return s_probe;
        HostTools.Require("gcc");
        if (!File.Exists("/usr/include/fuse3/fuse_lowlevel.h")) Assert.Ignore("libfuse3-dev headers are not installed");
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

    private static IEnumerable<TestCaseData> Sizes()
    {
        yield return new TestCaseData("fuse_args", Unsafe.SizeOf<fuse_args>());
        yield return new TestCaseData("fuse_file_info", Unsafe.SizeOf<fuse_file_info>());
        yield return new TestCaseData("fuse_conn_info", Unsafe.SizeOf<fuse_conn_info>());
        yield return new TestCaseData("fuse_entry_param", Unsafe.SizeOf<fuse_entry_param>());
        yield return new TestCaseData("fuse_ctx", Unsafe.SizeOf<fuse_ctx>());
        yield return new TestCaseData("fuse_lowlevel_ops", Unsafe.SizeOf<fuse_lowlevel_ops>());
        yield return new TestCaseData("stat", Unsafe.SizeOf<stat>());
        yield return new TestCaseData("statvfs", Unsafe.SizeOf<statvfs>());
        yield return new TestCaseData("timespec", Unsafe.SizeOf<timespec>());
    }

    [TestCaseSource(nameof(Sizes))]
    public void Struct_size_matches_the_header(string name, int size) =>
        Assert.That(size, Is.EqualTo(Probe()[name]), $"sizeof(struct {name})");

    private static IEnumerable<TestCaseData> Offsets()
    {
        foreach (var t in new[] { typeof(fuse_args), typeof(fuse_file_info), typeof(fuse_conn_info), typeof(fuse_entry_param),
                     typeof(fuse_ctx), typeof(fuse_lowlevel_ops), typeof(stat), typeof(statvfs) })
        {
            foreach (var f in t.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
                yield return new TestCaseData(t, f.Name).SetName($"Offset_{t.Name}_{f.Name}");
        }
    }

    [TestCaseSource(nameof(Offsets))]
    public void Field_offset_matches_the_header(Type type, string field)
    {
        var key = $"{type.Name}.{field}";
        if (!Probe().TryGetValue(key, out var expected))
        {
            // Padding and unused slots the probe does not print: they only need to keep later fields right.
            Assert.That(field, Does.StartWith("__").Or.StartWith("padding").Or.EqualTo("bits").Or.EqualTo("reserved")
                .Or.Matches("^(forget|readlink|mknod|mkdir|unlink|rmdir|symlink|rename|link|fsyncdir|setxattr|getxattr|listxattr|removexattr|access|create|getlk|setlk|bmap|ioctl|poll|write_buf|retrieve_reply|forget_multi|flock|readdirplus|copy_file_range|f_fsid|f_flag)$"),
                $"the probe prints no offset for {key}");
            return;
        }
        Assert.That((long)Marshal.OffsetOf(type, field), Is.EqualTo(expected), key);
    }

    [TestCase("direct_io", fuse_file_info.DirectIo)]
    [TestCase("keep_cache", fuse_file_info.KeepCache)]
    [TestCase("nonseekable", fuse_file_info.NonSeekable)]
    [TestCase("noflush", fuse_file_info.NoFlush)]
    public void File_info_flag_bits_match_gcc_bitfields(string name, uint bit) =>
        Assert.That(bit, Is.EqualTo(Probe()[$"fuse_file_info.bit.{name}"]));

    [Test]
    public void Loaded_libfuse_is_version_3()
    {
        var v = LibFuse.fuse_version();
        // major * 100 + minor since libfuse 3.10 (3.14 → 314).
        Assert.That(v / 100, Is.EqualTo(3), $"fuse_version() = {v}");
    }

    [Test]
    public void Operations_table_serves_exactly_the_listed_requests()
    {
        var t = FuseOperations.Table;
        var served = new List<string>();
        foreach (var f in typeof(fuse_lowlevel_ops).GetFields())
        {
            var offset = (int)Marshal.OffsetOf<fuse_lowlevel_ops>(f.Name);
            if (*(nint*)((byte*)t + offset) != 0) served.Add(f.Name);
        }
        Assert.That(served, Is.EquivalentTo(FuseOperations.Served));
    }
}
