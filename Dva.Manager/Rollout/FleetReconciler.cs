using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Dva.Manager.Hubs;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;
using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Node = Dva.Manager.Model.Node;
using NodeAssignment = Dva.Shared.Contracts.NodeAssignment;

namespace Dva.Manager.Rollout;

/// <summary>
/// Brings each DVA to what its configuration asks for, one table change at a time: declares silent units failed,
/// places dispatchers where the interfaces are attached, takes data planes from the pool of unallocated units
/// (or drains them on scale-in and releases them once their flows are gone), sends each unit its assignment,
/// and rolls out the next table version when the peers changed or history entries can be pruned.
/// </summary>
internal sealed class FleetReconciler(
    IServiceScopeFactory scopes,
    NodeSessions sessions,
    RolloutCoordinator rollout,
    IHubContext<NodeHub, INodeClient> hub,
    TimeProvider time,
    IOptions<NodeHubOptions> options,
    Security.Keys.TunnelKeyService keys,
    ManagerStallClock stalls,
    ILogger<FleetReconciler> logger) : IDisposable
{
    public const string TablesConverged = "TablesConverged";
    public const string CapacitySufficient = "CapacitySufficient";

    private static readonly NodeAssignment UnallocatedAssignment = new(0, Guid.Empty, 0, NodeConfigDocument.Unallocated, "{}");

    private readonly DateTimeOffset _started = time.GetUtcNow();
    private readonly Channel<bool> _kicks = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ConcurrentDictionary<long, string> _failed = new();
    private readonly ConcurrentDictionary<long, DateTimeOffset> _lastPrune = new();
    private readonly ConcurrentDictionary<long, DateTimeOffset> _committedAt = new();
    private readonly ConcurrentDictionary<long, SentAssignment> _sent = new();
    private readonly ConcurrentDictionary<long, string?> _quarantine = new();
    private readonly SemaphoreSlim _pass = new(1, 1);
    private ITimer? _stallWatch;

    public void Dispose()
    {
        _stallWatch?.Dispose();
        _pass.Dispose();
    }

    /// <summary>Asks for a pass soon (a unit registered, a rollout failed a unit).</summary>
    public void Kick() => _kicks.Writer.TryWrite(true);

    /// <summary>Waits for a kick or <paramref name="interval"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan interval, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(interval);
        try
        {
            await _kicks.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The interval passed without a kick.
        }
    }

    /// <summary>
    /// Starts the watch for the manager's own stalls (<see cref="ManagerStallClock"/>) before the first pass judges
    /// any unit: a timer that ticks every quarter second and runs on the thread pool, as the hub's heartbeat handlers
    /// do, so it is late whenever they could not run.
    /// </summary>
    private void StartStallWatch()
    {
        if (Volatile.Read(ref _stallWatch) is not null)
        {
            return;
        }

        stalls.Start(time.GetUtcNow());
        var watch = time.CreateTimer(_ => OnStallTick(), null, ManagerStallClock.TickInterval, ManagerStallClock.TickInterval);
        if (Interlocked.CompareExchange(ref _stallWatch, watch, null) is not null)
        {
            watch.Dispose();
        }
    }

    private void OnStallTick()
    {
        if (stalls.Tick(time.GetUtcNow()) is { } late)
        {
            FleetLog.Stalled(logger, late.TotalSeconds);
        }
    }

    /// <summary>Marks a unit failed; the next pass removes it from its DVA (and its tables).</summary>
    public void DeclareFailed(long nodeKey, string reason)
    {
        _failed[nodeKey] = reason;
        Kick();
    }

    /// <summary>One pass over every DVA.</summary>
    public async Task ReconcileAllAsync(CancellationToken ct)
    {
        StartStallWatch();
        List<long> dvas;
        await using (var scope = scopes.CreateAsyncScope())
        {
            dvas = await scope.ServiceProvider.GetRequiredService<ManagerDbContext>().Dvas.Select(d => d.Id).ToListAsync(ct);
        }

        foreach (var dva in dvas)
        {
            try
            {
                await ReconcileAsync(dva, ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Someone (REST, a heartbeat) wrote the same rows; the next pass starts from what they wrote.
                FleetLog.Retry(logger, dva);
            }
        }

        await TellUnallocatedAsync(ct);
    }

    /// <summary>One pass over one DVA; passes never overlap, so two cannot hand out the same pool unit.</summary>
    public async Task ReconcileAsync(long dvaKey, CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        try
        {
            await ReconcileOneAsync(dvaKey, ct);
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task ReconcileOneAsync(long dvaKey, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        var audit = scope.ServiceProvider.GetRequiredService<AuditLog>();
        var dva = await db.Dvas.FirstOrDefaultAsync(d => d.Id == dvaKey, ct);
        if (dva is null || rollout.InFlight(dvaKey) is not null)
        {
            return;
        }

        var current = await rollout.LoadCurrentAsync(dvaKey, ct);
        // Units the hub manages: connected through it since the manager started, or in the DVA's tables. A unit
        // assigned over REST whose agent never connected is the operator's business, not this loop's.
        var nodes = (await db.Nodes.Where(n => n.DvaId == dvaKey).ToListAsync(ct))
            .Where(n => sessions.Get(n.Id) is not null || current?.Peers.ContainsKey((ushort)n.NodeId) == true).ToList();
        // Before anything is built from them: the status written at the end of the pass is about these instances.
        var children = await ChildProvisioning.LoadAsync(db, dvaKey, ct);
        var interfaces = children.Interfaces.ToList();
        var pool = (await db.Nodes.Where(n => n.DvaId == null).OrderBy(n => n.Id).ToListAsync(ct))
            .Where(n => sessions.Get(n.Id) is { } s && IsAlive(n.Id) && !IsQuarantined(n.Id, s)).ToList();
        if (current is null && nodes.Count == 0 && pool.Count == 0)
        {
            // Nothing the hub knows about: leave configuration-only DVAs (and their ETags) alone.
            return;
        }

        var generation = dva.Generation;
        var now = time.GetUtcNow();
        var causes = new List<string>();
        var attached = interfaces.Select(i => i.AttachmentNodeName).Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);
        var released = new List<Node>();
        var marks = new FleetMarks(db, await db.FleetMarks.Where(m => m.DvaId == dvaKey).ToListAsync(ct), dvaKey);
        var forced = false;

        foreach (var node in nodes.ToList())
        {
            var reason = _failed.TryRemove(node.Id, out var declared) ? declared
                : !IsAlive(node.Id) ? $"no heartbeat for {options.Value.FailureTimeout.TotalSeconds:0.#} s"
                : node.Role == NodeRole.Dispatcher && !attached.Contains(node.Name) ? "no interface is attached to it any more"
                : null;
            if (reason is not null)
            {
                // Removing a failed unit is not paced: it is gone whatever the tables say.
                forced = true;
                // Named before the release, which takes the node id back (the cause said "node 0 removed").
                causes.Add($"node {node.NodeId} removed ({reason})");
                await ReleaseAsync(audit, marks, node, reason.StartsWith("no interface", StringComparison.Ordinal) ? "release" : "fail", reason, ct);
                nodes.Remove(node);
                released.Add(node);
            }
        }

        // Dispatchers go where the interfaces are attached: the attachment names the unit.
        var reserved = await db.Interfaces.Select(i => i.AttachmentNodeName).Where(n => n != "").Distinct().ToListAsync(ct);
        foreach (var name in attached.Order(StringComparer.Ordinal))
        {
            if (!nodes.Any(n => n.Name == name) && pool.FirstOrDefault(n => n.Name == name) is { } unit)
            {
                await AllocateAsync(audit, dva, unit, NodeRole.Dispatcher, nodes, ct);
                pool.Remove(unit);
                causes.Add($"dispatcher {unit.NodeId} ({unit.Name}) joined");
            }
        }

        // Data planes join only once every dispatcher the interfaces name runs its interface configuration: tables
        // that send frames to data planes before a dispatcher can carry them back would be rolled out for nothing.
        var unready = attached.Where(name => !nodes.Any(n => n.Name == name && n.Role == NodeRole.Dispatcher && IsConfigured(n, DvaIdentity.TableId(dva))))
            .Order(StringComparer.Ordinal).ToList();
        ScaleDataPlanes(dva, nodes, unready.Count == 0 ? pool : [], reserved, id => marks.Get(FleetMarkKind.DrainStarted, id) is not null, causes,
            out var toAllocate, out var toDrain, out var toUndrain);
        foreach (var unit in toUndrain)
        {
            unit.State = NodeState.Active;
            unit.TouchSpec();
            marks.Clear(FleetMarkKind.DrainStarted, unit.Id);
            await audit.SaveAsync("undrain", "node", dvaKey, null, () => unit.Id, () => Describe(unit), ct);
        }

        foreach (var unit in toAllocate)
        {
            await AllocateAsync(audit, dva, unit, NodeRole.DataPlane, nodes, ct);
        }

        foreach (var unit in toDrain)
        {
            unit.State = NodeState.Draining;
            unit.TouchSpec();
            marks.Set(FleetMarkKind.DrainStarted, unit.Id, now);
            await audit.SaveAsync("drain", "node", dvaKey, null, () => unit.Id, () => Describe(unit), ct);
        }

        foreach (var unit in nodes.Where(n => n.State == NodeState.Active))
        {
            // Enabled again by the operator: a later drain starts a new clock.
            marks.Clear(FleetMarkKind.DrainSeen, unit.Id);
        }

        foreach (var unit in nodes.Where(n => n.Role == NodeRole.DataPlane && n.State != NodeState.Active).ToList())
        {
            if (DrainFinished(current, marks, unit, now) is { } why)
            {
                causes.Add($"node {unit.NodeId} left ({why})");
                await ReleaseAsync(audit, marks, unit, "release", why, ct);
                nodes.Remove(unit);
                released.Add(unit);
            }
        }

        var tableId = DvaIdentity.TableId(dva);
        await SendAssignmentsAsync(dva, tableId, nodes, interfaces, released, db, ct);

        var peers = nodes.Select(ToPeer).ToList();
        var hasCapacity = peers.Any(p => p.Role == PeerRole.DataPlane && p.Weight > 0);
        // A rollout fails every unit it cannot reach. A unit still alive but not connected (reconnecting, or not yet
        // back after a manager restart) would be declared failed and re-placed with a new node id, although it kept
        // forwarding: no change is planned until it is back or declared failed. (A restart with a held change that
        // went out at its limit before the agents reconnected failed every unit: Rollout/ManagerRestartTests.cs.)
        var away = nodes.Where(n => sessions.Get(n.Id)?.ConnectionId is null).Select(n => n.NodeId).ToList();
        if (away.Count > 0)
        {
            FleetLog.WaitingForUnits(logger, dvaKey, string.Join(", ", away));
        }

        var reachable = away.Count == 0;
        TableVersion? next = null;
        if (reachable && hasCapacity && current is null)
        {
            next = TableVersion.CreateFirst(tableId, dva.Seed, dva.BucketCount, peers, Cause(causes, "first tables"));
        }
        else if (reachable && hasCapacity && current is not null && !SamePeers(current, peers))
        {
            next = await PaceAsync(audit, marks, current, current.Next(peers, now, Cause(causes, "peers changed"), out int _), forced, now, ct);
        }

        if (next is null && reachable && current is not null && now - _lastPrune.GetValueOrDefault(dvaKey) >= options.Value.HistoryPruneInterval
            && PrunableEntries(dvaKey, current, nodes, now) is { Count: > 0 } prunable)
        {
            _lastPrune[dvaKey] = now;
            next = current.WithHistory(current.History.RemoveEntries(prunable), $"history: {prunable.Count} entries without live flows removed");
        }

        var converged = true;
        if (next is not null)
        {
            var members = nodes.Where(n => next.Peers.ContainsKey((ushort)n.NodeId))
                .Select(n => new RolloutMember(n.Id, (ushort)n.NodeId, ToPeer(n).Role)).ToList();
            var result = await rollout.RolloutAsync(dvaKey, next, members, ct);
            if (result.Outcome != RolloutOutcome.Committed)
            {
                FleetLog.NotRolledOut(logger, dvaKey, next.Version, result.Message);
                return;
            }

            _committedAt[dvaKey] = time.GetUtcNow();
            foreach (var failed in result.Failed)
            {
                DeclareFailed(failed.NodeKey, $"did not ack table version {next.Version}");
            }

            converged = result.Failed.Count == 0;
        }
        else if (current is not null)
        {
            foreach (var node in nodes)
            {
                if (sessions.Get(node.Id) is { ConnectionId: not null } session && session.InstalledVersion != current.Version)
                {
                    await rollout.ResyncAsync(dvaKey, session, ct);
                }
            }
        }

        var confirmations = await ConfirmAssignmentsAsync(dvaKey, nodes, next ?? current);
        ChildProvisioning.Update(dva, children, confirmations);
        await UpdateStatusAsync(db, dva, generation, nodes, next ?? current, converged && causes.Count == 0 && confirmations.Everywhere, unready, ct);
    }

    /// <summary>
    /// Which units run the assignment this pass built: those that acked a table sent after it. A unit in the tables
    /// that got a new assignment and no table since is sent the current table again, so the next pass knows.
    /// </summary>
    private async Task<UnitConfirmations> ConfirmAssignmentsAsync(long dvaKey, List<Node> nodes, TableVersion? table)
    {
        var now = time.GetUtcNow();
        var unconfirmed = new List<int>();
        var overdue = new List<int>();
        var roleErrors = new List<string>();
        foreach (var node in nodes.OrderBy(n => n.NodeId))
        {
            var session = sessions.Get(node.Id);
            if (session?.ConnectionId is not { } connection || !_sent.TryGetValue(node.Id, out var sent) || sent.Connection != connection)
            {
                unconfirmed.Add(node.NodeId);
                continue;
            }

            if (session.TablesAckedAtHeartbeat > sent.TablesSentBefore)
            {
                // Acked, and a heartbeat came after the ack: that heartbeat tells whether the role runs (the agent keeps
                // and acks its tables when its role fails to start, so the ack alone does not).
                if (session.LastHeartbeat?.RoleError is { } roleError)
                {
                    unconfirmed.Add(node.NodeId);
                    roleErrors.Add($"node {node.NodeId}: {roleError}");
                }

                continue;
            }

            unconfirmed.Add(node.NodeId);
            if (session.TablesAcked <= sent.TablesSentBefore && now - sent.At > options.Value.AckTimeout)
            {
                overdue.Add(node.NodeId);
            }

            if (session.TablesSent == sent.TablesSentBefore && table?.Peers.ContainsKey((ushort)node.NodeId) == true)
            {
                await rollout.ConfirmAsync(dvaKey, session);
            }
        }

        return new UnitConfirmations(nodes.Count, unconfirmed, overdue, roleErrors);
    }

    /// <summary>
    /// The candidate if it may go out now (<see cref="RolloutPacing"/>), else null: the change is held, the hold is
    /// recorded (it survives a restart, so the limit is measured from the first hold), and history pruning runs
    /// meanwhile; the next pass plans the change again from the pruned history.
    /// </summary>
    private async Task<TableVersion?> PaceAsync(
        AuditLog audit, FleetMarks marks, TableVersion current, TableVersion candidate, bool forced, DateTimeOffset now, CancellationToken ct)
    {
        var held = marks.Get(FleetMarkKind.ChangeHeld, null);
        var verdict = RolloutPacing.Decide(current, candidate, forced, held?.Since, now, options.Value.PacingLimit);
        switch (verdict.Decision)
        {
            case PacingDecision.Hold when held is null:
                marks.Set(FleetMarkKind.ChangeHeld, null, now);
                await audit.SaveAsync("rollout-held", "table", marks.DvaKey, null, () => (long)candidate.Version,
                    () => new { candidate.Version, candidate.Cause, verdict.LivePredecessorsDropped, Limit = options.Value.PacingLimit }, ct);
                FleetLog.Held(logger, marks.DvaKey, candidate.Version, verdict.LivePredecessorsDropped);
                return null;
            case PacingDecision.Hold:
                return null;
            case PacingDecision.GoAtLimit:
                marks.Clear(FleetMarkKind.ChangeHeld, null);
                await audit.SaveAsync("rollout-pacing-limit", "table", marks.DvaKey, null, () => (long)candidate.Version,
                    () => new { candidate.Version, verdict.LivePredecessorsDropped, HeldSeconds = verdict.HeldFor.TotalSeconds }, ct);
                return candidate;
            default:
                if (held is not null)
                {
                    marks.Clear(FleetMarkKind.ChangeHeld, null);
                    await audit.SaveAsync("rollout-released", "table", marks.DvaKey, null, () => (long)candidate.Version,
                        () => new { candidate.Version, HeldSeconds = verdict.HeldFor.TotalSeconds, Forced = forced }, ct);
                }

                return candidate;
        }
    }

    /// <summary>The unit runs its assignment in this DVA: its heartbeats, sent after it applied it, carry the DVA and its node id.</summary>
    private bool IsConfigured(Node node, Guid tableId) =>
        sessions.Get(node.Id)?.LastHeartbeat is { } beat && beat.DvaId == tableId && beat.NodeId == node.NodeId;

    /// <summary>
    /// Data planes wanted vs. present: a draining unit is brought back first (it still holds flows), then units
    /// come from the pool (never one an interface attachment reserves as a dispatcher); on scale-in the highest
    /// node ids drain.
    /// </summary>
    private static void ScaleDataPlanes(
        Appliance dva, List<Node> nodes, List<Node> pool, List<string> reserved, Func<long, bool> drainedHere, List<string> causes,
        out List<Node> toAllocate, out List<Node> toDrain, out List<Node> toUndrain)
    {
        var desired = Math.Clamp(dva.DesiredDataPlanes, dva.MinDataPlanes, Math.Max(dva.MinDataPlanes, dva.MaxDataPlanes));
        var active = nodes.Where(n => n.Role == NodeRole.DataPlane && n.State == NodeState.Active).ToList();
        // Only units this loop drained come back; an operator's drain stands.
        var draining = nodes.Where(n => n.Role == NodeRole.DataPlane && n.State == NodeState.Draining && drainedHere(n.Id))
            .OrderBy(n => n.NodeId).ToList();
        var missing = desired - active.Count;
        toUndrain = [.. draining.Take(Math.Max(0, missing))];
        missing -= toUndrain.Count;
        toAllocate = [.. pool.Where(n => !reserved.Contains(n.Name)).Take(Math.Max(0, missing))];
        toDrain = [.. active.OrderByDescending(n => n.NodeId).Take(Math.Max(0, -missing))];
        causes.AddRange(toUndrain.Select(n => $"node {n.NodeId} back from draining"));
        causes.AddRange(toDrain.Select(n => $"node {n.NodeId} draining"));
        causes.AddRange(toAllocate.Select(n => $"data plane {n.Name} joined"));
    }

    /// <summary>Why a draining unit may leave, or null while it still has flows to finish.</summary>
    private string? DrainFinished(TableVersion? current, FleetMarks marks, Node unit, DateTimeOffset now)
    {
        if (current is null || !current.Peers.TryGetValue((ushort)unit.NodeId, out var peer) || peer.Weight != 0)
        {
            return current is null ? "drained" : null;
        }

        if (!current.History.Entries.Any(e => e.Node == unit.NodeId))
        {
            return "drained: no live flows left";
        }

        // An operator's drain has a clock of its own, started at the first pass that sees it: a DrainStarted mark
        // would make scaling bring the unit back, and an operator's drain stands.
        var started = marks.Get(FleetMarkKind.DrainStarted, unit.Id)?.Since ?? marks.Set(FleetMarkKind.DrainSeen, unit.Id, now).Since;
        return now - started >= options.Value.LongestIdleTimeout ? "drained: idle timeout passed" : null;
    }

    /// <summary>
    /// History entries (bucket, predecessor) that can go: the predecessor's heartbeat, sent after the version that
    /// holds the entry committed, shows no live flow in the bucket; or the longest idle timeout passed since the move.
    /// </summary>
    private List<(int Bucket, ushort Node)> PrunableEntries(long dvaKey, TableVersion current, List<Node> nodes, DateTimeOffset now)
    {
        var committed = _committedAt.GetValueOrDefault(dvaKey, _started);
        var flowsByNode = new Dictionary<ushort, HashSet<int>?>();
        foreach (var node in nodes)
        {
            var session = sessions.Get(node.Id);
            var beat = session?.LastHeartbeat;
            var usable = beat is not null && beat.DvaId == current.DvaId && beat.TableVersion >= current.Version
                && session!.LastHeartbeatAt > committed;
            flowsByNode[(ushort)node.NodeId] = usable ? [.. beat!.BucketFlows.Where(b => b.Flows > 0).Select(b => b.Bucket)] : null;
        }

        var prunable = new List<(int, ushort)>();
        foreach (var entry in current.History.Entries)
        {
            var expired = now - entry.MovedAt >= options.Value.LongestIdleTimeout;
            var noFlows = flowsByNode.TryGetValue(entry.Node, out var buckets) && buckets is not null && !buckets.Contains(entry.Bucket);
            if (expired || noFlows)
            {
                prunable.Add((entry.Bucket, entry.Node));
            }
        }

        return prunable;
    }

    private async Task SendAssignmentsAsync(
        Appliance dva, Guid tableId, List<Node> nodes, List<SharedInterface> interfaces, List<Node> released, ManagerDbContext db, CancellationToken ct)
    {
        var routes = await db.Routes.Where(r => r.DvaId == dva.Id).ToListAsync(ct);
        var dispatchers = nodes.Where(n => n.Role == NodeRole.Dispatcher).ToDictionary(n => n.Name, n => n.NodeId, StringComparer.Ordinal);
        var services = await NodeServices.LoadAsync(db, dva, ct);
        foreach (var node in nodes)
        {
            var config = NodeConfigDocument.For(node, interfaces, routes, dispatchers, dva, services).ToJson();
            await SendAsync(node.Id, new NodeAssignment(dva.Id, tableId, (ushort)node.NodeId, NodeConfigDocument.RoleName(node.Role), config));
        }

        foreach (var node in released)
        {
            await SendAsync(node.Id, UnallocatedAssignment);
        }
    }

    /// <summary>Live units of no DVA hear once per connection that they are unallocated.</summary>
    private async Task TellUnallocatedAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var unallocated = await scope.ServiceProvider.GetRequiredService<ManagerDbContext>().Nodes
            .Where(n => n.DvaId == null).Select(n => n.Id).ToListAsync(ct);
        foreach (var id in unallocated)
        {
            await SendAsync(id, UnallocatedAssignment);
        }
    }

    private async Task SendAsync(long nodeKey, NodeAssignment assignment)
    {
        if (sessions.Get(nodeKey) is not { ConnectionId: { } connection } session
            || (_sent.TryGetValue(nodeKey, out var sent) && sent.Connection == connection && sent.Assignment == assignment))
        {
            return;
        }

        var tablesSent = session.TablesSent;
        await hub.Clients.Client(connection).Assign(assignment);
        _sent[nodeKey] = new SentAssignment(connection, assignment, tablesSent, time.GetUtcNow());

        // Keys right behind the assignment, before any table: a secure unit without them could not seal or open.
        if (assignment.DvaKey != 0)
        {
            await keys.DeliverAsync(assignment.DvaKey, nodeKey, CancellationToken.None);
        }
    }

    private static async Task AllocateAsync(AuditLog audit, Appliance dva, Node unit, NodeRole role, List<Node> members, CancellationToken ct)
    {
        var used = members.Select(n => n.NodeId).ToHashSet();
        unit.DvaId = dva.Id;
        unit.Role = role;
        unit.NodeId = Enumerable.Range(Node.MinNodeId, Node.MaxNodeId).First(id => !used.Contains(id));
        unit.State = NodeState.Active;
        unit.TouchSpec();
        members.Add(unit);
        await audit.SaveAsync("allocate", "node", dva.Id, null, () => unit.Id, () => Describe(unit), ct);
    }

    private async Task ReleaseAsync(AuditLog audit, FleetMarks marks, Node unit, string operation, string reason, CancellationToken ct)
    {
        var before = Describe(unit);
        var dvaId = unit.DvaId;
        unit.Unallocate();
        marks.Clear(FleetMarkKind.DrainStarted, unit.Id);
        marks.Clear(FleetMarkKind.DrainSeen, unit.Id);
        if (operation == "fail")
        {
            // A unit that failed stays out of the pool until it connects again: a hung agent that still sends
            // heartbeats would otherwise be allocated, fail to ack, and be removed, over and over.
            _quarantine[unit.Id] = sessions.Get(unit.Id)?.ConnectionId;
        }

        await audit.SaveAsync(operation, "node", dvaId, before, () => unit.Id, () => new { Reason = reason }, ct);
        FleetLog.Released(logger, unit.Name, operation, reason);
    }

    private async Task UpdateStatusAsync(
        ManagerDbContext db, Appliance dva, long generation, List<Node> nodes, TableVersion? table, bool settled, List<string> unready, CancellationToken ct)
    {
        var desired = Math.Clamp(dva.DesiredDataPlanes, dva.MinDataPlanes, Math.Max(dva.MinDataPlanes, dva.MaxDataPlanes));
        var serving = table?.Peers.Values.Count(p => p.Role == PeerRole.DataPlane && p.Weight > 0) ?? 0;
        var lagging = nodes.Count(n => sessions.Get(n.Id) is not { } s || s.InstalledVersion != table?.Version);
        var converged = table is not null && lagging == 0;
        List<StatusCondition> conditions =
        [
            converged
                ? new(TablesConverged, "True", "RolledOut", $"every unit runs table version {table!.Version}")
                : new(TablesConverged, "False", table is null ? "NoTables" : "RollingOut",
                    table is null ? "no data plane has joined yet" : $"{lagging} units do not run table version {table.Version} yet"),
            serving >= desired
                ? new(CapacitySufficient, "True", "Enough", $"{serving} data planes serve, {desired} wanted")
                : unready.Count > 0
                ? new(CapacitySufficient, "False", "WaitingForDispatcher",
                    $"{serving} data planes serve, {desired} wanted; data planes join once dispatcher {string.Join(", ", unready)} runs its interfaces")
                : new(CapacitySufficient, "False", "WaitingForUnits", $"{serving} data planes serve, {desired} wanted; the pool has too few units"),
        ];
        var changed = !dva.Conditions.SequenceEqual(conditions);
        dva.Conditions = conditions;
        var operating = serving == 0 ? OperatingStatus.Offline : serving >= desired && converged ? OperatingStatus.Online : OperatingStatus.Degraded;
        changed |= dva.OperatingStatus != operating;
        dva.OperatingStatus = operating;
        if (settled && converged && serving >= desired && dva.ObservedGeneration != generation)
        {
            dva.ObservedGeneration = generation;
            changed = true;
        }

        if (changed || db.ChangeTracker.HasChanges())
        {
            // Status (and a drain clock started for an operator's drain) only: the ETag (Version) stays, so an operator's If-Match is not spoiled by the rollout.
            await db.SaveChangesAsync(ct);
        }
    }

    /// <summary>
    /// Heard from within the failure timeout, counted from the end of the manager's own last stall if that is later,
    /// or not judged while the manager is in a stall (<see cref="ManagerStallClock"/>). A unit of the tables that has
    /// not reconnected since the manager started gets <see cref="NodeHubOptions.ReconnectGrace"/> to do so: it kept
    /// forwarding meanwhile.
    /// </summary>
    private bool IsAlive(long nodeKey)
    {
        var now = time.GetUtcNow();
        return sessions.Get(nodeKey) is { } session
            ? stalls.Stalling(now) || now - stalls.SilentSince(session.LastSeen) <= options.Value.FailureTimeout
            : now - _started <= options.Value.ReconnectGrace;
    }

    private bool IsQuarantined(long nodeKey, NodeSession session)
    {
        if (!_quarantine.ContainsKey(nodeKey))
        {
            return false;
        }

        // Back after a failure (a cut link, on the same hub connection or a new one): the agent may still run its old
        // role, with flows the DVA has since given to other units. It is told "unallocated" (and drops them) and may be
        // allocated again once a heartbeat shows it runs no role; a hung agent never shows that. Without this, it came
        // back with its old node id, so the same configuration, kept its flow table, and a flow lived on two units
        // (tests/Dva.EndToEnd.Tests/Lab).
        if (session.ConnectionId is { } current && _sent.TryGetValue(nodeKey, out var sent) && sent.Connection == current
            && sent.Assignment == UnallocatedAssignment && session.LastHeartbeat is { NodeId: 0 })
        {
            _quarantine.TryRemove(nodeKey, out _);
            return false;
        }

        return true;
    }

    private static PeerInfo ToPeer(Node node) => new(
        (ushort)node.NodeId,
        node.Role == NodeRole.Dispatcher ? PeerRole.Dispatcher : PeerRole.DataPlane,
        IPEndPoint.Parse(node.TunnelEndpoint),
        node.Role == NodeRole.DataPlane && node.State == NodeState.Active ? Math.Max(1, node.Weight) : 0);

    private static bool SamePeers(TableVersion table, List<PeerInfo> peers) =>
        table.Peers.Count == peers.Count && peers.All(p => table.Peers.TryGetValue(p.NodeId, out var q) && q == p);

    private static string Cause(List<string> causes, string fallback)
    {
        var text = causes.Count == 0 ? fallback : string.Join("; ", causes);
        return text.Length <= 500 ? text : text[..497] + "...";
    }

    private static object Describe(Node node) => new { node.Name, node.DvaId, node.Role, node.NodeId, node.State, node.Weight, node.TunnelEndpoint };

    /// <summary>The last assignment sent to a unit, on which connection, and how many tables that connection had carried before it.</summary>
    private sealed record SentAssignment(string Connection, NodeAssignment Assignment, long TablesSentBefore, DateTimeOffset At);
}

internal static partial class FleetLog
{
    [LoggerMessage(EventId = 4201, Level = LogLevel.Debug, Message = "DVA {DvaKey}: concurrent write, retrying on the next pass")]
    public static partial void Retry(ILogger logger, long dvaKey);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "DVA {DvaKey}: version {Version} not rolled out: {Reason}")]
    public static partial void NotRolledOut(ILogger logger, long dvaKey, ulong version, string reason);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Warning, Message = "Node {Name}: {Operation} ({Reason})")]
    public static partial void Released(ILogger logger, string name, string operation, string reason);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Warning,
        Message = "The manager did not run for {Seconds:0.0} s more than planned (a pause or a starved host); units' silence counts from now")]
    public static partial void Stalled(ILogger logger, double seconds);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Debug, Message = "DVA {DvaKey}: no change planned while node {NodeIds} is not connected")]
    public static partial void WaitingForUnits(ILogger logger, long dvaKey, string nodeIds);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Information,
        Message = "DVA {DvaKey}: version {Version} held: it would drop {Dropped} predecessors that still have live flows")]
    public static partial void Held(ILogger logger, long dvaKey, ulong version, int dropped);
}
