using System.Collections.Concurrent;
using Dva.Manager.Hubs;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Rollout;
using Dva.Manager.Services;
using Dva.Shared.Contracts;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Security.Keys;

/// <summary>
/// Makes, keeps and delivers the tunnel keys of secure DVAs (DESIGN.md §2; docs/protocol.md, "Keys and rotation").
/// Keys come from the system CSPRNG, are stored encrypted with ASP.NET Data Protection, travel only in
/// <see cref="INodeClient.InstallKeys"/> over the authenticated hub, and are never returned by the REST API or logged
/// (only key ids are). A rotation is three steps, each acked by every unit before the next: the new key into the
/// spare phase, then send with it, then retire the old phase; receivers accept both phases meanwhile, so nothing
/// in flight is lost.
/// </summary>
internal sealed partial class TunnelKeyService(
    IServiceScopeFactory scopes,
    IHubContext<NodeHub, INodeClient> hub,
    NodeSessions sessions,
    IDataProtectionProvider protection,
    ILogger<TunnelKeyService> logger) : IDisposable
{
    /// <summary>How long a rotation step waits for every unit's ack.</summary>
    public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<(Guid Dva, long Sequence, long NodeKey), TaskCompletionSource<KeyAck>> _waiting = new();
    private readonly SemaphoreSlim _rotating = new(1, 1);
    private long _sequence = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;

    /// <summary>
    /// Sends <paramref name="nodeKey"/> the DVA's keys after its assignment (first start, reconnection, a new unit):
    /// both phases' keys and the send phase. Makes the first key of a DVA that has none. Does not wait for the ack.
    /// </summary>
    public async Task DeliverAsync(long dvaId, long nodeKey, CancellationToken ct)
    {
        if (sessions.Get(nodeKey)?.ConnectionId is not { } connection)
        {
            return;
        }

        // Not during a rotation's steps: the unit would get a state that is about to change.
        await _rotating.WaitAsync(ct);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
            if (await db.Dvas.FindAsync([dvaId], ct) is not { } dva || dva.Tunnel.Security == TunnelSecurity.Plain)
            {
                return;
            }

            var tableId = DvaIdentity.TableId(dva);
            var state = await EnsureStateAsync(dva, db, ct);
            var client = hub.Clients.Client(connection);
            var send = state.KeyOf(state.SendPhase)!;
            await client.InstallKeys(new KeyUpdate(tableId, NextSequence(), Material(state.SendPhase, send), state.SendPhase, null));
            var spare = 1 - state.SendPhase;
            if (state.KeyOf(spare) is { } other)
            {
                await client.InstallKeys(new KeyUpdate(tableId, NextSequence(), Material(spare, other), null, null));
            }
        }
        finally
        {
            _rotating.Release();
        }
    }

    /// <summary>An ack from a node (<see cref="INodeHubServer.AckKeys"/>): completes the step waiting for it.</summary>
    public void OnAck(long nodeKey, KeyAck ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        if (_waiting.TryRemove((ack.DvaId, ack.Sequence, nodeKey), out var waiting))
        {
            waiting.TrySetResult(ack);
        }

        if (!ack.Applied)
        {
            LogRefused(logger, nodeKey, ack.Sequence, ack.Error ?? "no reason");
        }
    }

    /// <summary>
    /// Rotates the DVA's key on every connected unit. Fails (and leaves the units on a state that still works: both
    /// keys accepted) when a unit does not ack a step in time or refuses it.
    /// </summary>
    public async Task<ServiceResult<KeyRotationView>> RotateAsync(long dvaId, CancellationToken ct)
    {
        await _rotating.WaitAsync(ct);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
            var audit = scope.ServiceProvider.GetRequiredService<AuditLog>();
            var dva = await db.Dvas.FindAsync([dvaId], ct);
            if (dva is null)
            {
                return ServiceFailure.NotFound("DVA", dvaId);
            }

            if (dva.Tunnel.Security == TunnelSecurity.Plain)
            {
                return ServiceFailure.Conflict($"DVA {dvaId} runs its tunnel in plain mode; set tunnelSecurity to authenticated or encrypted first.");
            }

            var tableId = DvaIdentity.TableId(dva);
            var before = await EnsureStateAsync(dva, db, ct);
            var nodes = await db.Nodes.AsNoTracking().Where(n => n.DvaId == dvaId).Select(n => n.Id).ToListAsync(ct);
            var connected = nodes.Where(n => sessions.Get(n)?.ConnectionId is not null).ToList();
            var oldPhase = before.SendPhase;
            var newPhase = 1 - oldPhase;
            var fresh = TunnelKeyState.NewKey(dva.Tunnel.Cipher);

            // 1. Every unit holds the new key in the spare phase (and still sends with the old one).
            var installed = before.With(newPhase, fresh);
            await SaveStateAsync(dva, installed, db, ct);
            if (await StepAsync(tableId, connected, seq => new KeyUpdate(tableId, seq, Material(newPhase, fresh), null, null), ct) is { } failed1)
            {
                return failed1;
            }

            // 2. Every unit sends with the new key; packets sealed with the old one are still opened.
            var switched = installed with { SendPhase = newPhase };
            await SaveStateAsync(dva, switched, db, ct);
            if (await StepAsync(tableId, connected, seq => new KeyUpdate(tableId, seq, null, newPhase, null), ct) is { } failed2)
            {
                return failed2;
            }

            // 3. The old phase is retired everywhere.
            var retired = switched.With(oldPhase, null);
            if (await StepAsync(tableId, connected, seq => new KeyUpdate(tableId, seq, null, null, oldPhase), ct) is { } failed3)
            {
                return failed3;
            }

            dva.Tunnel.ProtectedKeys = retired.Protect(protection);
            var view = new KeyRotationView(dvaId, newPhase, fresh.Id, before.KeyOf(oldPhase)?.Id ?? 0, connected.Count, nodes.Count - connected.Count);
            await audit.SaveAsync("rotate-keys", AuditLog.DvaTargetType, dvaId,
                new { sendPhase = oldPhase, keyId = $"{before.KeyOf(oldPhase)?.Id:x8}" }, () => dvaId,
                () => new { sendPhase = newPhase, keyId = $"{fresh.Id:x8}", units = connected.Count }, ct);
            LogRotated(logger, dvaId, $"{view.RetiredKeyId:x8}", $"{view.KeyId:x8}", newPhase, connected.Count);
            return view;
        }
        finally
        {
            _rotating.Release();
        }
    }

    private async Task<ServiceFailure?> StepAsync(Guid tableId, List<long> nodes, Func<long, KeyUpdate> update, CancellationToken ct)
    {
        var acks = new List<(long Node, Task<KeyAck> Ack)>();
        foreach (var node in nodes)
        {
            if (sessions.Get(node)?.ConnectionId is not { } connection)
            {
                return ServiceFailure.Conflict($"Node {node} disconnected during the key rotation; both keys stay accepted until the next rotation.");
            }

            var message = update(NextSequence());
            var waiting = new TaskCompletionSource<KeyAck>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[(tableId, message.Sequence, node)] = waiting;
            acks.Add((node, waiting.Task));
            await hub.Clients.Client(connection).InstallKeys(message);
        }

        foreach (var (node, ack) in acks)
        {
            KeyAck answer;
            try
            {
                answer = await ack.WaitAsync(AckTimeout, ct);
            }
            catch (TimeoutException)
            {
                return ServiceFailure.Conflict($"Node {node} did not ack a key rotation step within {AckTimeout.TotalSeconds:F0} s; both keys stay accepted.");
            }

            if (!answer.Applied)
            {
                return ServiceFailure.Conflict($"Node {node} refused a key rotation step: {answer.Error}");
            }
        }

        return null;
    }

    private async Task<TunnelKeyState> EnsureStateAsync(Appliance dva, ManagerDbContext db, CancellationToken ct)
    {
        if (TunnelKeyState.Unprotect(protection, dva.Tunnel.ProtectedKeys) is { } state && state.KeyOf(state.SendPhase) is not null)
        {
            return state;
        }

        var first = TunnelKeyState.First(dva.Tunnel.Cipher);
        await SaveStateAsync(dva, first, db, ct);
        LogFirstKey(logger, dva.Id, $"{first.Phase0!.Id:x8}");
        return first;
    }

    private async Task SaveStateAsync(Appliance dva, TunnelKeyState state, ManagerDbContext db, CancellationToken ct)
    {
        dva.Tunnel.ProtectedKeys = state.Protect(protection);
        await db.SaveChangesAsync(ct);
    }

    private static TunnelKeyMaterial Material(int phase, StoredTunnelKey key) => new(phase, key.Id, key.Cipher, key.Material);

    public void Dispose() => _rotating.Dispose();

    private long NextSequence() => Interlocked.Increment(ref _sequence);

    [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "DVA {DvaId}: first tunnel key {KeyId}")]
    private static partial void LogFirstKey(ILogger logger, long dvaId, string keyId);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Information, Message = "DVA {DvaId}: tunnel key {OldKeyId} rotated to {KeyId} (phase {Phase}) on {Units} units")]
    private static partial void LogRotated(ILogger logger, long dvaId, string oldKeyId, string keyId, int phase, int units);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Warning, Message = "Node {NodeKey} refused key update {Sequence}: {Reason}")]
    private static partial void LogRefused(ILogger logger, long nodeKey, long sequence, string reason);
}

/// <summary>The result of a rotation: key ids only.</summary>
internal sealed record KeyRotationView(long DvaId, int SendPhase, uint KeyId, uint RetiredKeyId, int UnitsRotated, int UnitsDisconnected);
