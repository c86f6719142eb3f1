using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NUnit.Framework;

namespace EraFs.TestSupport;

/// <summary>
/// A real three-member etcd cluster for one test: three <c>etcd</c> processes on 127.0.0.1 with their
/// own client and peer ports and data directories under a temporary folder, killed on dispose (and
/// at the test host's exit, should a test never reach its dispose).
/// </summary>
public sealed class EtcdCluster : IDisposable
{
    /// <summary>How long a start or restart may take before the test fails: elections take about a second here.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private static readonly List<EtcdCluster> s_live = [];
    private readonly TestDirectory _dir = new("etcd");
    private readonly Member[] _members;
    private readonly string _initialCluster;
    private readonly string _token = "erafs-test-" + Guid.NewGuid().ToString("N")[..8];

    static EtcdCluster()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (s_live)
            {
                foreach (var c in s_live.ToArray()) c.KillAll();
            }
        };
    }

    private EtcdCluster(int size)
    {
        _members = new Member[size];
        for (var i = 0; i < size; i++)
            _members[i] = new Member($"m{i}", FreePort(), FreePort(), _dir.Subdirectory($"m{i}"));
        _initialCluster = string.Join(',', _members.Select(m => $"{m.Name}={m.PeerUrl}"));
        lock (s_live) s_live.Add(this);
    }

    /// <summary>Skips the test (as for a missing FUSE) where the etcd server is not installed.</summary>
    public static void RequireEtcd()
    {
        if (HostTools.Which("etcd") is null) Assert.Ignore("etcd is not installed (scripts/deps.sh installs etcd-server)");
    }

    /// <summary>Starts three members and waits until every one reports healthy (a leader was elected).</summary>
    public static EtcdCluster Start(int size = 3)
    {
        RequireEtcd();
        var cluster = new EtcdCluster(size);
        try
        {
            foreach (var m in cluster._members) cluster.Launch(m, fresh: true);
            for (var i = 0; i < size; i++) cluster.WaitHealthy(i);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>The client URLs of every member, comma-separated, as <c>--cluster</c> takes them.</summary>
    public string Endpoints => string.Join(',', _members.Select(m => m.ClientUrl));

    public int Size => _members.Length;

    public string ClientUrl(int member) => _members[member].ClientUrl;

    /// <summary>True while the member's process runs.</summary>
    public bool IsRunning(int member) => _members[member].Process is { HasExited: false };

    /// <summary>kill -9 of one member: its data directory stays, so <see cref="Restart"/> brings it back into the cluster.</summary>
    public void Kill(int member)
    {
        var p = _members[member].Process;
        if (p is null) return;
        try
        {
            p.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        p.WaitForExit(10_000);
        p.Dispose();
        _members[member].Process = null;
    }

    /// <summary>Starts a killed member again on its old data directory and waits until it is healthy.</summary>
    public void Restart(int member, bool waitHealthy = true)
    {
        if (IsRunning(member)) return;
        Launch(_members[member], fresh: false);
        if (waitHealthy) WaitHealthy(member);
    }

    /// <summary>Waits (bounded by <see cref="StartTimeout"/>) until the member answers /health with true, i.e. it sees a leader.</summary>
    public void WaitHealthy(int member)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        var last = "";
        while (sw.Elapsed < StartTimeout)
        {
            if (!IsRunning(member))
                Assert.Fail($"etcd member {_members[member].Name} exited: {Tail(member)}");
            try
            {
                last = http.GetStringAsync(_members[member].ClientUrl + "/health").GetAwaiter().GetResult();
                if (last.Contains("\"health\":\"true\"", StringComparison.Ordinal)) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            Thread.Sleep(100);
        }
        Assert.Fail($"etcd member {_members[member].Name} not healthy after {StartTimeout.TotalSeconds} s ({last}): {Tail(member)}");
    }

    /// <summary>The last lines etcd wrote, for a failure message.</summary>
    public string Tail(int member)
    {
        var log = Path.Combine(_members[member].DataDir, "..", $"{_members[member].Name}.log");
        if (!File.Exists(log)) return "(no log)";
        var lines = File.ReadAllLines(log);
        return string.Join('\n', lines.TakeLast(5));
    }

    public void Dispose()
    {
        KillAll();
        lock (s_live) s_live.Remove(this);
        _dir.Dispose();
    }

    private void KillAll()
    {
        for (var i = 0; i < _members.Length; i++) Kill(i);
    }

    private void Launch(Member m, bool fresh)
    {
        var psi = new ProcessStartInfo(HostTools.Which("etcd")!)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] args =
        [
            "--name", m.Name,
            "--data-dir", Path.Combine(m.DataDir, "data"),
            "--listen-client-urls", m.ClientUrl,
            "--advertise-client-urls", m.ClientUrl,
            "--listen-peer-urls", m.PeerUrl,
            "--initial-advertise-peer-urls", m.PeerUrl,
            "--initial-cluster", _initialCluster,
            "--initial-cluster-token", _token,
            "--initial-cluster-state", fresh ? "new" : "existing",
            // Elections in about a second even on a loaded two-core machine; defaults are 100/1000 ms.
            "--heartbeat-interval", "100",
            "--election-timeout", "1000",
        ];
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var logPath = Path.Combine(m.DataDir, "..", $"{m.Name}.log");
        // etcd logs to stderr; keep it on disk for failure messages instead of filling a pipe.
        void Append(string? line)
        {
            if (line is null) return;
            try
            {
                lock (m) File.AppendAllText(logPath, line + "\n");
            }
            catch (IOException)
            {
                // The folder went with the cluster's dispose; a line after the kill is not needed.
            }
        }
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        m.Process = p;
    }

    /// <summary>A port free on 127.0.0.1 now (the kernel's choice, so parallel tests do not collide).</summary>
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private sealed class Member(string name, int clientPort, int peerPort, string dataDir)
    {
        public string Name { get; } = name;
        public string ClientUrl { get; } = $"http://127.0.0.1:{clientPort}";
        public string PeerUrl { get; } = $"http://127.0.0.1:{peerPort}";
        public string DataDir { get; } = dataDir;
        public Process? Process { get; set; }
    }
}
