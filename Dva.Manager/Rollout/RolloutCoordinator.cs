using System.Collections.Concurrent;
using Dva.Manager.Hubs;
using Dva.Manager.Infrastructure;
using Dva.Manager.Services;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;
using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Rollout;

/// <summary>
/// Rolls table versions out to a DVA's units in two phases (DESIGN.md §5): every data plane installs v+1 and
/// acks; then every dispatcher; then v+1 is committed and data planes may drop v. One version per DVA is in
/// flight at a time; a second request gets <see cref="RolloutOutcome.Busy"/>. A unit that does not ack within
/// <see cref="NodeHubOptions.AckTimeout"/> is reported failed, and removing it is the caller's next change.
/// </summary>
internal sealed class RolloutCoordinator(
    IHubContext<NodeHub, INodeClient> hub,
    NodeSessions sessions,
    IServiceScopeFactory scopes,
    TimeProvider time,
    IOptions<NodeHubOptions> options,
    ManagerStallClock stalls,
    ILogger<RolloutCoordinator> logger)
{
    private const int LogsKeptPerDva = 64;

    private readonly ConcurrentDictionary<long, SemaphoreSlim> _gates = new();
    private readonly ConcurrentDictionary<long, TableVersion> _current = new();
    private readonly ConcurrentDictionary<long, ulong> _inFlightVersion = new();
    private readonly ConcurrentDictionary<(Guid DvaId, ulong Version), Flight> _inFlight = new();
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<ulong, RolloutLog>> _logs = new();

    /// <summary>Raised after a version committed (for live views and tests); handlers must be quick and not throw.</summary>
    public event Action<TableVersion, RolloutLogView>? Committed;

    /// <summary>The last version recorded for the DVA (committed, or interrupted by a manager restart), or null.</summary>
    public async Task<TableVersion?> LoadCurrentAsync(long dvaKey, CancellationToken ct)
    {
        if (_current.TryGetValue(dvaKey, out var cached))
        {
            return cached;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        var snapshot = await db.TableVersions.AsNoTracking().Where(t => t.DvaId == dvaKey)
            .OrderByDescending(t => t.TableVersion).Select(t => t.Snapshot).FirstOrDefaultAsync(ct);
        if (snapshot is null)
        {
            return null;
        }

        var error = TableCodec.TryDecode(snapshot, out var table);
        if (error != TableCodecError.None || table is null)
        {
            throw new InvalidOperationException($"The stored tables of DVA {dvaKey} do not decode: {error}.");
        }

        return _current.GetOrAdd(dvaKey, table);
    }

    /// <summary>The committed version in memory, or null before the first rollout since start.</summary>
    public TableVersion? Current(long dvaKey) => _current.GetValueOrDefault(dvaKey);

    /// <summary>Version being rolled out for the DVA, or null.</summary>
    public ulong? InFlight(long dvaKey) => _inFlightVersion.TryGetValue(dvaKey, out var v) ? v : null;

    public RolloutLogView? GetLog(long dvaKey, ulong version) =>
        _logs.TryGetValue(dvaKey, out var logs) && logs.TryGetValue(version, out var log) ? log.ToView() : null;

    /// <summary>The rollouts kept in memory for a DVA, newest first.</summary>
    public IReadOnlyList<RolloutLogView> GetLogs(long dvaKey) =>
        _logs.TryGetValue(dvaKey, out var logs) ? [.. logs.Values.OrderByDescending(l => l.Version).Select(l => l.ToView())] : [];

    /// <summary>
    /// Records <paramref name="next"/> and rolls it out to <paramref name="members"/> (the units of the new
    /// version; data planes first). Returns when it committed, or at once when another rollout is in flight.
    /// </summary>
    public async Task<RolloutResult> RolloutAsync(long dvaKey, TableVersion next, IReadOnlyList<RolloutMember> members, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(dvaKey, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(0, ct))
        {
            return RolloutResult.Busy(dvaKey, _inFlightVersion.GetValueOrDefault(dvaKey));
        }

        try
        {
            var current = await LoadCurrentAsync(dvaKey, ct);
            var expected = current is null ? next.Version : current.Version + 1;
            if (next.Version != expected || (current is not null && current.DvaId != next.DvaId))
            {
                return RolloutResult.Rejected($"Version {next.Version} does not follow the current version {current?.Version ?? 0} of DVA {dvaKey}.");
            }

            _inFlightVersion[dvaKey] = next.Version;
            return await RunAsync(dvaKey, next, members, ct);
        }
        finally
        {
            _inFlightVersion.TryRemove(dvaKey, out _);
            gate.Release();
        }
    }

    /// <summary>An ack from the hub. Acks of versions not in flight, or naming another unit's node id, are ignored.</summary>
    public void OnAck(long nodeKey, TableAck ack)
    {
        if (!_inFlight.TryGetValue((ack.DvaId, ack.Version), out var flight)
            || !flight.Pending.TryGetValue(nodeKey, out var pending)
            || pending.Member.NodeId != ack.NodeId)
        {
            RolloutLogMessages.AckIgnored(logger, nodeKey, ack.NodeId, ack.Version);
            return;
        }

        var received = new RolloutAck(ack.NodeId, nodeKey, pending.Member.Role, time.GetUtcNow(), ack.Installed, ack.Error);
        if (pending.Answer.TrySetResult(received))
        {
            flight.Log.Add(received);
            if (ack.Installed && sessions.Get(nodeKey) is { } session)
            {
                session.InstalledVersion = ack.Version;
            }
        }
    }

    /// <summary>Sends the current version to one unit outside a rollout (a unit that reconnected or just joined late).</summary>
    public async Task ResyncAsync(long dvaKey, NodeSession session, CancellationToken ct)
    {
        if (Current(dvaKey) is not { } table || session.ConnectionId is not { } connection)
        {
            return;
        }

        var client = hub.Clients.Client(connection);
        session.CountTableSent(connection);
        await client.InstallTable(new TableUpdate(table.DvaId, table.Version, TableCodec.Encode(table)));
        await client.Commit(table.DvaId, table.Version);
        session.InstalledVersion = table.Version;
        RolloutLogMessages.Resynced(logger, session.NodeKey, table.Version);
    }

    /// <summary>
    /// Sends the current version again to a unit that runs it (or should), without a commit: the agent handles hub
    /// messages one at a time and in order, so its ack proves it finished handling every assignment sent before.
    /// Installing the version it already runs changes nothing on the unit.
    /// </summary>
    public async Task ConfirmAsync(long dvaKey, NodeSession session)
    {
        if (Current(dvaKey) is not { } table || session.ConnectionId is not { } connection)
        {
            return;
        }

        session.CountTableSent(connection);
        await hub.Clients.Client(connection).InstallTable(new TableUpdate(table.DvaId, table.Version, TableCodec.Encode(table)));
    }

    // Two database commits per rollout, each a SQLite transaction with its disk flush: the version and its
    // "rollout-start" entry before any unit sees the version (a restarted manager resumes from it), and the
    // "rolled out" mark with the phase and commit entries after the commits went out, where it delays no unit.
    // Five commits (one per write) made a third of the 8-unit rollout (docs/benchmarks.md, "Era rollout latency").
    // Neither reads before it writes: the version is one INSERT (the database refuses a missing DVA or a version
    // recorded already) and the mark one UPDATE by the row's id, not a look-up that loaded the snapshot blob back.
    private async Task<RolloutResult> RunAsync(long dvaKey, TableVersion next, IReadOnlyList<RolloutMember> members, CancellationToken ct)
    {
        var encoded = TableCodec.Encode(next);
        long recordId;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
            var record = scope.ServiceProvider.GetRequiredService<TableHistoryService>().Stage(dvaKey, (long)next.Version, next.Cause, encoded);
            Audit(scope, dvaKey, "rollout-start", next, new { next.Version, next.Cause, Units = members.Count });
            try
            {
                // One SaveChanges: EF writes both rows in one transaction, so one commit.
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException e) when (TableHistoryService.IsRefusal(e))
            {
                return RolloutResult.Rejected($"Version {next.Version} of DVA {dvaKey} was not recorded: {e.InnerException!.Message}");
            }

            recordId = record.Id;
        }

        var log = new RolloutLog(dvaKey, next.Version, next.Cause, time.GetUtcNow());
        var logs = _logs.GetOrAdd(dvaKey, _ => new ConcurrentDictionary<ulong, RolloutLog>());
        logs[next.Version] = log;
        foreach (var old in logs.Keys.Where(v => v + LogsKeptPerDva <= next.Version))
        {
            logs.TryRemove(old, out _);
        }

        var update = new TableUpdate(next.DvaId, next.Version, encoded);
        var failed = new List<RolloutMember>();
        var flight = new Flight(log);
        _inFlight[(next.DvaId, next.Version)] = flight;
        object dataPlanesDone;
        DateTimeOffset dataPlanesDoneAt;
        try
        {
            log.Phase = RolloutPhase.DataPlanes;
            failed.AddRange(await PhaseAsync(flight, update, [.. members.Where(m => m.Role == PeerRole.DataPlane)], ct));
            dataPlanesDoneAt = time.GetUtcNow();
            dataPlanesDone = new { next.Version, Failed = failed.Select(f => f.NodeId).ToArray() };
            log.Phase = RolloutPhase.Dispatchers;
            log.DispatchersStarted = dataPlanesDoneAt;
            failed.AddRange(await PhaseAsync(flight, update, [.. members.Where(m => m.Role == PeerRole.Dispatcher)], ct));
        }
        finally
        {
            _inFlight.TryRemove((next.DvaId, next.Version), out _);
        }

        var committing = members.Except(failed).Select(m => sessions.Get(m.NodeKey)?.ConnectionId).OfType<string>().ToList();
        if (committing.Count > 0)
        {
            await hub.Clients.Clients(committing).Commit(next.DvaId, next.Version);
        }

        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            // Saved before the commit entry is added, so that the entries keep their order (one commit for all).
            Audit(scope, dvaKey, "rollout-dataplanes", next, dataPlanesDone, dataPlanesDoneAt);
            await db.SaveChangesAsync(ct);
            scope.ServiceProvider.GetRequiredService<TableHistoryService>().StageRolledOut(recordId);
            Audit(scope, dvaKey, "rollout-commit", next, new { next.Version, Failed = failed.Select(f => f.NodeId) });
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }

        _current[dvaKey] = next;
        log.Committed = time.GetUtcNow();
        log.Phase = RolloutPhase.Committed;
        RolloutLogMessages.Committed(logger, dvaKey, next.Version, failed.Count);
        Committed?.Invoke(next, log.ToView());
        var message = failed.Count == 0
            ? $"Version {next.Version} committed on {members.Count} units."
            : $"Version {next.Version} committed; units {string.Join(", ", failed.Select(f => f.NodeId))} did not ack and are failed.";
        return new RolloutResult(RolloutOutcome.Committed, message, failed);
    }

    /// <summary>
    /// Sends the version to <paramref name="members"/> and waits for their acks; returns those that failed. The
    /// message goes to every member in one send (serialized once, written to each connection without waiting for
    /// the one before) before any ack is awaited: one after another, awaiting each, made 31 data planes a queue.
    /// </summary>
    private async Task<List<RolloutMember>> PhaseAsync(Flight flight, TableUpdate update, RolloutMember[] members, CancellationToken ct)
    {
        var failed = new List<RolloutMember>();
        var waiting = new List<Pending>();
        var connections = new List<string>();
        foreach (var member in members)
        {
            if (sessions.Get(member.NodeKey) is not { ConnectionId: { } connection } session)
            {
                failed.Add(member);
                continue;
            }

            // Waited for before the send: an ack can come back before the send returns.
            var pending = new Pending(member);
            flight.Pending[member.NodeKey] = pending;
            waiting.Add(pending);
            connections.Add(connection);
            session.CountTableSent(connection);
        }

        var sentAt = time.GetUtcNow();
        if (connections.Count > 0)
        {
            await hub.Clients.Clients(connections).InstallTable(update);
        }

        await WaitForAcksAsync(Task.WhenAll(waiting.Select(p => p.Answer.Task)), sentAt, ct);

        foreach (var pending in waiting)
        {
            if (!pending.Answer.Task.IsCompletedSuccessfully || !pending.Answer.Task.Result.Installed)
            {
                failed.Add(pending.Member);
            }
        }

        foreach (var member in failed)
        {
            flight.Log.AddFailed(member.NodeId);
        }

        return failed;
    }

    /// <summary>
    /// Waits for the acks until <see cref="NodeHubOptions.AckTimeout"/> after the send, or after the end of a stall of
    /// the manager itself if that is later (<see cref="ManagerStallClock"/>), and on while it is in one: acks that came
    /// during a pause still wait unread, and must not get the units that sent them failed. Whoever has not answered by
    /// then is failed by the caller; the others' answers stand.
    /// </summary>
    private async Task WaitForAcksAsync(Task all, DateTimeOffset sentAt, CancellationToken ct)
    {
        while (!all.IsCompleted)
        {
            var now = time.GetUtcNow();
            var left = stalls.SilentSince(sentAt) + options.Value.AckTimeout - now;
            if (left <= TimeSpan.Zero && !stalls.Stalling(now))
            {
                return;
            }

            try
            {
                await all.WaitAsync(left > ManagerStallClock.TickInterval ? left : ManagerStallClock.TickInterval, time, ct);
            }
            catch (TimeoutException)
            {
                // Judged again: a stall may have ended meanwhile.
            }
        }
    }

    private static void Audit(AsyncServiceScope scope, long dvaKey, string operation, TableVersion table, object after, DateTimeOffset? at = null) =>
        scope.ServiceProvider.GetRequiredService<AuditLog>().Add(operation, "table", dvaKey, (long)table.Version, null, after, at);

    private sealed class Pending(RolloutMember member)
    {
        public RolloutMember Member { get; } = member;

        public TaskCompletionSource<RolloutAck> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Flight(RolloutLog log)
    {
        public RolloutLog Log { get; } = log;

        public ConcurrentDictionary<long, Pending> Pending { get; } = new();
    }
}

internal static partial class RolloutLogMessages
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "Ignored an ack from node key {NodeKey} (node {NodeId}) for version {Version}")]
    public static partial void AckIgnored(ILogger logger, long nodeKey, ushort nodeId, ulong version);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "DVA {DvaKey}: table version {Version} committed, {FailedCount} units failed")]
    public static partial void Committed(ILogger logger, long dvaKey, ulong version, int failedCount);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Debug, Message = "Node key {NodeKey}: resent table version {Version}")]
    public static partial void Resynced(ILogger logger, long nodeKey, ulong version);
}
