using System.Globalization;
using System.Net;
using Dva.Manager.Model;
using Dva.Manager.Provider;
using Dva.Manager.Rollout;
using Dva.Manager.Services;
using Dva.Shared.Tables;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Demo;

/// <summary>The demo DVA as it was found or created: its key and the two udp wires (dispatcher's end, generator's end).</summary>
internal sealed record DemoLayout(long DvaKey, int DataPlanes, IPEndPoint OutsideDispatcher, IPEndPoint OutsideHosts, IPEndPoint InsideDispatcher, IPEndPoint InsideHosts)
{
    public string OutsideSource => $"udp:LOCAL={OutsideDispatcher},PEER={OutsideHosts}";

    public string InsideSource => $"udp:LOCAL={InsideDispatcher},PEER={InsideHosts}";
}

/// <summary>What the demo is doing, for <c>GET /api/v1/demo</c> and the dashboard.</summary>
internal sealed record DemoStatusView(bool Enabled, string State, long? DvaId, string? Error, IReadOnlyList<LocalUnitView> Units, DemoTrafficSnapshot? Traffic);

/// <summary>
/// Once the manager listens: unless <see cref="DemoOptions.Enabled"/> is false, finds or creates the demo DVA through
/// the same services as the REST API (DVA, two shared interfaces on <c>udp:</c> wires attached to the local dispatcher
/// unit, firewall rules, the wanted data planes), starts the local units (the fleet reconciler allocates them), waits
/// for the first tables and runs the traffic generator on the wires' other ends, restarting it if it exits. A later
/// start with the same database reuses the DVA and its wires. Prints the start-up banner either way.
/// </summary>
internal sealed partial class DemoBootstrapper(
    IServiceScopeFactory scopes,
    LocalComputeUnitProvider units,
    ManagerEndpoint endpoint,
    RolloutCoordinator rollout,
    DemoTraffic traffic,
    StartupBanner banner,
    IOptions<DemoOptions> options,
    ILogger<DemoBootstrapper> logger) : BackgroundService
{
    public const string DispatcherName = "demo-dispatcher";
    public const string OutsideMac = "02:00:5e:00:00:01";
    public const string InsideMac = "02:00:5e:00:00:02";
    public const string OutsideAddress = "192.0.2.1/24";
    public const string InsideAddress = "198.51.100.1/24";

    /// <summary>A year: the generator runs until the manager stops it.</summary>
    private const int GeneratorSeconds = 365 * 24 * 3600;

    private static readonly TimeSpan RestartPause = TimeSpan.FromSeconds(5);

    private volatile string _state = "starting";
    private volatile string? _error;
    private long _dvaKey;

    public static string DataPlaneName(int index) => string.Create(CultureInfo.InvariantCulture, $"demo-dp-{index}");

    public DemoStatusView Status
    {
        get
        {
            var key = Interlocked.Read(ref _dvaKey);
            return new DemoStatusView(options.Value.Enabled, options.Value.Enabled ? _state : "disabled", key == 0 ? null : key, _error, units.Units, traffic.Latest);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Uri manager;
        try
        {
            manager = await endpoint.Address.WaitAsync(stoppingToken);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            _state = "failed";
            _error = e.Message;
            return;
        }

        if (!options.Value.Enabled)
        {
            await banner.PrintAsync(manager, ["Demo: off (Dva:Demo:Enabled=false)."]);
            return;
        }

        try
        {
            var layout = await EnsureDvaAsync(stoppingToken);
            Interlocked.Exchange(ref _dvaKey, layout.DvaKey);
            _state = "starting units";
            var known = await KnownTunnelsAsync(stoppingToken);
            var dispatcher = await units.StartUnitAsync(
                new LocalUnitRequest(DispatcherName, [layout.OutsideSource, layout.InsideSource], known.GetValueOrDefault(DispatcherName)), stoppingToken);
            var dataPlanes = new List<LocalUnitView>();
            for (var i = 1; i <= layout.DataPlanes; i++)
            {
                dataPlanes.Add(await units.StartUnitAsync(new LocalUnitRequest(DataPlaneName(i), null, known.GetValueOrDefault(DataPlaneName(i))), stoppingToken));
            }

            await banner.PrintAsync(manager,
            [
                $"Demo: DVA '{options.Value.DvaName}' (id {layout.DvaKey}), a dispatcher and {layout.DataPlanes} data planes as local processes:",
                $"  {dispatcher.Name} pid {dispatcher.ProcessId}, wires {layout.OutsideSource} (outside) and {layout.InsideSource} (inside)",
                .. dataPlanes.Select(u => $"  {u.Name} pid {u.ProcessId}, tunnel {u.Tunnel}"),
                $"  traffic generator: {options.Value.Concurrency} concurrent flows at up to {options.Value.Rate} new flows/s once the first tables are out " +
                "(figures: GET /api/v1/demo). Turn the demo off with --Dva:Demo:Enabled=false.",
            ]);

            _state = "waiting for tables";
            await WaitForTablesAsync(layout.DvaKey, dispatcher, dataPlanes, stoppingToken);
            await RunTrafficAsync(layout, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The manager is stopping; the provider stops the units.
        }
#pragma warning disable CA1031 // The demo is an extra: its failure is reported, the manager keeps serving.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _state = "failed";
            _error = e.Message;
            LogFailed(logger, e);
        }
    }

    /// <summary>Finds the demo DVA by name, or creates it with its interfaces, rules and wanted data planes.</summary>
    private async Task<DemoLayout> EnsureDvaAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var dvas = services.GetRequiredService<DvaService>();
        var interfaces = services.GetRequiredService<SharedInterfaceService>();
        var o = options.Value;
        if ((await dvas.ListAsync(ct)).FirstOrDefault(d => d.Spec.Name == o.DvaName) is { } existing)
        {
            var list = Value(await interfaces.ListAsync(existing.Id, ct), "list the demo interfaces");
            var outside = list.FirstOrDefault(i => i.Spec.Ifid == 1)?.Spec.Attachment.FrameSource;
            var inside = list.FirstOrDefault(i => i.Spec.Ifid == 2)?.Spec.Attachment.FrameSource;
            if (!TryParseWire(outside, out var outsideLocal, out var outsidePeer) || !TryParseWire(inside, out var insideLocal, out var insidePeer))
            {
                throw new InvalidOperationException(
                    $"DVA '{o.DvaName}' exists but its interfaces 1 and 2 are not udp: wires ({outside}, {inside}); delete it to let the demo recreate it.");
            }

            LogReused(logger, existing.Id, existing.DesiredDataPlanes);
            return new DemoLayout(existing.Id, existing.DesiredDataPlanes, outsideLocal, outsidePeer, insideLocal, insidePeer);
        }

        var dva = Value(await dvas.CreateAsync(new DvaSpec
        {
            Name = o.DvaName,
            Description = "Demo DVA run by the manager on its own machine: local units on udp: wires and the built-in traffic generator.",
            ServiceKind = ServiceKind.FirewallAndLoadBalancer,
            BucketCount = o.BucketCount,
            FirewallDefaultPolicy = FirewallPolicy.Accept,
            MidStreamPolicy = MidStreamPolicy.Loose,
            // Elasticity may rebalance weights, but neither scales in below the demo's units nor out on CPU alone
            // (busy share cannot exceed 100 % × 1.2): on a small machine the demo's own processes compete for the CPU.
            Scaling = new ScalingPolicy { MinDataPlanes = o.DataPlanes, MaxDataPlanes = Math.Max(8, o.DataPlanes), TargetUtilizationPercent = 100 },
        }, ct), "create the demo DVA");
        var layout = new DemoLayout(dva.Id, o.DataPlanes, FreePorts.Udp(), FreePorts.Udp(), FreePorts.Udp(), FreePorts.Udp());
        Value(await interfaces.CreateAsync(dva.Id, new SharedInterfaceSpec
        {
            Ifid = 1, Name = "outside", Mac = OutsideMac, Addresses = [OutsideAddress],
            Attachment = new InterfaceAttachment { NodeName = DispatcherName, FrameSource = layout.OutsideSource },
        }, ct), "create the outside interface");
        Value(await interfaces.CreateAsync(dva.Id, new SharedInterfaceSpec
        {
            Ifid = 2, Name = "inside", Mac = InsideMac, Addresses = [InsideAddress],
            Attachment = new InterfaceAttachment { NodeName = DispatcherName, FrameSource = layout.InsideSource },
        }, ct), "create the inside interface");
        var rules = services.GetRequiredService<FirewallRuleService>();
        Value(await rules.CreateAsync(dva.Id, new FirewallRuleSpec
        {
            Action = RuleAction.Accept, Protocol = RuleProtocol.Tcp, Source = "192.0.2.0/24", Destination = "198.51.100.0/24", IngressIfid = 1,
            Description = "clients reach the servers over TCP",
        }, ct), "create a firewall rule");
        Value(await rules.CreateAsync(dva.Id, new FirewallRuleSpec
        {
            Action = RuleAction.Drop, Protocol = RuleProtocol.Tcp, DestinationPorts = "23", Description = "no telnet",
        }, ct), "create a firewall rule");
        Value(await dvas.ScaleAsync(dva.Id, new ScaleRequest { DataPlanes = o.DataPlanes }, null, ct), "ask for the demo data planes");
        LogCreated(logger, dva.Id, o.DataPlanes);
        return layout;
    }

    /// <summary>
    /// The tunnel endpoints the demo's units had in the registry (a restart reuses them when free, so the stored
    /// tables still name the right endpoints and need no new version).
    /// </summary>
    private async Task<Dictionary<string, string>> KnownTunnelsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var nodes = await scope.ServiceProvider.GetRequiredService<NodeRegistry>().ListAsync(null, ct);
        return nodes.Where(n => n.Name == DispatcherName || n.Name.StartsWith("demo-dp-", StringComparison.Ordinal))
            .ToDictionary(n => n.Name, n => n.TunnelEndpoint, StringComparer.Ordinal);
    }

    /// <summary>
    /// Waits (bounded) until committed tables hold this run's dispatcher and at least one of its data planes, at the
    /// endpoints they listen on now: the generator needs both from its first flow, and after a restart the stored
    /// tables may still name the previous run's endpoints.
    /// </summary>
    private async Task WaitForTablesAsync(long dvaKey, LocalUnitView dispatcher, IReadOnlyList<LocalUnitView> dataPlanes, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.ReadyTimeout);
        var dataPlaneTunnels = dataPlanes.Select(u => u.Tunnel).ToHashSet(StringComparer.Ordinal);
        try
        {
            while (rollout.Current(dvaKey) is not { } table || rollout.InFlight(dvaKey) is not null
                || !table.Peers.Values.Any(p => p.Role == PeerRole.Dispatcher && p.Endpoint.ToString() == dispatcher.Tunnel)
                || !table.Peers.Values.Any(p => p.Role == PeerRole.DataPlane && dataPlaneTunnels.Contains(p.Endpoint.ToString())))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            LogNoTables(logger, dvaKey, options.Value.ReadyTimeout.TotalSeconds);
        }
    }

    private async Task RunTrafficAsync(DemoLayout layout, CancellationToken ct)
    {
        var o = options.Value;
        string[] arguments =
        [
            "traffic",
            "--client-wire", $"LOCAL={layout.OutsideHosts},PEER={layout.OutsideDispatcher}",
            "--server-wire", $"LOCAL={layout.InsideHosts},PEER={layout.InsideDispatcher}",
            "--flows", "0", "--seconds", GeneratorSeconds.ToString(CultureInfo.InvariantCulture),
            "--concurrency", o.Concurrency.ToString(CultureInfo.InvariantCulture),
            "--rate", o.Rate.ToString(CultureInfo.InvariantCulture),
            "--segments", o.Segments.ToString(CultureInfo.InvariantCulture),
            "--step-ms", o.StepMilliseconds.ToString(CultureInfo.InvariantCulture),
            "--progress-seconds", "1", "--json", "--stop-on-stdin-close",
        ];
        while (!ct.IsCancellationRequested)
        {
            _state = "running";
            var pid = 0;
            var generator = units.StartCommand("demo-traffic", arguments, line =>
            {
                if (!traffic.TryReport(line, Volatile.Read(ref pid)))
                {
                    LogGeneratorLine(logger, line);
                }
            });
            Volatile.Write(ref pid, generator.Id);
            LogGeneratorStarted(logger, generator.Id);
            await generator.Exited.WaitAsync(ct);
            traffic.Exited(generator.Id);
            _state = "traffic generator exited; restarting";
            await Task.Delay(RestartPause, ct);
        }
    }

    private static T Value<T>(ServiceResult<T> result, string what) =>
        result.Failure is { } failure
            ? throw new InvalidOperationException($"The demo could not {what}: {failure.Detail} {string.Join("; ", failure.Errors?.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}") ?? [])}")
            : result.Value!;

    /// <summary>Reads <c>udp:LOCAL=ip:port,PEER=ip:port</c>.</summary>
    public static bool TryParseWire(string? source, out IPEndPoint local, out IPEndPoint peer)
    {
        local = peer = new IPEndPoint(IPAddress.None, 0);
        if (source is null || !source.StartsWith("udp:", StringComparison.Ordinal))
        {
            return false;
        }

        IPEndPoint? l = null, p = null;
        foreach (var part in source["udp:".Length..].Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0 || !IPEndPoint.TryParse(part[(eq + 1)..], out var ep))
            {
                return false;
            }

            switch (part[..eq])
            {
                case "LOCAL": l = ep; break;
                case "PEER": p = ep; break;
                default: return false;
            }
        }

        if (l is null || p is null)
        {
            return false;
        }

        (local, peer) = (l, p);
        return true;
    }

    [LoggerMessage(EventId = 4701, Level = LogLevel.Information, Message = "Demo: created DVA {DvaId} with {DataPlanes} data planes wanted")]
    private static partial void LogCreated(ILogger logger, long dvaId, int dataPlanes);

    [LoggerMessage(EventId = 4702, Level = LogLevel.Information, Message = "Demo: reusing DVA {DvaId} ({DataPlanes} data planes wanted)")]
    private static partial void LogReused(ILogger logger, long dvaId, int dataPlanes);

    [LoggerMessage(EventId = 4703, Level = LogLevel.Warning, Message = "Demo: DVA {DvaId} has no tables after {Seconds} s; starting the traffic generator anyway")]
    private static partial void LogNoTables(ILogger logger, long dvaId, double seconds);

    [LoggerMessage(EventId = 4704, Level = LogLevel.Information, Message = "Demo: traffic generator started (pid {Pid})")]
    private static partial void LogGeneratorStarted(ILogger logger, int pid);

    [LoggerMessage(EventId = 4705, Level = LogLevel.Information, Message = "[demo-traffic] {Line}")]
    private static partial void LogGeneratorLine(ILogger logger, string line);

    [LoggerMessage(EventId = 4706, Level = LogLevel.Error, Message = "Demo: could not start; the manager keeps running without it")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
