using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Dva.EndToEnd.Tests.Demo;
using Dva.EndToEnd.Tests.Nfv;

namespace Dva.EndToEnd.Tests.Lab;

/// <summary>
/// A DVA as a real fleet, in network namespaces made here and removed on dispose whatever happened. Around it, the
/// peers of <see cref="NfvLab"/> (client 192.0.2.10, backends B1 198.51.100.11 and B2 198.51.100.12 with nginx, and
/// iperf3 servers started on demand). Every unit is a real <c>dva-node agent</c> in its own namespace with one veth
/// <c>fab</c> to the bridge of the fabric namespace (203.0.113.0/24), which carries the tunnel and reaches the real
/// manager process in the root namespace (203.0.113.254 on a host-side veth). The dispatcher's namespace is NfvLab's
/// DVA namespace: it also holds the veth ends to the client and backend segments, its <c>afpacket:</c> frame sources.
/// Data planes are 203.0.113.11, .12, …; the dispatcher 203.0.113.1. Each unit's control API is 127.0.0.1:7070 in
/// its own namespace. Root only.
/// </summary>
internal sealed class Lab : IDisposable
{
    public const string EnrollmentToken = "lab-enrollment-token-0123456789abcdef";
    public const string ManagerAddress = "203.0.113.254";
    public const string DispatcherAddress = "203.0.113.1";
    public const int TunnelPort = 6090;
    public const int ControlPort = 7070;

    /// <summary>The unit's link to the fabric, in its namespace.</summary>
    public const string FabricLink = "fab";

    /// <summary>Client side (ifid 1) and backend side (ifid 2) of the dispatcher: NfvLab's veth ends.</summary>
    public const string OutsideSource = "afpacket:nfc-d";
    public const string InsideSource = "afpacket:nfb-d";

    /// <summary>A jumbo fabric MTU: a tunnel datagram of up to 64 KiB crosses it whole, unfragmented.</summary>
    public const int JumboFabricMtu = 65535;

    private static readonly TimeSpan ManagerStartup = TimeSpan.FromSeconds(120);

    private readonly NfvLab _nfv;
    private readonly int _fabricMtu;
    private readonly Dictionary<string, LabUnit> _units = new(StringComparer.Ordinal);
    private readonly ManagerProcessOptions _managerOptions;
    private readonly string[] _managerSettings;
    private readonly StringBuilder _earlierManagers = new();

    /// <param name="dataPlanes">Namespaces for this many data-plane units (started with <see cref="StartUnit"/>).</param>
    /// <param name="managerSettings">Extra manager command-line settings (<c>--Dva:Hub:FailureTimeout=…</c>).</param>
    public Lab(int dataPlanes, params string[] managerSettings)
        : this(dataPlanes, superFrames: false, 1500, managerSettings)
    {
    }

    /// <param name="dataPlanes">Namespaces for this many data-plane units (started with <see cref="StartUnit"/>).</param>
    /// <param name="superFrames">
    /// Made for a DVA with <c>superFrames</c>: the hosts keep the veths' default offloads (TSO on, see <see cref="NfvLab"/>).
    /// </param>
    /// <param name="fabricMtu">The MTU of the units' fabric links (1 500, or <see cref="JumboFabricMtu"/>).</param>
    /// <param name="managerSettings">Extra manager command-line settings (<c>--Dva:Hub:FailureTimeout=…</c>).</param>
    public Lab(int dataPlanes, bool superFrames, int fabricMtu, params string[] managerSettings)
    {
        _nfv = new NfvLab(defaultOffloads: superFrames);
        _fabricMtu = fabricMtu;
        try
        {
            Fabric = _nfv.AddNamespace("f");
            NfvLab.Run("ip", $"-n {Fabric} link add br0 type bridge");
            NfvLab.Run("ip", $"-n {Fabric} link set br0 up");
            HostLink = $"dvl{Tag}";
            NfvLab.Run("ip", $"link add {HostLink} type veth peer name mgr netns {Fabric}");
            NfvLab.Run("ip", $"addr add {ManagerAddress}/24 dev {HostLink}");
            NfvLab.Run("ip", $"link set {HostLink} up");
            NfvLab.Run("ip", $"-n {Fabric} link set mgr master br0 up");

            Dispatcher = AddUnit("dispatcher", _nfv.Dva, DispatcherAddress, [OutsideSource, InsideSource]);
            for (var i = 1; i <= dataPlanes; i++)
            {
                var ns = _nfv.AddNamespace($"u{i}");
                AddUnit(string.Create(CultureInfo.InvariantCulture, $"dp{i}"), ns, string.Create(CultureInfo.InvariantCulture, $"203.0.113.{10 + i}"), []);
            }

            var directory = Path.Combine(_nfv.Directory, "manager");
            System.IO.Directory.CreateDirectory(directory);
            _managerOptions = new ManagerProcessOptions { Listen = IPAddress.Parse(ManagerAddress), Port = ManagerProcess.FreeTcpPort(), Directory = directory };
            _managerSettings =
            [
                "--Dva:Demo:Enabled=false",
                "--Dva:Elasticity:Enabled=false",
                "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff|",
                $"--Dva:EnrollmentToken={EnrollmentToken}",
                .. managerSettings,
            ];
        }
        catch
        {
            _nfv.Dispose();
            throw;
        }
    }

