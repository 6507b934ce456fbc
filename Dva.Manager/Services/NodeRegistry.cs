using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Services;

internal sealed class NodeOptions
{
    /// <summary>A node without a heartbeat for this long is shown OFFLINE.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// The node registry: nodes register and send heartbeats (through the node hub), operators assign,
/// drain, enable and remove them (REST, dashboard).
/// </summary>
internal sealed class NodeRegistry(ManagerDbContext db, AuditLog audit, TimeProvider time, IOptions<NodeOptions> options)
{
    public async Task<IReadOnlyList<NodeView>> ListAsync(long? dvaId, CancellationToken ct)
    {
        var query = db.Nodes.AsNoTracking();
        if (dvaId is { } id)
        {
            query = query.Where(n => n.DvaId == id);
        }

        var nodes = await query.OrderBy(n => n.Id).ToListAsync(ct);
        return nodes.Select(ToView).ToList();
    }

    public async Task<ServiceResult<NodeView>> GetAsync(long id, CancellationToken ct) =>
        await db.Nodes.AsNoTracking().FirstOrDefaultAsync(n => n.Id == id, ct) is { } node
            ? ToView(node)
            : ServiceFailure.NotFound("node", id);

    /// <summary>
    /// A node agent announces itself. A known name keeps its record (and its role, DVA and node id);
    /// a new name starts unallocated.
    /// </summary>
    public async Task<ServiceResult<NodeView>> RegisterAsync(string name, string tunnelEndpoint, double measuredCapacity, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        errors.RequireName(name, "name");
        errors.Require(System.Net.IPEndPoint.TryParse(tunnelEndpoint, out var endpoint) && endpoint.Port != 0,
            "tunnelEndpoint", "Must be address:port.");
        errors.Require(double.IsFinite(measuredCapacity) && measuredCapacity >= 0, "measuredCapacity", "Must be a finite number ≥ 0.");
        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var node = await db.Nodes.FirstOrDefaultAsync(n => n.Name == name, ct);
        var before = node is null ? null : ToView(node);
        if (node is null)
        {
            node = new Node { Name = name };
            db.Nodes.Add(node);
        }
        else if (node.TunnelEndpoint != tunnelEndpoint)
        {
            node.TouchSpec();
        }

        node.TunnelEndpoint = tunnelEndpoint;
        node.MeasuredCapacity = measuredCapacity;
        node.LastHeartbeat = time.GetUtcNow();
        node.Version++;
        await audit.SaveAsync("register", "node", node.DvaId, before, () => node.Id, () => ToView(node), ct);
        return ToView(node);
    }

    /// <summary>Liveness and capacity from a node agent; not audited (it is status, not configuration).</summary>
    /// <remarks>
    /// One narrow UPDATE of the two columns, without the row's concurrency token: the reconciler and operators
    /// write the same row (state, allocation, conditions) while heartbeats arrive every second, and a heartbeat
    /// that loaded the row before such a write must neither fail (DbUpdateConcurrencyException) nor write back
    /// the stale rest of the row. The version (ETag) stays, so heartbeats do not make an If-Match stale.
    /// </remarks>
    public async Task<bool> HeartbeatAsync(long id, double measuredCapacity, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var nodes = db.Nodes.Where(n => n.Id == id);
        var updated = double.IsFinite(measuredCapacity) && measuredCapacity >= 0
            ? await nodes.ExecuteUpdateAsync(set => set.SetProperty(n => n.LastHeartbeat, now).SetProperty(n => n.MeasuredCapacity, measuredCapacity), ct)
            : await nodes.ExecuteUpdateAsync(set => set.SetProperty(n => n.LastHeartbeat, now), ct);
        return updated > 0;
    }

    /// <summary>Gives an unallocated node a role in a DVA and the lowest free node id there.</summary>
    public async Task<ServiceResult<NodeView>> AssignAsync(long id, NodeAssignment assignment, long? ifMatch, CancellationToken ct)
    {
        var node = await db.Nodes.FindAsync([id], ct);
        if (ServiceFailure.Refuses(node, "node", id, ifMatch, out var failure))
        {
            return failure;
        }

        var errors = new ValidationErrors();
        errors.Require(assignment.Role is NodeRole.Dispatcher or NodeRole.DataPlane, "role", "Must be dispatcher or dataPlane.");
        if (!await db.Dvas.AnyAsync(d => d.Id == assignment.DvaId, ct))
        {
            errors.Add("dvaId", $"DVA {assignment.DvaId} does not exist.");
        }

        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        if (node.DvaId is { } current && current != assignment.DvaId)
        {
            return ServiceFailure.Conflict($"Node {id} belongs to DVA {current}; remove it from there first.");
        }

        var before = ToView(node);
        if (node.DvaId is null)
        {
            var used = await db.Nodes.Where(n => n.DvaId == assignment.DvaId).Select(n => n.NodeId).ToHashSetAsync(ct);
            var free = Enumerable.Range(Node.MinNodeId, Node.MaxNodeId).FirstOrDefault(n => !used.Contains(n));
            if (free == 0)
            {
                return ServiceFailure.Conflict($"DVA {assignment.DvaId} has no free node id left.");
            }

            node.DvaId = assignment.DvaId;
            node.NodeId = free;
        }

        node.Role = assignment.Role;
        node.TouchSpec();
        await audit.SaveAsync("assign", "node", node.DvaId, before, () => id, () => ToView(node), ct);
        return ToView(node);
    }

    /// <summary>Stops new flows from landing on the node; its buckets move away at the next table change.</summary>
    public Task<ServiceResult<NodeView>> DrainAsync(long id, long? ifMatch, CancellationToken ct) =>
        ChangeAsync(id, ifMatch, "drain", node => node.State = NodeState.Draining, ct);

    public Task<ServiceResult<NodeView>> EnableAsync(long id, long? ifMatch, CancellationToken ct) =>
        ChangeAsync(id, ifMatch, "enable", node => node.State = NodeState.Active, ct);

    /// <summary>Takes the node out of its DVA, back to the unallocated pool.</summary>
    public Task<ServiceResult<NodeView>> RemoveAsync(long id, long? ifMatch, CancellationToken ct) =>
        ChangeAsync(id, ifMatch, "remove", node => node.Unallocate(), ct);

    private async Task<ServiceResult<NodeView>> ChangeAsync(long id, long? ifMatch, string operation, Action<Node> change, CancellationToken ct)
    {
        var node = await db.Nodes.FindAsync([id], ct);
        if (ServiceFailure.Refuses(node, "node", id, ifMatch, out var failure))
        {
            return failure;
        }

        var before = ToView(node);
        var dvaId = node.DvaId;
        change(node);
        if (before.Generation == node.Generation)
        {
            node.TouchSpec();
        }

        await audit.SaveAsync(operation, "node", dvaId, before, () => id, () => ToView(node), ct);
        return ToView(node);
    }

    private NodeView ToView(Node node)
    {
        var status = node.GetStatus();
        var alive = node.LastHeartbeat is { } beat && time.GetUtcNow() - beat <= options.Value.HeartbeatTimeout;
        var operating = !alive ? OperatingStatus.Offline
            : node.State == NodeState.Active ? OperatingStatus.Online
            : OperatingStatus.Degraded;
        return new NodeView(node.Id, node.Name, node.DvaId, node.Role, node.NodeId, node.TunnelEndpoint, node.State,
            node.LastHeartbeat, node.MeasuredCapacity, node.Weight, status with { OperatingStatus = operating },
            node.Generation, node.ObservedGeneration, node.Version);
    }
}
