using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dva.EndToEnd.Tests.Demo;
using Dva.Manager.Provider;
using Dva.Shared.Tables;

namespace Dva.EndToEnd.Tests.Fleet;

/// <summary>
/// A DVA run by the real manager with units as a remote operator would run them: <c>dva-node agent</c> processes the
/// test starts (so they outlive a manager restart, as units on other machines do), a dispatcher on two <c>udp:</c>
/// wires on loopback, and <c>dva-node traffic</c> on the other ends of the wires, whose progress lines count every
/// opened, completed and broken flow. Dispose kills every process and deletes the database.
/// </summary>
internal sealed class FleetLab : IDisposable
{
    public const string Token = "e2e-fleet-enrollment-token-0123456789";
    public const string Dispatcher = "fleet-dispatcher";

    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("dva-fleet-").FullName;
    private readonly Dictionary<string, (Process Process, string[] Arguments)> _units = new(StringComparer.Ordinal);
    private readonly List<ManagerProcess> _managers = [];
    private readonly string[] _settings;
    private readonly IPEndPoint _outsideDispatcher = FreePorts.Udp();
    private readonly IPEndPoint _outsideHosts = FreePorts.Udp();
    private readonly IPEndPoint _insideDispatcher = FreePorts.Udp();
    private readonly IPEndPoint _insideHosts = FreePorts.Udp();
    private Process? _traffic;
    private TrafficFigures _latest = new(0, 0, 0, 0);
    private long _progressLines;
    private int _trafficRuns;

    public FleetLab(params string[] settings)
    {
        _settings =
        [
            "--Dva:Demo:Enabled=false",
            "--Dva:Elasticity:Enabled=false",
            $"--Dva:EnrollmentToken={Token}",
            $"--Dva:Database={Path.Combine(_directory, "dva.db")}",
            "--Dva:Hub:RegistrationsPerSecond=50",
            .. settings,
        ];
        Manager = Start(null);
    }

    public ManagerProcess Manager { get; private set; }

    public long DvaId { get; private set; }

    /// <summary>The generator's latest progress line.</summary>
    public TrafficFigures Traffic => Volatile.Read(ref _latest);

    /// <summary>Progress lines the generator printed (one a second): the generator's own clock.</summary>
    public long ProgressLines => Interlocked.Read(ref _progressLines);

    /// <summary>Creates the DVA (two interfaces on the dispatcher's wires, accept by default) wanting <paramref name="dataPlanes"/>.</summary>
    public async Task CreateDvaAsync(int dataPlanes)
    {
        await Manager.WaitForAsync("the manager", Patience, async () => await Manager.TryGetAsync("api/v1/nodes") is { } v ? (object)v : null);
        var created = await Manager.Http.PostAsJsonAsync("api/v1/dvas", new
        {
            name = "fleet",
            bucketCount = 4096,
            firewallDefaultPolicy = "accept",
            midStreamPolicy = "loose",
            scaling = new { minDataPlanes = 1, maxDataPlanes = 8, targetUtilizationPercent = 100 },
        });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        DvaId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await PostOkAsync($"api/v1/dvas/{DvaId}/interfaces", new
        {
            ifid = 1, name = "outside", mac = "02:00:5e:00:00:01", addresses = new[] { "192.0.2.1/24" },
            attachment = new { nodeName = Dispatcher, frameSource = OutsideSource },
        });
        await PostOkAsync($"api/v1/dvas/{DvaId}/interfaces", new
        {
            ifid = 2, name = "inside", mac = "02:00:5e:00:00:02", addresses = new[] { "198.51.100.1/24" },
            attachment = new { nodeName = Dispatcher, frameSource = InsideSource },
        });
        await ScaleAsync(dataPlanes);
    }

    public Task ScaleAsync(int dataPlanes) => PostOkAsync($"api/v1/dvas/{DvaId}:scale", new { dataPlanes });

    /// <summary>Starts the dispatcher and <paramref name="dataPlanes"/> units named <c>fleet-dp-N</c>.</summary>
    public void StartUnits(int dataPlanes)
    {
        StartUnit(Dispatcher, [OutsideSource, InsideSource]);
        for (var i = 1; i <= dataPlanes; i++)
        {
            StartUnit(DataPlane(i), []);
        }
    }

    public static string DataPlane(int index) => string.Create(CultureInfo.InvariantCulture, $"fleet-dp-{index}");