    public string Tag => _nfv.Tag;

    public string Directory => _nfv.Directory;

    public string Client => _nfv.Client;

    public string Backend1 => _nfv.Backend1;

    public string Backend2 => _nfv.Backend2;

    /// <summary>The namespace of the tunnel bridge <c>br0</c> (capture the tunnel there).</summary>
    public string Fabric { get; }

    /// <summary>The manager's veth in the root namespace.</summary>
    public string HostLink { get; }

    public LabUnit Dispatcher { get; }

    public IReadOnlyList<LabUnit> DataPlanes => [.. _units.Values.Where(u => u != Dispatcher)];

    /// <summary>The running manager, null between <see cref="StopManagerAsync"/> and <see cref="StartManagerAsync"/>.</summary>
    public ManagerProcess? Manager { get; private set; }

    public HttpClient Api => (Manager ?? throw new InvalidOperationException("the manager is not running")).Http;

    public LabUnit Unit(string name) => _units[name];

    /// <summary>Starts the manager (same database and address every time) and waits until its API answers.</summary>
    public async Task StartManagerAsync()
    {
        Assert.Null(Manager);
        Manager = new ManagerProcess(_managerOptions, _managerSettings);
        await Manager.WaitForAsync("the manager's API", ManagerStartup, async () => await Manager.TryGetAsync("api/v1/dvas") is { } v ? (object)v : null);
    }

    /// <summary>SIGTERM to the manager, as systemd stops it; the units keep forwarding on their tables.</summary>
    public Task StopManagerAsync() => EndManagerAsync(m => m.Terminate());

    /// <summary>SIGKILL to the manager: no cleanup runs.</summary>
    public Task KillManagerAsync() => EndManagerAsync(m => m.KillHard());

    public async Task RestartManagerAsync()
    {
        await StopManagerAsync();
        await StartManagerAsync();
    }

