using System.Globalization;
using System.Text.Json;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>erafs info and every --format json: real JSON whose values are the text output's, on a live mount and at rest.</summary>
[TestFixture]
[Category("Mount")]
public class JsonOutputTests : TrackedMountFixture
{
    private static JsonElement Json(string stdout)
    {
        Assert.That(stdout.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), "one JSON object on one line");
        return JsonDocument.Parse(stdout).RootElement;
    }

    private static List<(string Key, string Value)> TextFacts(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => (l[..l.IndexOf(": ", StringComparison.Ordinal)], l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..]))
            .ToList();

    /// <summary>Every text line has its key in the JSON, in order, with the same value in its typed form.</summary>
    private static void AssertSameFacts(string text, JsonElement json, params string[] moving)
    {
        var facts = TextFacts(text);
        Assert.That(json.EnumerateObject().Select(p => p.Name), Is.EqualTo(facts.Select(f => f.Key)));
        foreach (var (key, value) in facts)
        {
            var v = json.GetProperty(key);
            var asText = v.ValueKind switch
            {
                JsonValueKind.Null => "-",
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.String => v.GetString(),
                _ => v.GetRawText(),
            };
            if (moving.Contains(key)) Assert.That(asText, Does.Match(@"^\d+$"), key);
            else Assert.That(asText, Is.EqualTo(value), key);
        }
    }

    /// <summary>The field names are a contract: each one is in the README's JSON output section.</summary>
    private static void AssertDocumented(JsonElement json, string verb)
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root(), "README.md"));
        var start = readme.IndexOf("### JSON output", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "README has a JSON output section");
        var section = readme[start..readme.IndexOf("\n## ", start, StringComparison.Ordinal)];
        foreach (var field in json.EnumerateObject())
            Assert.That(section, Does.Contain($"`{field.Name}`"), $"{verb}'s field {field.Name} in README's JSON output section");
    }

    private void Write(int block, int count) =>
        HostTools.Run("dd", "if=/dev/urandom", $"of={Path.Combine(Mnt, "device")}", "bs=64k", $"count={count}", $"seek={block}",
            "oflag=direct", "conv=notrunc", "status=none").Ok();

    [Test]
    public void Info_json_on_a_mount_is_its_info_file_with_typed_values()
    {
        Mount();
        Write(10, 3);
        var text = Erafs.Run("info", Mnt).Ok().Stdout;
        Assert.That(text, Is.EqualTo(Control("info")), "text is the info file");
        var json = Json(Erafs.Run("info", "--format", "json", Mnt).Ok().Stdout);

        Assert.That(json.GetProperty("current_era").GetUInt32(), Is.EqualTo(1));
        Assert.That(json.GetProperty("blocks_written_this_era").GetUInt64(), Is.EqualTo(3));
        Assert.That(json.GetProperty("clean").ValueKind, Is.EqualTo(JsonValueKind.False), "a live mount's history is not clean");
        Assert.That(json.GetProperty("held_snapshot").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(json.GetProperty("origin").GetString(), Is.EqualTo(Path.GetFullPath(Image)));
        Assert.That(json.GetProperty("pid").GetInt32(), Is.EqualTo(Erafs.DaemonPid(Mnt)));
        Assert.That(json.GetProperty("generation").GetString(), Is.EqualTo(TextFacts(text).Single(f => f.Key == "generation").Value));
        // Nothing writes between the two reads, so even the counters agree.
        AssertSameFacts(text, json);
        AssertDocumented(json, "info MOUNT");
        Erafs.Run("unmount", Mnt).Ok();
    }

    [Test]
    public void Info_json_on_a_mirrored_mount_types_the_region_log_facts()
    {
        var leg = Dir.SparseFile("leg.img", 64L << 20);
        Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--create", "--mirror", leg, "--log", "core",
            "--log-file", Dir.File("daemon.log"), Mnt).Ok();
        Assert.That(Erafs.WaitFor(() => Control("info").Contains("resync: done", StringComparison.Ordinal), TimeSpan.FromSeconds(60)), Is.True, "resync ends");
        var text = Erafs.Run("info", Mnt).Ok().Stdout;
        var json = Json(Erafs.Run("info", "--format", "json", Mnt).Ok().Stdout);
        Assert.That(json.GetProperty("resync").GetString(), Is.EqualTo("done"));
        Assert.That(json.GetProperty("mirror_legs").GetInt32(), Is.EqualTo(1));
        Assert.That(json.GetProperty("region_size").GetInt64(), Is.EqualTo(512 * 1024));
        Assert.That(json.GetProperty("resync_seconds").ValueKind, Is.EqualTo(JsonValueKind.Number));
        // The region log's worker flushes and clears on its own clock, between the two reads too.
        AssertSameFacts(text, json, "log_flushes", "regions_cleared", "dirty_regions", "in_sync_regions");
        AssertDocumented(json, "info MOUNT with a mirror");
        Erafs.Run("unmount", Mnt).Ok();
    }

    [Test]
    public void Info_on_metadata_at_rest_gives_its_facts_and_says_when_a_mount_holds_it()
    {
        Erafs.Run("create", "--origin", Image, "--metadata", Meta).Ok();
        var fresh = Json(Erafs.Run("info", "--format", "json", Meta).Ok().Stdout);
        Assert.That(fresh.GetProperty("block_size").GetUInt32(), Is.EqualTo(65536));
        Assert.That(fresh.GetProperty("nr_blocks").GetUInt64(), Is.EqualTo(1024));
        Assert.That(fresh.GetProperty("origin_size").GetInt64(), Is.EqualTo(64L << 20));
        Assert.That(fresh.GetProperty("current_era").GetUInt32(), Is.Zero);
        Assert.That(fresh.GetProperty("clean").GetBoolean(), Is.True);
        Assert.That(fresh.GetProperty("needs_check").GetBoolean(), Is.False);
        Assert.That(fresh.GetProperty("held").GetBoolean(), Is.False);
        Assert.That(fresh.GetProperty("holder_pid").ValueKind, Is.EqualTo(JsonValueKind.Null));

        Mount();
        Write(0, 2);
        File.AppendAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");
        Write(100, 1);
        var status = Control("status").Trim().Split(' ');
        var live = Json(Erafs.Run("info", "--format", "json", Meta).Ok().Stdout);
        Assert.That(live.GetProperty("held").GetBoolean(), Is.True, "a mounted META says it is held");
        Assert.That(live.GetProperty("holder_pid").GetInt32(), Is.EqualTo(Erafs.DaemonPid(Mnt)));
        Assert.That(live.GetProperty("holder").GetString(), Does.Contain(Path.GetFullPath(Mnt)));
        Assert.That(live.GetProperty("clean").GetBoolean(), Is.False);
        Assert.That(live.GetProperty("current_era").GetUInt32(), Is.EqualTo(uint.Parse(status[2], CultureInfo.InvariantCulture)));
        Assert.That(live.GetProperty("held_snapshot").GetUInt64(), Is.EqualTo(ulong.Parse(status[3], CultureInfo.InvariantCulture)));
        Assert.That(live.GetProperty("generation").GetString(), Is.EqualTo(fresh.GetProperty("generation").GetString()));
        Erafs.Run("unmount", Mnt).Ok();

        var text = Erafs.Run("info", Meta).Ok().Stdout;
        var rest = Json(Erafs.Run("info", "--format", "json", Meta).Ok().Stdout);
        AssertSameFacts(text, rest);
        AssertDocumented(rest, "info META");
        Assert.That(rest.GetProperty("held").GetBoolean(), Is.False);
        Assert.That(rest.GetProperty("clean").GetBoolean(), Is.True, "unmount closed the history cleanly");
        Assert.That(rest.GetProperty("held_snapshot").GetUInt64(), Is.EqualTo(ulong.Parse(status[3], CultureInfo.InvariantCulture)));
        using (var store = MetadataStore.Open(Meta))
        {
            Assert.That(rest.GetProperty("metadata_used_blocks").GetUInt64(), Is.EqualTo(store.Usage.Used), "the writer's own count of reachable blocks");
            Assert.That(rest.GetProperty("metadata_total_blocks").GetUInt64(), Is.EqualTo(store.Usage.Total));
        }
        Assert.That(rest.GetProperty("metadata_used_blocks").GetUInt64(), Is.GreaterThan(fresh.GetProperty("metadata_used_blocks").GetUInt64()),
            "the snapshot and the archived writesets take blocks");
    }

    [Test]
    public void Info_refuses_a_directory_that_is_not_a_mount_and_a_format_it_does_not_know()
    {
        var r = Erafs.Run("info", "--format", "json", Mnt);
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stdout, Is.Empty);
        Assert.That(r.Stderr, Does.Contain($"{Mnt}: not an EraFs mount"));
        var usage = Erafs.Run("info", "--format", "yaml", Mnt);
        Assert.That(usage.ExitCode, Is.EqualTo(2), "a wrong format is a usage error");
        Assert.That(usage.Stderr, Does.Contain("'yaml' is not a format (text or json)"));
    }

    [Test]
    public void Check_json_lists_the_problems_the_text_lists()
    {
        Erafs.Run("create", "--origin", Image, "--metadata", Meta).Ok();
        var sound = Json(Erafs.Run("check", "--format", "json", Meta).Ok().Stdout);
        Assert.That(sound.GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(sound.GetProperty("problems").GetArrayLength(), Is.Zero);
        Assert.That(sound.GetProperty("live").GetBoolean(), Is.False);
        AssertDocumented(sound, "check");
        // A fresh file is all superblock and journal; a mount and a write give it trees to damage.
        Mount();
        Write(0, 2);
        Erafs.Run("unmount", Mnt).Ok();

        var bytes = File.ReadAllBytes(Meta);
        for (var b = 66; b < bytes.Length / 4096; b++) bytes[b * 4096 + 100] ^= 0xFF;
        File.WriteAllBytes(Meta, bytes);
        var text = Erafs.Run("check", Meta);
        var r = Erafs.Run("check", "--format", "json", Meta);
        Assert.That(r.ExitCode, Is.EqualTo(3), "damage still exits 3 with json");
        var damaged = Json(r.Stdout);
        Assert.That(damaged.GetProperty("ok").GetBoolean(), Is.False);
        var listed = damaged.GetProperty("problems").EnumerateArray()
            .Select(p => $"{Meta}: block {p.GetProperty("block").GetUInt64()} ({p.GetProperty("structure").GetString()}): {p.GetProperty("problem").GetString()}");
        Assert.That(listed, Is.EqualTo(text.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Test]
    public void Log_dump_json_has_the_header_and_half_open_dirty_ranges()
    {
        var path = Dir.File("region.log");
        var bytes = new byte[1536];
        new byte[] { 0x72, 0x52, 0x69, 0x4d, 2, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0 }.CopyTo(bytes, 0);
        for (var r = 0; r < 40; r++)
            if (r is not (3 or 4 or 5 or 17)) bytes[1024 + r / 8] |= (byte)(1 << (r % 8));
        File.WriteAllBytes(path, bytes);
        var json = Json(Erafs.Run("log", "dump", "--format", "json", path).Ok().Stdout);
        Assert.That(json.GetProperty("magic").GetUInt32(), Is.EqualTo(0x4d695272));
        Assert.That(json.GetProperty("version").GetUInt32(), Is.EqualTo(2));
        Assert.That(json.GetProperty("regions").GetUInt64(), Is.EqualTo(40));
        Assert.That(json.GetProperty("clean_regions").GetUInt64(), Is.EqualTo(36));
        Assert.That(json.GetProperty("dirty_regions").GetUInt64(), Is.EqualTo(4));
        AssertDocumented(json, "log dump");
        var dirty = json.GetProperty("dirty").EnumerateArray().Select(a => a.EnumerateArray().Select(n => n.GetUInt64()).ToArray()).ToArray();
        Assert.That(dirty, Is.EqualTo(new[] { new ulong[] { 3, 6 }, [17, 18] }));
    }

    [Test]
    public void Invalidate_json_counts_what_the_count_format_counts()
    {
        Mount();
        Write(5, 4);
        Write(1023, 1);
        Erafs.Run("unmount", Mnt).Ok();
        var count = Erafs.Run("invalidate", "--written-since", "1", "--format", "count", Meta).Ok().Stdout;
        var json = Json(Erafs.Run("invalidate", "--written-since", "1", "--format", "json", Meta).Ok().Stdout);
        Assert.That(count, Is.EqualTo($"blocks: {json.GetProperty("blocks").GetUInt64()}\nbytes: {json.GetProperty("bytes").GetUInt64()}\n"));
        Assert.That(json.GetProperty("blocks").GetUInt64(), Is.EqualTo(5));
        Assert.That(json.GetProperty("written_since").GetUInt32(), Is.EqualTo(1));
        AssertDocumented(json, "invalidate");
    }
}
