using System.Net;
using System.Text.Json;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Node.Shortcut;
using Dva.Shared.Contracts;
using Dva.Shared.Security;
using Dva.Shared.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dva.Node.Agent;

/// <summary>
/// The node's local control API (Kestrel on the configured loopback endpoint): counters, flows and the
/// table. <c>PUT /table</c> takes a <see cref="TableCodec"/> body and installs it through the
/// <see cref="TableStore"/>; it is how the manager (and the functional test) roll a new version out.
/// On a data plane, <c>GET /rules</c> and <c>GET /loadbalancer</c> give the services' counters and
/// <c>PUT /services</c> replaces the firewall and/or the VIPs while traffic flows.
/// </summary>
internal sealed class ControlApi(NodeHost host) : IAsyncDisposable
{
    /// <summary>Largest table body accepted: 65536 owners, history and peers fit well below this.</summary>
    public const long MaxTableBytes = 4 << 20;

    private WebApplication? _app;

    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.None, 0);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(host.Settings.Control);
            k.Limits.MaxRequestBodySize = MaxTableBytes;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(host);
        var app = builder.Build();
        app.MapGet("/counters", GetCountersAsync);
        app.MapGet("/flows", GetFlowsAsync);
        app.MapGet("/neighbours", GetNeighboursAsync);
        app.MapGet("/shortcuts", GetShortcuts);
        app.MapGet("/table", GetTable);
        app.MapPut("/table", PutTableAsync);
        app.MapPost("/table/drop-previous", DropPrevious);
        app.MapGet("/rules", GetRules);
        app.MapGet("/loadbalancer", GetLoadBalancer);
        app.MapPut("/services", PutServicesAsync);
        app.MapGet("/keys", GetKeys);
        app.MapPost("/keys", PostKeys);
        await app.StartAsync(cancellationToken);
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address);
        EndPoint = new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    internal static async Task<Ok<CountersView>> GetCountersAsync(NodeHost host)
    {
        var s = host.Counters.Snapshot();
        var ports = host.Ports.Select(p => new PortView(p.Name, p.Counters.ReceivedPackets, p.Counters.ReceivedBytes, p.Counters.SentPackets,
            p.Counters.SentBytes, p.Counters.ReceiveErrors, p.Counters.SendErrors + p.Counters.SendWouldBlock, p.Counters.Truncated,
            OwnDrops(p))).ToList();
        var drops = NodeHost.WithPortDrops(s.Drops, ports.Select(p => p.Drops));

        var state = host.Tables.State;
        return TypedResults.Ok(new CountersView(
            host.Settings.NodeId,
            host.Settings.Role.ToString(),
            host.Settings.Name,
            state.Current?.Version ?? 0,
            s.FramesIn, s.BytesIn, s.FramesOut, s.BytesOut,
            drops.Values.Sum(), drops, s.TunnelCounts,
            s.FlowsCreated, s.FlowsExpired, s.FlowsActive, s.PacketsProcessed,
            host.HandlerFaults, host.Pool.Exhausted,
            ports,
            await host.Role.Buckets(),
            SecurityView.From(host)));
    }

    private static Dictionary<string, long> OwnDrops(PacketPort port)
    {
        var drops = new Dictionary<string, long>();
        port.AddOwnDrops(drops);
        return drops;
    }

    internal static Ok<SecurityView> GetKeys(NodeHost host) => TypedResults.Ok(SecurityView.From(host));

    /// <summary>
    /// One key step on a statically configured node (the manager uses the hub instead): install a key in a phase,
    /// switch the send phase, retire a phase. The answer names keys by id only.
    /// </summary>
    internal static Results<Ok<SecurityView>, ProblemHttpResult> PostKeys(KeyUpdate update, NodeHost host)
    {
        if (host.Settings.Security.Mode == TunnelSecurityMode.Plain)
        {
            return TypedResults.Problem(title: "the tunnel is in plain mode", detail: "tunnel.security.mode is plain: this node uses no keys", statusCode: StatusCodes.Status409Conflict);
        }

        if (KeyUpdates.Apply(host.Keys, update) is { } error)
        {
            return TypedResults.Problem(title: "the key update was refused", detail: error, statusCode: StatusCodes.Status400BadRequest);
        }

        return TypedResults.Ok(SecurityView.From(host));
    }

    internal static async Task<Ok<object>> GetFlowsAsync(NodeHost host) => TypedResults.Ok(await host.Role.Flows());

    internal static async Task<Ok<object?>> GetNeighboursAsync(NodeHost host) => TypedResults.Ok<object?>(await host.Role.Neighbours());

    /// <summary>
    /// A dispatcher's kernel shortcut entries (docs/node.md "Kernel shortcut"): each flow direction the kernel forwards,
    /// where it leaves, what it is rewritten to (a translated flow), its counters and state. 404 on a node without shortcuts.
    /// </summary>
    internal static Results<Ok<List<ShortcutView>>, ProblemHttpResult> GetShortcuts(NodeHost host)
    {
        if (host.Shortcuts is not { } shortcuts)
        {
            return TypedResults.Problem(title: "no kernel shortcut", detail: "this node is not a dispatcher with \"shortcuts\": true", statusCode: StatusCodes.Status404NotFound);
        }

        return TypedResults.Ok(shortcuts.Snapshot().Select(e => ShortcutView.From(e.Key, e.Entry)).ToList());
    }

    internal static Results<Ok<TableView>, NotFound> GetTable(NodeHost host) =>
        host.Tables.State.Current is { } current ? TypedResults.Ok(TableView.From(current, host.Tables.State.Previous)) : TypedResults.NotFound();

    internal static async Task<Results<Ok<TableView>, ProblemHttpResult>> PutTableAsync(HttpRequest request, NodeHost host)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
        var error = TableCodec.TryDecode(body.GetBuffer().AsSpan(0, (int)body.Length), out var table);
        if (error != TableCodecError.None || table is null)
        {
            return TypedResults.Problem(
                title: "the table could not be decoded",
                detail: $"TableCodecError.{error}",
                statusCode: StatusCodes.Status400BadRequest,
                extensions: new Dictionary<string, object?> { ["error"] = error.ToString() });
        }

        if (!host.Tables.Install(table, out var refused))
        {
            return TypedResults.Problem(title: "the table was refused", detail: refused, statusCode: StatusCodes.Status409Conflict);
        }

        return TypedResults.Ok(TableView.From(host.Tables.State.Current!, host.Tables.State.Previous));
    }

    internal static NoContent DropPrevious(NodeHost host)
    {
        host.Tables.DropPrevious();
        return TypedResults.NoContent();
    }

    /// <summary>Firewall rule counters, rules in evaluation order then the default policy; empty without a firewall or on a dispatcher.</summary>
    internal static Ok<IReadOnlyList<RuleHitCount>> GetRules(NodeHost host) =>
        TypedResults.Ok(ServiceCounters.Rules(host.DataPlane?.Firewall));

    /// <summary>Per-VIP and per-member flows and bytes; empty without VIPs or on a dispatcher.</summary>
    internal static Ok<IReadOnlyList<VipCounters>> GetLoadBalancer(NodeHost host) =>
        TypedResults.Ok(host.DataPlane is { } dataPlane ? ServiceCounters.Vips(dataPlane.LoadBalancer) : []);

    /// <summary>
    /// Replaces the sections present in the body (the <c>firewall</c> and <c>loadBalancer</c> sections of the node
    /// configuration file): flows keep their verdict and member, counters of rules, VIPs and members that stay carry
    /// over. This is how a member is set draining at run time. A section that does not validate changes nothing.
    /// </summary>
    internal static async Task<Results<Ok<ServicesView>, ProblemHttpResult>> PutServicesAsync(HttpRequest request, NodeHost host)
    {
        if (host.DataPlane is not { } dataPlane)
        {
            return TypedResults.Problem(title: "only a data plane runs services", statusCode: StatusCodes.Status409Conflict);
        }

        ServicesDocument? document;
        try
        {
            document = await JsonSerializer.DeserializeAsync<ServicesDocument>(request.Body, NodeConfig.JsonOptions, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return TypedResults.Problem(title: "the services document is not valid JSON", detail: e.Message, statusCode: StatusCodes.Status400BadRequest);
        }

        var errors = new List<string>();
        var firewall = document?.Firewall is { } f ? ServiceConfigValidator.Firewall(f, errors) : null;
        var ifids = host.Settings.Interfaces.Select(i => (int)i.Ifid).ToHashSet();
        var loadBalancer = document?.LoadBalancer is { } lb ? ServiceConfigValidator.LoadBalancer(lb, ifids, errors) : null;
        if (document is null || errors.Count > 0)
        {
            return TypedResults.Problem(
                title: "the services document was refused",
                detail: document is null ? "empty body" : string.Join("; ", errors),
                statusCode: StatusCodes.Status400BadRequest);
        }

        if (firewall is not null)
        {
            dataPlane.PublishFirewall(firewall);
        }

        if (loadBalancer is not null)
        {
            dataPlane.PublishLoadBalancer(loadBalancer.Vips);
        }

        return TypedResults.Ok(new ServicesView(ServiceCounters.Rules(dataPlane.Firewall), ServiceCounters.Vips(dataPlane.LoadBalancer)));
    }
}

