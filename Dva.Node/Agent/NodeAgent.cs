using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Shared.Contracts;
using Microsoft.Extensions.Logging;

namespace Dva.Node.Agent;

/// <summary>
/// A managed compute unit: the <see cref="ManagerClient"/> plus the <see cref="NodeHost"/> of the role the manager
/// assigned. An assignment with a new configuration restarts the host (with the client's tables, which outlive it),
/// except when only a data plane's services changed (firewall rules, VIPs, members, weights): those are published to
/// the running role, which keeps its flows; <c>unallocated</c> stops it. Heartbeats are built from the host's counters and the data plane's flow table.
/// </summary>
internal sealed partial class NodeAgent : IAsyncDisposable
{
    /// <summary>Flows sent with each heartbeat, at most (the dashboard shows a sample, not every flow).</summary>
    public const int RecentFlowSample = 50;

    private readonly AgentOptions _options;
    private readonly ILogger _logger;
    private readonly ManagerClient _client;
    private readonly SemaphoreSlim _assigning = new(1, 1);
    private readonly Lock _statsLock = new();
    private NodeHost? _host;
    private string? _hostConfig;

    /// <summary>Why the latest assignment's role does not run (sent in heartbeats), or null.</summary>
    private volatile string? _roleError;
    private long _lastBusyTicks;
    private long _lastProcessed;
    private long _lastTimestamp = Stopwatch.GetTimestamp();
    private double _packetsPerBusySecond;
    private Task _refresh = Task.CompletedTask;
    private volatile FlowView _flows = FlowView.Empty;

    public NodeAgent(AgentOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        var hello = new NodeHello(options.Name, options.Tunnel.ToString(), options.Sources, Environment.ProcessorCount,
            typeof(NodeAgent).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0", null, 0);
        _client = new ManagerClient(
            new ManagerClientOptions { Manager = options.Manager, EnrollmentToken = options.EnrollmentToken, Hello = hello },
            OnAssignAsync, Heartbeat, logger: logger);
    }

    /// <summary>The running role, or null while unallocated.</summary>
    public NodeHost? Host => _host;

    /// <summary>Connects (retrying until the manager answers), then runs until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        LogStarting(_logger, _options.Name, _options.Manager, _options.Tunnel.ToString());
        await _client.RunAsync(ct);
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        await _assigning.WaitAsync();
        try
        {
            await StopHostAsync();
        }
        finally
        {
            _assigning.Release();
        }

        _assigning.Dispose();
    }

