using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// A foreground mount under a Type=notify unit, with the test in systemd's place: it listens on the
/// datagram socket NOTIFY_SOCKET names, and plays the journal with a file JOURNAL_STREAM names.
/// </summary>
[TestFixture]
[Category("Mount")]
public class SystemdNotifyTests : TrackedMountFixture
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(60);

    private static Socket Listen(string address)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address));
        socket.ReceiveTimeout = (int)s_patience.TotalMilliseconds;
        return socket;
    }

    /// <summary>The next datagram, as its KEY=VALUE lines; fails the test when none comes.</summary>
    private static Dictionary<string, string> Receive(Socket socket)
    {
        var buffer = new byte[4096];
        int n;
        try
        {
            n = socket.Receive(buffer);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut)
        {
            Assert.Fail($"no notification within {s_patience.TotalSeconds} s");
            throw;
        }
        return Encoding.UTF8.GetString(buffer, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
    }

    private static Dictionary<string, string> ReceiveUntil(Socket socket, string key, string? containing = null)
    {
        while (true)
        {
            var message = Receive(socket);
            if (message.TryGetValue(key, out var value) && (containing is null || value.Contains(containing, StringComparison.Ordinal))) return message;
        }
    }

    private Process StartForeground(string notifySocket) =>
        Erafs.Start(new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifySocket },
            "mount", "--foreground", "--origin", Image, "--metadata", Meta, "--create", Mnt);

    [Test]
    public void Ready_comes_once_the_mount_serves_then_status_then_stopping_on_sigterm()
    {
        var address = Dir.File("notify.sock");
        using var socket = Listen(address);
        using var p = StartForeground(address);

        var ready = Receive(socket);
        // Looked at the moment READY=1 arrives: a manager starting the next unit now finds the mount serving.
        var serving = MountPointCheck.IsMountPoint(Path.GetFullPath(Mnt)) && File.Exists(Path.Combine(Mnt, "device"));
        var info = serving ? Control("info") : "";
        Assert.That(ready.GetValueOrDefault("READY"), Is.EqualTo("1"), "the first notification is READY=1");
        Assert.That(serving, Is.True, "MOUNT/device serves when READY=1 arrives");
        Assert.That(info, Does.Contain("current_era: 1"));
        Assert.That(ready.GetValueOrDefault("STATUS"), Does.Contain("era 1").And.Contain("serving"));

        File.AppendAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
        // Receive fails the test when no status naming the new era comes.
        Assert.That(ReceiveUntil(socket, "STATUS", "era 2")["STATUS"], Does.Contain("serving"));

        Mono.Unix.Native.Syscall.kill(p.Id, Mono.Unix.Native.Signum.SIGTERM);
        var stopping = ReceiveUntil(socket, "STOPPING");
        Assert.That(stopping["STOPPING"], Is.EqualTo("1"));
        Assert.That(p.WaitForExit((int)s_patience.TotalMilliseconds), Is.True, "exits after SIGTERM");
        Assert.That(p.ExitCode, Is.Zero, p.StandardError.ReadToEnd());
    }

    [Test]
    public void An_abstract_socket_name_works_and_a_plain_unmount_announces_stopping()
    {
        var address = "@erafs-notify-" + Guid.NewGuid().ToString("N");
        using var socket = Listen(address);
        using var p = StartForeground(address);
        Assert.That(Receive(socket).GetValueOrDefault("READY"), Is.EqualTo("1"));

        var unmount = Task.Run(() => Erafs.Run("unmount", Mnt));
        Assert.That(ReceiveUntil(socket, "STOPPING")["STATUS"], Does.Contain("unmounting"));
        unmount.Result.Ok();
        Assert.That(p.WaitForExit((int)s_patience.TotalMilliseconds), Is.True);
        Assert.That(p.ExitCode, Is.Zero);
    }

    /// <summary>Runs a foreground mount with stderr appended to a file, and JOURNAL_STREAM set to the given value.</summary>
    private Process StartWithStderrIn(string stderrFile, string journalStream)
    {
        var psi = new ProcessStartInfo("sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-c", "exec \"$@\" 2>>\"$ERAFS_TEST_STDERR\"", "sh", "dotnet", Erafs.Dll, "mount", "--foreground",
                     "--origin", Image, "--metadata", Meta, Mnt })
            psi.ArgumentList.Add(a);
        psi.Environment["ERAFS_TEST_STDERR"] = stderrFile;
        psi.Environment["JOURNAL_STREAM"] = journalStream;
        var p = Process.Start(psi)!;
        p.StandardInput.Close();
        return p;
    }

    private string[] LogLinesOfOneMount(string stderrFile, string journalStream)
    {
        using (var p = StartWithStderrIn(stderrFile, journalStream))
        {
            Assert.That(Erafs.WaitFor(() => File.Exists(Path.Combine(Mnt, "device")), s_patience), Is.True, File.ReadAllText(stderrFile));
            // A refused control is an error line.
            Assert.Throws<IOException>(() => File.AppendAllText(Path.Combine(Mnt, "message"), "frobnicate\n"));
            Erafs.Run("unmount", Mnt).Ok();
            Assert.That(p.WaitForExit((int)s_patience.TotalMilliseconds), Is.True);
        }
        return File.ReadAllLines(stderrFile);
    }

    [Test]
    public void Log_lines_carry_syslog_priorities_only_when_stderr_is_the_journal()
    {
        Erafs.Run("create", "--origin", Image, "--metadata", Meta).Ok();
        // A grown origin makes the open log a warning.
        using (var f = new FileStream(Image, FileMode.Open)) f.SetLength(128L << 20);
        var journal = Dir.File("journal");
        File.WriteAllText(journal, "");
        Assert.That(Mono.Unix.Native.Syscall.stat(journal, out var st), Is.Zero);
        var lines = LogLinesOfOneMount(journal, $"{st.st_dev}:{st.st_ino}");

        Assert.That(lines, Is.Not.Empty);
        Assert.That(lines, Has.All.Match(@"^<[346]>"), "every line carries a priority");
        Assert.That(lines, Has.Some.Match(@"^<6>info: serving "));
        Assert.That(lines, Has.Some.Match(@"^<4>warning: the origin grew"));
        Assert.That(lines, Has.Some.Match(@"^<3>error: message refused"));

        // Another file's identity in JOURNAL_STREAM: stderr is not the journal (a redirected child of a unit).
        var plain = Dir.File("plain");
        File.WriteAllText(plain, "");
        var other = LogLinesOfOneMount(plain, $"{st.st_dev}:{st.st_ino}");
        Assert.That(other, Is.Not.Empty);
        Assert.That(other, Has.None.Match(@"^<\d>"), "no priorities on a stderr that is not the journal");
        Assert.That(other, Has.Some.Match(@"^\d{4}-\d\d-\d\dT.* info: serving "));
    }

    /// <summary>A unit's command line as systemd expands it: ${VAR} is one argument, $VAR splits at spaces.</summary>
    private static string[] Expand(string commandLine, IReadOnlyDictionary<string, string> env) =>
        commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).SelectMany(word =>
            word.StartsWith("${", StringComparison.Ordinal) ? [env[word[2..^1]]]
            : word.StartsWith('$') ? env[word[1..]].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : new[] { word }).ToArray();

    [Test]
    public void The_sample_unit_mounts_with_its_env_file_notifies_and_stops()
    {
        var samples = Path.Combine(Repository.Root(), "samples", "systemd");
        var unit = File.ReadAllLines(Path.Combine(samples, "erafs@.service"));
        string Setting(string key) => unit.Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];
        Assert.That(Setting("Type"), Is.EqualTo("notify"));
        Assert.That(Setting("EnvironmentFile"), Is.EqualTo("/etc/erafs/%i.env"));
        var env = File.ReadAllLines(Path.Combine(samples, "example.env"))
            .Where(l => l.Length > 0 && l[0] != '#')
            .ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
        Assert.That(env.Keys, Is.EquivalentTo(new[] { "ORIGIN", "METADATA", "MOUNTPOINT", "ERAFS_OPTIONS" }));
        env["ORIGIN"] = Image;
        env["METADATA"] = Meta;
        env["MOUNTPOINT"] = Mnt;
        var start = Expand(Setting("ExecStart"), env);
        var stop = Expand(Setting("ExecStop"), env);
        Assert.That(start[0], Is.EqualTo("/usr/local/bin/erafs"));
        Assert.That(start, Does.Contain("--foreground"));
        Assert.That(stop[0], Is.EqualTo("/usr/local/bin/erafs"));

        var address = Dir.File("notify.sock");
        using var socket = Listen(address);
        using var p = Erafs.Start(new Dictionary<string, string> { ["NOTIFY_SOCKET"] = address }, start[1..]);
        Assert.That(Receive(socket).GetValueOrDefault("READY"), Is.EqualTo("1"), "the unit's ExecStart becomes ready");
        Assert.That(File.Exists(Path.Combine(Mnt, "device")), Is.True);
        Erafs.Run(stop[1..]).Ok();
        Assert.That(ReceiveUntil(socket, "STOPPING")["STOPPING"], Is.EqualTo("1"));
        Assert.That(p.WaitForExit((int)s_patience.TotalMilliseconds), Is.True);
        Assert.That(p.ExitCode, Is.Zero, p.StandardError.ReadToEnd());
        Assert.That(Erafs.Run("info", "--format", "json", Meta).Ok().Stdout, Does.Contain("\"clean\":true"), "ExecStop closed the history cleanly");
    }
}