    /// <summary>Starts (or starts again, with the same ports) a <c>dva-node agent</c>.</summary>
    public void StartUnit(string name, string[] sources)
    {
        string[] arguments;
        if (_units.TryGetValue(name, out var earlier))
        {
            arguments = earlier.Arguments;
            earlier.Process.Dispose();
        }
        else
        {
            arguments =
            [
                "agent", "--manager", Manager.BaseAddress.ToString(), "--enrollment", Token, "--name", name,
                "--tunnel", FreePorts.Udp().ToString(), "--control", FreePorts.Tcp().ToString(), "--stop-on-stdin-close",
                .. sources.SelectMany(s => new[] { "--source", s }),
            ];
        }

        _units[name] = (StartNode(arguments, null), arguments);
    }

    /// <summary>SIGKILL: the unit can tell no one.</summary>
    public void KillUnit(string name) => _units[name].Process.Kill(entireProcessTree: true);

    /// <summary>Asks a unit to stop (its standard input closes) and waits for it to exit.</summary>
    public async Task StopUnitAsync(string name)
    {
        var process = _units[name].Process;
        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(Patience);
    }

    public Uri Control(string name)
    {
        var arguments = _units[name].Arguments;
        return new Uri($"http://{arguments[Array.IndexOf(arguments, "--control") + 1]}/");
    }

    /// <summary>Kills the manager without warning; the units are not its children and keep running.</summary>
    public async Task KillManagerAsync()
    {
        Manager.KillHard();
        await Manager.WaitForExitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>A new manager process on the same address and database.</summary>
    public async Task RestartManagerAsync()
    {
        Manager = Start(Manager.BaseAddress);
        await Manager.WaitForAsync("the restarted manager", Patience, async () => await Manager.TryGetAsync("api/v1/nodes") is { } v ? (object)v : null);
    }

    /// <summary>Starts the traffic generator: flows live about <paramref name="segments"/> × 400 ms, at most <paramref name="rate"/> new a second.</summary>
    /// <remarks>
    /// <paramref name="extra"/> adds generator options, e.g. <c>--backoff</c>; a second run after
    /// <see cref="StopTrafficAsync"/> passes <c>--first-flow</c> so its flows do not reuse the first run's ports.
    /// </remarks>
    public void StartTraffic(int concurrency = 150, int rate = 60, int segments = 6, params string[] extra)
    {
        string[] arguments =
        [
            "traffic",
            "--client-wire", $"LOCAL={_outsideHosts},PEER={_outsideDispatcher}",
            "--server-wire", $"LOCAL={_insideHosts},PEER={_insideDispatcher}",
            "--flows", "0", "--seconds", "600",
            "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture),
            "--rate", rate.ToString(CultureInfo.InvariantCulture),
            "--segments", segments.ToString(CultureInfo.InvariantCulture),
            "--step-ms", "400",
            // TCP only: a closed TCP flow leaves the data plane's table in 10 s, a UDP flow only after 60 s idle, and
            // history entries (and drained units) go when their flows have left.
            "--udp-every", "0",
            "--progress-seconds", "1", "--json", "--stop-on-stdin-close",
            .. extra,
        ];
        // A line the previous run printed late must not overwrite this run's figures.
        var run = Interlocked.Increment(ref _trafficRuns);
        Volatile.Write(ref _latest, new TrafficFigures(0, 0, 0, 0));
        _traffic = StartNode(arguments, line =>
        {
            if (Volatile.Read(ref _trafficRuns) == run)
            {
                OnTrafficLine(line);
            }
        });
    }

    /// <summary>Stops the traffic generator (its figures stay readable until the next <see cref="StartTraffic"/>).</summary>
    public async Task StopTrafficAsync()
    {
        _traffic!.StandardInput.Close();
        await _traffic.WaitForExitAsync().WaitAsync(Patience);
        _traffic.Dispose();
        _traffic = null;
    }

    /// <summary>Waits until the generator has completed <paramref name="more"/> flows beyond <paramref name="than"/>.</summary>
    /// <remarks>Not through the manager: it may be down meanwhile, which is the point of some waits.</remarks>
    public async Task<TrafficFigures> WaitForCompletedAsync(long than, long more, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (Traffic.Completed < than + more)
        {
            Assert.True(deadline.Elapsed < Patience, $"Timed out waiting for {what}: {Traffic}");
            Assert.False(_traffic!.HasExited, "the traffic generator exited");
            await Task.Delay(200);
        }

        return Traffic;
    }

    /// <summary>Waits for <paramref name="seconds"/> more progress lines: time as the generator measures it, while it runs.</summary>
    public async Task WaitForGeneratorSecondsAsync(int seconds)
    {
        var until = ProgressLines + seconds;
        var deadline = Stopwatch.StartNew();
        while (ProgressLines < until)
        {
            Assert.True(deadline.Elapsed < Patience + TimeSpan.FromSeconds(seconds), "the traffic generator stopped reporting");
            Assert.False(_traffic!.HasExited, "the traffic generator exited");
            await Task.Delay(200);
        }
    }

    /// <summary>The newest table version the manager recorded, decoded; null before the first.</summary>
    public async Task<(TableVersion Table, bool RolledOut)?> LatestTableAsync()
    {
        if (await Manager.TryGetAsync($"api/v1/dvas/{DvaId}/tables?pageSize=1") is not { } list
            || list.GetProperty("items").EnumerateArray().FirstOrDefault() is not { ValueKind: JsonValueKind.Object } latest)
        {
            return null;
        }

        var version = latest.GetProperty("version").GetInt64();
        if (await Manager.TryGetAsync($"api/v1/dvas/{DvaId}/tables/{version}") is not { } detail)
        {
            return null;
        }

        var error = TableCodec.TryDecode(detail.GetProperty("snapshot").GetBytesFromBase64(), out var table);
        Assert.Equal(TableCodecError.None, error);
        return (table!, latest.GetProperty("rolledOut").ValueKind == JsonValueKind.String);
    }

    /// <summary>Waits for a rolled-out version that satisfies <paramref name="predicate"/>.</summary>
    public async Task<TableVersion> WaitForTableAsync(string what, Func<TableVersion, bool> predicate, TimeSpan? timeout = null) =>
        await Manager.WaitForAsync(what, timeout ?? Patience, async () =>
            await LatestTableAsync() is ({ } table, true) && predicate(table) ? table : null);

    public static int Serving(TableVersion table) => table.Peers.Values.Count(p => p.Role == PeerRole.DataPlane && p.Weight > 0);

    /// <summary>The DVA's audit entries, oldest first.</summary>
    public async Task<List<JsonElement>> AuditAsync() =>
        await Manager.TryGetAsync($"api/v1/audit?dvaId={DvaId}&pageSize=500") is { } page
            ? [.. page.GetProperty("items").EnumerateArray().Reverse()]
            : [];

    public async Task<List<JsonElement>> RolloutsAsync() =>
        await Manager.TryGetAsync($"api/v1/dvas/{DvaId}/rollouts") is { } list ? [.. list.EnumerateArray()] : [];

    /// <summary>Every unit's node record by name.</summary>
    public async Task<Dictionary<string, JsonElement>> NodesAsync() =>
        await Manager.TryGetAsync("api/v1/nodes") is { } list
            ? list.EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!, StringComparer.Ordinal)
            : [];