    private async Task OnAssignAsync(NodeAssignment assignment)
    {
        await _assigning.WaitAsync();
        try
        {
            if (assignment.Role == "unallocated")
            {
                _roleError = null;
                if (_host is not null)
                {
                    LogUnallocated(_logger);
                    await StopHostAsync();
                }

                return;
            }

            if (_host is not null && _hostConfig == assignment.ConfigJson)
            {
                // A re-sent assignment (reconnection): the role already runs with it.
                return;
            }

            if (!NodeSettings.TryParse(assignment.ConfigJson, out var settings, out var errors))
            {
                LogBadAssignment(_logger, assignment.Role, assignment.NodeId, string.Join("; ", errors));
                _roleError = $"the configuration of the {assignment.Role} role does not parse: {string.Join("; ", errors)}";
                await StopHostAsync();
                return;
            }

            if (_host is { DataPlane: { } dataPlane } && _hostConfig is not null && OnlyServicesDiffer(_hostConfig, assignment.ConfigJson))
            {
                // Restarting would throw away the flow table: every connection through this unit would break
                // for a weight or a rule. Services are published with one reference write each instead.
                _ = dataPlane.PublishFirewall(settings!.Firewall);
                _ = dataPlane.PublishLoadBalancer(settings.LoadBalancer?.Vips ?? []);
                _hostConfig = assignment.ConfigJson;
                LogServicesUpdated(_logger, assignment.NodeId);
                return;
            }

            await StopHostAsync();
            settings = settings! with { Control = _options.Control };
            try
            {
                _host = await NodeHost.StartAsync(settings, _client.Tables, _client.Keys);
                _hostConfig = assignment.ConfigJson;
                _roleError = null;
                ResetRates();
                LogAssigned(_logger, settings.Role.ToString(), settings.NodeId, _host.TunnelEndPoint.ToString(), _host.ControlEndPoint.ToString());
            }
#pragma warning disable CA1031 // A role that cannot open its sockets is reported and the unit waits for the next assignment.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogStartFailed(_logger, settings.Role.ToString(), settings.NodeId, e.Message);
                _roleError = $"the {settings.Role} role did not start: {e.Message}";
            }
        }
        finally
        {
            _assigning.Release();
        }
    }

    /// <summary>
    /// True when two node configuration documents differ at most in the data plane's services: the firewall section
    /// and the load balancer's VIPs (SNAT addresses, interfaces, tunnel and role need a restart).
    /// </summary>
    internal static bool OnlyServicesDiffer(string runningJson, string nextJson)
    {
        try
        {
            return JsonNode.DeepEquals(WithoutServices(runningJson), WithoutServices(nextJson));
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }

        static JsonNode? WithoutServices(string json)
        {
            var node = JsonNode.Parse(json);
            if (node is JsonObject document)
            {
                foreach (var name in document.Select(p => p.Key).ToList())
                {
                    if (string.Equals(name, "firewall", StringComparison.OrdinalIgnoreCase))
                    {
                        document.Remove(name);
                    }
                    else if (string.Equals(name, "loadBalancer", StringComparison.OrdinalIgnoreCase) && document[name] is JsonObject lb)
                    {
                        foreach (var field in lb.Select(p => p.Key).Where(k => string.Equals(k, "vips", StringComparison.OrdinalIgnoreCase)).ToList())
                        {
                            lb.Remove(field);
                        }
                    }
                }
            }

            return node;
        }
    }

    private async Task StopHostAsync()
    {
        var host = _host;
        _host = null;
        _hostConfig = null;
        _flows = FlowView.Empty;
        if (host is not null)
        {
            await host.DisposeAsync();
        }
    }

    private void ResetRates()
    {
        lock (_statsLock)
        {
            _lastBusyTicks = 0;
            _lastProcessed = 0;
            _lastTimestamp = Stopwatch.GetTimestamp();
            _packetsPerBusySecond = 0;
        }
    }

    /// <summary>Called by the manager client about once a second.</summary>
    private NodeHeartbeat Heartbeat()
    {
        var host = _host;
        if (host is null)
        {
            return new NodeHeartbeat(0, Guid.Empty, 0, 0, EmptyStats, [], [], RoleError: _roleError);
        }

        var s = host.Counters.Snapshot();
        double busy;
        lock (_statsLock)
        {
            var now = Stopwatch.GetTimestamp();
            var busyDelta = s.BusyTicks - _lastBusyTicks;
            var processedDelta = s.PacketsProcessed - _lastProcessed;
            busy = now > _lastTimestamp ? Math.Clamp((double)busyDelta / (now - _lastTimestamp), 0, 1) : 0;
            if (busyDelta > 0 && processedDelta > 0)
            {
                _packetsPerBusySecond = processedDelta / ((double)busyDelta / Stopwatch.Frequency);
            }

            _lastBusyTicks = s.BusyTicks;
            _lastProcessed = s.PacketsProcessed;
            _lastTimestamp = now;
        }

        var stats = new NodeStats(s.FramesIn, s.FramesOut, s.BytesIn, s.BytesOut, s.PacketsProcessed, busy, _packetsPerBusySecond,
            s.FlowsActive, s.FlowsCreated, s.FlowsExpired, s.TunnelCounts, host.DropsWithPorts(s));
        if (host.DataPlane is { } dataPlane && _refresh.IsCompleted)
        {
            // The flow table is read on the engine thread; this heartbeat sends the previous reading.
            _refresh = RefreshFlowsAsync(dataPlane);
        }

        var flows = _flows;
        var services = host.DataPlane;
        return new NodeHeartbeat(0, Guid.Empty, 0, 0, stats, flows.Buckets, flows.Recent,
            services is null ? null : ServiceCounters.Rules(services.Firewall),
            services is null ? null : ServiceCounters.Vips(services.LoadBalancer));
    }

    private async Task RefreshFlowsAsync(DataPlaneRole dataPlane)
    {
        try
        {
            var counts = await dataPlane.SnapshotBucketCountsAsync();
            var flows = await dataPlane.SnapshotFlowsAsync(RecentFlowSample * 20);
            var buckets = new List<BucketFlowCount>();
            for (var b = 0; b < counts.Counts.Length; b++)
            {
                if (counts.Counts[b] > 0)
                {
                    buckets.Add(new BucketFlowCount(b, counts.Counts[b]));
                }
            }

            var recent = flows.OrderByDescending(f => f.LastSeen).Take(RecentFlowSample)
                .Select(f => new FlowSample(f.Protocol, f.Source, f.Destination, f.Bucket, f.NodeId, f.State, "accept", null, null,
                    f.PacketsOriginal + f.PacketsReply, f.BytesOriginal + f.BytesReply))
                .ToList();
            _flows = new FlowView(buckets, recent);
        }
#pragma warning disable CA1031 // The host stopped under the reading (reassignment): the next heartbeat reads the new one.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogFlowsUnavailable(_logger, e.Message);
        }
    }

    private static readonly NodeStats EmptyStats = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        new Dictionary<string, long>(), new Dictionary<string, long>());

    private sealed record FlowView(IReadOnlyList<BucketFlowCount> Buckets, IReadOnlyList<FlowSample> Recent)
    {
        public static readonly FlowView Empty = new([], []);
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Agent {Name}: connecting to {Manager}, tunnel {Tunnel}")]
    private static partial void LogStarting(ILogger logger, string name, Uri manager, string tunnel);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Assigned {Role} node {NodeId}: tunnel {Tunnel}, control {Control}")]
    private static partial void LogAssigned(ILogger logger, string role, int nodeId, string tunnel, string control);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Information, Message = "Unallocated: the role stopped; waiting for an assignment")]
    private static partial void LogUnallocated(ILogger logger);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Error, Message = "The {Role} assignment for node {NodeId} is not a valid node configuration: {Errors}")]
    private static partial void LogBadAssignment(ILogger logger, string role, int nodeId, string errors);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Error, Message = "Cannot start the {Role} role of node {NodeId}: {Reason}")]
    private static partial void LogStartFailed(ILogger logger, string role, int nodeId, string reason);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Information, Message = "Services of data plane {NodeId} replaced in place: flows kept")]
    private static partial void LogServicesUpdated(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Debug, Message = "Flow snapshot unavailable: {Reason}")]
    private static partial void LogFlowsUnavailable(ILogger logger, string reason);
}