/// <summary>The body of <c>PUT /services</c>: the service sections of the node configuration file; an absent section is left as it is.</summary>
internal sealed record ServicesDocument(FirewallConfig? Firewall, LoadBalancerSection? LoadBalancer);

internal sealed record ServicesView(IReadOnlyList<RuleHitCount> Rules, IReadOnlyList<VipCounters> Vips);

/// <summary>A port's socket counters; <paramref name="Drops"/> are frames the port itself refused (an AF_PACKET ring's), also counted in the node's drops.</summary>
internal sealed record PortView(string Name, long ReceivedPackets, long ReceivedBytes, long SentPackets, long SentBytes, long ReceiveErrors, long SendDrops, long Truncated,
    IReadOnlyDictionary<string, long> Drops);

internal sealed record CountersView(
    ushort NodeId,
    string Role,
    string Name,
    ulong TableVersion,
    long FramesIn,
    long BytesIn,
    long FramesOut,
    long BytesOut,
    long TotalDrops,
    IReadOnlyDictionary<string, long> Drops,
    IReadOnlyDictionary<string, long> Tunnel,
    long FlowsCreated,
    long FlowsExpired,
    long FlowsActive,
    long PacketsProcessed,
    long HandlerFaults,
    long PoolExhausted,
    IReadOnlyList<PortView> Ports,
    object? Buckets,
    SecurityView Security);