    /// <summary>Starts <paramref name="unit"/>'s <c>dva-node agent</c> in its namespace; it registers with the manager by itself.</summary>
    public void StartUnit(LabUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        Assert.True(unit.Process is null || unit.Process.HasExited, $"{unit.Name} is already running");
        var dll = Path.Combine(AppContext.BaseDirectory, "dva-node.dll");
        var sources = string.Concat(unit.Sources.Select(s => $" --source {s}"));
        unit.Log($"--- start {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
        unit.Process = _nfv.Spawn(unit.Namespace,
            $"dotnet {dll} agent --manager http://{ManagerAddress}:{_managerOptions.Port}/ --enrollment {EnrollmentToken} --name {unit.Name}" +
            $" --tunnel {unit.Address}:{TunnelPort} --control 127.0.0.1:{ControlPort}{sources} --stop-on-stdin-close",
            unit.Log, holdStdin: true);
    }

    /// <summary>SIGKILL to the unit's process: its flows are gone with it.</summary>
    public static void KillUnit(LabUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        if (unit.Process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    public void RestartUnit(LabUnit unit)
    {
        KillUnit(unit);
        StartUnit(unit);
    }

    /// <summary>Link down on the unit's side: it can neither reach the manager nor any peer.</summary>
    public static void CutLink(LabUnit unit) => NfvLab.Run("ip", $"-n {unit?.Namespace} link set {FabricLink} down");

    public static void RestoreLink(LabUnit unit) => NfvLab.Run("ip", $"-n {unit?.Namespace} link set {FabricLink} up");

    /// <summary>The unit's control API answer at <paramref name="path"/> (<c>counters</c>, <c>table</c>, <c>flows</c>); null while it has no role or does not answer.</summary>
    public static JsonElement? Control(LabUnit unit, string path)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var (code, output) = NfvLab.Exec(unit.Namespace, $"curl -sS --fail --max-time 5 http://127.0.0.1:{ControlPort}/{path}", TimeSpan.FromSeconds(15));
        if (code != 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(output);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>One tunnel counter (<c>PuntReceived</c>, <c>DispatchSent</c>…) of the unit's running role; 0 when it has none.</summary>
    public static long TunnelCounter(LabUnit unit, string name) =>
        Control(unit, "counters") is { } counters && counters.GetProperty("tunnel").TryGetProperty(name, out var value) ? value.GetInt64() : 0;

    /// <summary>The table version the unit forwards with; null when it has none (or its control API did not answer for 20 s).</summary>
    public static async Task<long?> TableVersionAsync(LabUnit unit)
    {
        var watch = Stopwatch.StartNew();
        do
        {
            if (Control(unit, "table") is { } table)
            {
                return table.GetProperty("version").GetInt64();
            }

            await Task.Delay(500);
        }
        while (watch.Elapsed < TimeSpan.FromSeconds(20));
        return null;
    }

    /// <summary>The hosts' veths compute their checksums in software, as a DVA on plain <c>afpacket:IF</c> sources needs.</summary>
    public void SoftwareChecksumsOnHosts() => _nfv.SoftwareChecksumsOnHosts();

    /// <summary>Runs a shell command in a namespace: (exit code, output).</summary>
    public static (int Code, string Output) Exec(string ns, string command, TimeSpan? timeout = null) => NfvLab.Exec(ns, command, timeout);

    /// <summary>As <see cref="Exec"/>, the process started before this returns; for commands that run side by side.</summary>
    public static Task<(int Code, string Output)> ExecAsync(string ns, string command, TimeSpan? timeout = null) => NfvLab.ExecAsync(ns, command, timeout);

    /// <summary>A long-running command in a namespace, killed on dispose; its output lines to <paramref name="onLine"/>.</summary>
    public Process Spawn(string ns, string command, Action<string>? onLine = null) => _nfv.Spawn(ns, command, onLine);

    public void StartIperf3(string ns, string address, int port) => _nfv.StartIperf3(ns, address, port);

    /// <summary>Every unit's recent output and counters, and the manager's tail: for a failure message.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        foreach (var unit in _units.Values)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"=== {unit.Name} ({unit.Namespace}, {unit.Address}) counters: {Control(unit, "counters")?.ToString() ?? "-"}");
            if (Control(unit, "flows") is { ValueKind: JsonValueKind.Array } flows)
            {
                // What keeps a drained unit in the tables: its flows by state, and a few of them.
                var all = flows.EnumerateArray().ToList();
                text.AppendLine(CultureInfo.InvariantCulture, $"flows: {all.Count} ({string.Join(", ", all.GroupBy(f => f.GetProperty("state").GetString()).Select(g => $"{g.Key} {g.Count()}"))})");
                foreach (var f in all.Take(12))
                {
                    text.AppendLine(f.ToString());
                }
            }

            if (Control(unit, "table") is { } table)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"table {table.GetProperty("version")}: {table.GetProperty("historyEntries")} history entries, cause \"{table.GetProperty("cause")}\"");
            }
            text.AppendLine(unit.Tail());
        }

        text.AppendLine(string.Join('\n', _earlierManagers.ToString().Split('\n').TakeLast(80)));
        text.AppendLine("=== manager");
        text.AppendLine(Manager?.Tail() ?? "(not running)");
        return text.ToString();
    }

