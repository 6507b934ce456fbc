using Dva.Manager.Infrastructure;
using Dva.Manager.Rollout;
using Dva.Manager.Services;
using Dva.Shared.Contracts;
using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Hubs;

/// <summary>
/// The node hub (<see cref="NodeHubPaths.Hub"/>): node agents register, ack tables and send heartbeats; the
/// manager assigns roles and rolls out tables through <see cref="INodeClient"/>. Every message is validated here;
/// a refusal is a <see cref="HubException"/> whose message the agent shows as it is.
/// </summary>
internal sealed class NodeHub(
    ManagerDbContext db,
    NodeRegistry registry,
    NodeSessions sessions,
    HeartbeatFeed feed,
    HeartbeatWriter heartbeats,
    RegistrationRateLimiter limiter,
    RolloutCoordinator rollout,
    FleetReconciler fleet,
    EnrollmentToken enrollment,
    Security.Keys.TunnelKeyService keys,
    TimeProvider time,
    ILogger<NodeHub> logger) : Hub<INodeClient>, INodeHubServer
{
    private const string NodeKeyItem = "dva.nodeKey";

    public override Task OnConnectedAsync()
    {
        // The endpoint's middleware already refused a wrong token; this keeps the hub safe if it is mapped elsewhere.
        if (Context.GetHttpContext() is not { } http || !enrollment.Matches(EnrollmentToken.Presented(http)))
        {
            throw new HubException("The enrollment token is missing or wrong.");
        }

        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        if (Context.Items.TryGetValue(NodeKeyItem, out var key) && key is long nodeKey)
        {
            sessions.Disconnect(nodeKey, Context.ConnectionId);
        }

        return base.OnDisconnectedAsync(exception);
    }

    public async Task<NodeWelcome> Register(NodeHello hello)
    {
        var remote = Context.GetHttpContext()?.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (!limiter.TryAcquire(remote))
        {
            throw Refuse(remote, $"Too many registrations from {remote}; try again in a second.");
        }

        if (HubMessageValidator.Validate(hello) is { } problem)
        {
            throw Refuse(remote, $"Invalid registration: {problem}.");
        }

        var ct = Context.ConnectionAborted;
        var byName = await db.Nodes.AsNoTracking().FirstOrDefaultAsync(n => n.Name == hello.Name, ct);
        if (hello.NodeKey is { } claimed)
        {
            var byKey = await db.Nodes.AsNoTracking().FirstOrDefaultAsync(n => n.Id == claimed, ct);
            if (byKey is not null && byKey.Name != hello.Name)
            {
                throw Refuse(remote, $"Node key {claimed} belongs to another node; a node keeps only its own key.");
            }

            if (byKey is null && byName is not null)
            {
                throw Refuse(remote, $"Node name '{hello.Name}' is registered with another key.");
            }
        }

        var result = await registry.RegisterAsync(hello.Name, hello.TunnelEndpoint, byName?.MeasuredCapacity ?? 0, ct);
        if (result.Failure is { } failure)
        {
            throw Refuse(remote, $"Registration refused: {failure.Detail}");
        }

        var node = result.Value!;
        Context.Items[NodeKeyItem] = node.Id;
        sessions.Connect(node.Id, node.Name, hello, Context.ConnectionId, time.GetUtcNow());
        HubLog.Registered(logger, node.Name, node.Id);
        fleet.Kick();
        var place = node.DvaId is { } dva ? $"node {node.NodeId} of DVA {dva}" : "unallocated";
        return new NodeWelcome(node.Id, $"Registered as {node.Name} (node key {node.Id}), {place}.");
    }

    public Task AckTable(TableAck ack)
    {
        var session = RequireSession();
        CheckAck(ack, ack?.Error);
        session.CountTableAcked(Context.ConnectionId);
        rollout.OnAck(session.NodeKey, ack!);
        return Task.CompletedTask;
    }

    public Task AckKeys(KeyAck ack)
    {
        var session = RequireSession();
        CheckAck(ack, ack?.Error);
        keys.OnAck(session.NodeKey, ack!);
        return Task.CompletedTask;
    }

    public Task Heartbeat(NodeHeartbeat heartbeat)
    {
        var session = RequireSession();
        if (HubMessageValidator.Validate(heartbeat) is { } problem)
        {
            throw new HubException($"Invalid heartbeat: {problem}.");
        }

        if (heartbeat.NodeKey != session.NodeKey)
        {
            throw new HubException($"This connection registered node key {session.NodeKey}, not {heartbeat.NodeKey}.");
        }

        var now = time.GetUtcNow();
        lock (session)
        {
            session.LastSeen = now;
            session.LastHeartbeat = heartbeat;
            session.LastHeartbeatAt = now;
        }

        session.CountHeartbeat(Context.ConnectionId);
        // Written with every unit's others within a second (HeartbeatWriter), not awaited here: acks behind this
        // message on the connection must not wait for the disk.
        heartbeats.Record(session.NodeKey, heartbeat.Stats.PacketsPerBusySecond);
        feed.Publish(new HeartbeatReceived(session.NodeKey, session.Name, now, heartbeat));
        return Task.CompletedTask;
    }

    /// <summary>An ack (of a table or of keys) must be there, and its error text bounded.</summary>
    private static void CheckAck(object? ack, string? error)
    {
        if (ack is null)
        {
            throw new HubException("An ack is required.");
        }

        if (error is { Length: > HubMessageValidator.MaxTextLength * 4 })
        {
            throw new HubException("The ack's error text is too long.");
        }
    }

    private NodeSession RequireSession() =>
        Context.Items.TryGetValue(NodeKeyItem, out var key) && key is long nodeKey && sessions.Get(nodeKey) is { } session
            ? session
            : throw new HubException("Register first.");

    private HubException Refuse(string remote, string reason)
    {
        HubLog.Refused(logger, remote, reason);
        return new HubException(reason);
    }
}