/// <summary>The tunnel's secure mode and key phases, by key id: never the key bytes.</summary>
internal sealed record SecurityView(string Mode, string Cipher, int SendPhase, uint Phase0KeyId, uint Phase1KeyId)
{
    public static SecurityView From(NodeHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var keys = host.Keys;
        return new SecurityView(TunnelSecurityNames.Name(host.Settings.Security.Mode), TunnelSecurityNames.Name(host.Settings.Security.Cipher),
            keys.SendPhase, keys.KeyOf(0)?.Id ?? 0, keys.KeyOf(1)?.Id ?? 0);
    }
}

internal sealed record TableView(
    Guid DvaId,
    ulong Version,
    int Era,
    int BucketCount,
    ulong? PreviousVersion,
    IReadOnlyDictionary<string, int> Owners,
    IReadOnlyList<ushort> Chain,
    IReadOnlyList<PeerView> Peers,
    int HistoryEntries,
    string Cause)
{
    public static TableView From(TableVersion current, TableVersion? previous)
    {
        ArgumentNullException.ThrowIfNull(current);
        var owners = new SortedDictionary<ushort, int>();
        var historyEntries = 0;
        for (var b = 0; b < current.BucketCount; b++)
        {
            var owner = current.OwnerOf(b);
            owners[owner] = owners.GetValueOrDefault(owner) + 1;
            historyEntries += current.PredecessorsOf(b).Length;
        }

        return new TableView(current.DvaId, current.Version, current.Era, current.BucketCount, previous?.Version,
            owners.ToDictionary(o => o.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), o => o.Value),
            [.. current.Chain],
            [.. current.PeersById.ToArray().Select(p => new PeerView(p.NodeId, p.Role.ToString(), p.Endpoint.ToString(), p.Weight))],
            historyEntries, current.Cause);
    }
}

internal sealed record PeerView(ushort NodeId, string Role, string Endpoint, int Weight);
