using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Dva.Manager.Provider;
using Dva.Manager.Services;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Web.Tests.Browser;

/// <summary>
/// Browser tests run one class at a time and not beside the component tests: the machine is small, a browser and
/// a manager are heavy, and the real agents' heartbeats must not starve.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserTestGroup
{
    public const string Name = "Browser";
}

/// <summary>One <c>udp:</c> wire between a dispatcher and the hosts the traffic generator plays.</summary>
public sealed record Wire(IPEndPoint Dispatcher, IPEndPoint Hosts)
{
    /// <summary>The dispatcher's frame source (its end of the wire).</summary>
    public string Source => $"udp:LOCAL={Dispatcher},PEER={Hosts}";

    /// <summary>The generator's <c>--client-wire</c> / <c>--server-wire</c> (the hosts' end).</summary>
    public string GeneratorEnd => $"LOCAL={Hosts},PEER={Dispatcher}";
}

/// <summary>
/// The real manager on Kestrel with real <c>dva-node agent</c> processes behind it, as an operator on one machine
/// gets them: <c>POST /api/v1/local-units</c> makes the manager's local unit provider start each one (dva-node.dll
/// is built next to this assembly), and they register through the node hub into the unallocated pool (started by
/// <see cref="StartUnitsAsync"/>). One unit
/// faces two <c>udp:</c> wires (outside, inside) and becomes the dispatcher of whichever DVA attaches an interface
/// to it; the others are there for data planes. The manager stops them all when it stops. Elasticity is off, so
/// every table version is one the test caused.
/// </summary>
public sealed class RealUnitsFixture : IAsyncLifetime
{
    public const string Dispatcher = "lab-dispatcher";

    public const int DataPlaneUnits = 3;

    private static readonly TimeSpan Registration = TimeSpan.FromSeconds(60);

    private readonly Lock _startLock = new();
    private Task? _units;

    // A unit that misses heartbeats for the default 3 s is declared failed: on a small machine shared with builds
    // that happens to healthy agents, and the test would watch the reconciler replace them instead of the dashboard.
    public BrowserFixture Browser { get; } = new(new DashboardFactory()
        .WithSetting("Dva:Elasticity:Enabled", "false")
        .WithSetting("Dva:Hub:FailureTimeout", "00:00:30")
        .WithSetting("Dva:Hub:AckTimeout", "00:00:30"));

    public DashboardFactory Factory => Browser.Factory;

    public Wire Outside { get; } = new(FreePorts.Udp(), FreePorts.Udp());

    public Wire Inside { get; } = new(FreePorts.Udp(), FreePorts.Udp());

    public static string DataPlane(int index) => $"lab-dp-{index}";

    public Task InitializeAsync() => Browser.InitializeAsync();

    /// <summary>
    /// Starts the units (once) and waits until all have registered. Tests call it once their DVA has its interfaces:
    /// the reconciler hands pool units to any DVA that wants data planes, and a data plane of a DVA with no interface
    /// yet is given a configuration it must refuse.
    /// </summary>
    public Task StartUnitsAsync()
    {
        lock (_startLock)
        {
            return _units ??= StartAllAsync();
        }
    }

    /// <summary>Runs <c>dva-node traffic</c> on the wires' host ends through the manager's provider (stopped with it).</summary>
    internal LocalProcess StartTraffic(params string[] options) =>
        Factory.Services.GetRequiredService<LocalComputeUnitProvider>().StartCommand(
            "lab-traffic", ["traffic", "--client-wire", Outside.GeneratorEnd, "--server-wire", Inside.GeneratorEnd, "--stop-on-stdin-close", .. options]);

    /// <summary>Probes every quarter second until <paramref name="probe"/> answers, or fails naming <paramref name="what"/>.</summary>
    public static async Task<T> WaitForAsync<T>(string what, TimeSpan timeout, Func<Task<T?>> probe)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        throw new TimeoutException($"Waited {timeout.TotalSeconds:0} s for {what}.");
    }

    public async Task DisposeAsync()
    {
        // The agents go first, killed by their process ids, and the manager then finds nothing left to stop: closing
        // the standard input of an agent that is exiting at that moment can throw in the provider's stop (reported).
        var provider = Factory.Services.GetRequiredService<LocalComputeUnitProvider>();
        foreach (var pid in provider.ProcessIds)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
            catch (InvalidOperationException)
            {
                // Exited between the lookup and the kill.
            }
        }

        await WaitForAsync("the local units to exit", TimeSpan.FromSeconds(30), () =>
            Task.FromResult(provider.Units.All(u => !u.Running) ? provider : null));
        await Browser.DisposeAsync();
    }

    private async Task StartAllAsync()
    {
        using var api = new HttpClient { BaseAddress = Browser.BaseAddress };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DashboardFactory.AdminKey);
        await StartUnitAsync(api, Dispatcher, [Outside.Source, Inside.Source]);
        for (var i = 1; i <= DataPlaneUnits; i++)
        {
            await StartUnitAsync(api, DataPlane(i), null);
        }

        await WaitForAsync($"{DataPlaneUnits + 1} local units registered", Registration, async () =>
        {
            var nodes = await Factory.WithServiceAsync<NodeRegistry, IReadOnlyList<NodeView>>(r => r.ListAsync(null, CancellationToken.None));
            return nodes.Count >= DataPlaneUnits + 1 ? nodes : null;
        });
    }

    private static async Task StartUnitAsync(HttpClient api, string name, string[]? frameSources)
    {
        using var response = await api.PostAsJsonAsync(new Uri("api/v1/local-units", UriKind.Relative), new { name, frameSources });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST local-units {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