    public void Dispose()
    {
        foreach (var process in _units.Values.Select(u => u.Process).Append(_traffic).OfType<Process>())
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        foreach (var manager in _managers)
        {
            manager.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // The system cleans its temporary directory.
        }
    }

    private string OutsideSource => $"udp:LOCAL={_outsideDispatcher},PEER={_outsideHosts}";

    /// <summary>The dispatcher's end of the inside wire (a test may take the port first to make the source fail to open).</summary>
    public IPEndPoint InsideDispatcher => _insideDispatcher;

    private string InsideSource => $"udp:LOCAL={_insideDispatcher},PEER={_insideHosts}";

    private ManagerProcess Start(Uri? address)
    {
        var manager = new ManagerProcess(address, _settings);
        _managers.Add(manager);
        return manager;
    }

    private async Task PostOkAsync(string path, object body)
    {
        using var response = await Manager.Http.PostAsJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private void OnTrafficLine(string line)
    {
        if (!line.StartsWith('{'))
        {
            return;
        }

        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.TryGetProperty("opened", out var opened) && root.TryGetProperty("broken", out var broken))
        {
            Volatile.Write(ref _latest, new TrafficFigures(opened.GetInt64(), root.GetProperty("completed").GetInt64(), broken.GetInt64(),
                root.TryGetProperty("retransmits", out var r) ? r.GetInt64() : 0));
            Interlocked.Increment(ref _progressLines);
        }
    }

    private Process StartNode(string[] arguments, Action<string>? onLine)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dva-node.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                onLine?.Invoke(line);
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Manager.Track([process.Id]);
        return process;
    }
}

/// <summary>The traffic generator's cumulative figures.</summary>
internal sealed record TrafficFigures(long Opened, long Completed, long Broken, long Retransmits);