    /// <summary>What a lab with <paramref name="tag"/> could leave behind: its namespaces, its host link, its processes.</summary>
    public static IReadOnlyList<string> Leftovers(string tag)
    {
        var left = new List<string>();
        var (_, namespaces) = RunHost("ip netns list");
        left.AddRange(namespaces.Split('\n').Where(l => l.StartsWith("dvanfv-", StringComparison.Ordinal) && l.Split(' ')[0].EndsWith(tag, StringComparison.Ordinal)));
        var (_, links) = RunHost("ip -o link show");
        left.AddRange(links.Split('\n').Where(l => l.Contains($"dvl{tag}", StringComparison.Ordinal)));
        foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc").Where(d => char.IsAsciiDigit(Path.GetFileName(d)[0])))
        {
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains($"--name lab{tag}-", StringComparison.Ordinal) || commandLine.Contains($"dvanfv-", StringComparison.Ordinal) && commandLine.Contains(tag, StringComparison.Ordinal))
                {
                    left.Add($"process {Path.GetFileName(dir)}: {commandLine}");
                }
            }
            catch (IOException)
            {
                // Exited meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read.
            }
        }

        return left;
    }

    public void Dispose()
    {
        try
        {
            Manager?.Dispose();
            Manager = null;
        }
        finally
        {
            // Kills the agents (spawned through it) and iperf3, stops nginx, deletes every namespace; the host-side
            // veth goes with its peer in the fabric namespace.
            _nfv.Dispose();
            NfvLab.Run("ip", $"link del {HostLink}", check: false);
        }
    }

    private async Task EndManagerAsync(Action<ManagerProcess> end)
    {
        var manager = Manager ?? throw new InvalidOperationException("the manager is not running");
        end(manager);

        // A graceful stop waits for the web server to drain the units' hub connections (up to the host's shutdown timeout).
        try
        {
            await manager.WaitForExitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            // A manager that does not stop when told to: where its threads are (dotnet-stack, when installed) and what it logged.
            var stack = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools", "dotnet-stack");
            var stacks = File.Exists(stack) ? NfvLab.Run(stack, $"report -p {manager.ProcessId}", check: false) : "(dotnet-stack not installed)";
            throw new TimeoutException($"the manager did not exit within 60 s of SIGTERM\n{manager.Tail()}\n=== stacks\n{stacks}");
        }
        _earlierManagers.AppendLine(CultureInfo.InvariantCulture, $"=== manager stopped at {DateTimeOffset.UtcNow:HH:mm:ss.fff}").Append(manager.Output);
        manager.Dispose();
        Manager = null;
    }

    private LabUnit AddUnit(string role, string ns, string address, string[] sources)
    {
        var peer = "to-" + role;
        NfvLab.Run("ip", $"link add {FabricLink} netns {ns} type veth peer name {peer} netns {Fabric}");
        NfvLab.Run("ip", $"-n {ns} addr add {address}/24 dev {FabricLink}");
        NfvLab.Run("ip", $"-n {ns} link set {FabricLink} mtu {_fabricMtu} up");
        NfvLab.Run("ip", $"-n {Fabric} link set {peer} mtu {_fabricMtu} master br0 up");
        var unit = new LabUnit($"lab{Tag}-{role}", ns, address, sources);
        _units.Add(role, unit);
        return unit;
    }

    private static (int Code, string Output) RunHost(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("sh", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}

/// <summary>One unit of the lab: its namespace, tunnel address, frame sources, current process and output.</summary>
internal sealed class LabUnit(string name, string ns, string address, IReadOnlyList<string> sources)
{
    private readonly StringBuilder _output = new();

    public string Name { get; } = name;

    public string Namespace { get; } = ns;

    public string Address { get; } = address;

    public IReadOnlyList<string> Sources { get; } = sources;

    public Process? Process { get; set; }

    public void Log(string line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public string Tail()
    {
        lock (_output)
        {
            return string.Join('\n', _output.ToString().Split('\n').TakeLast(25));
        }
    }

    public override string ToString() => Name;
}
