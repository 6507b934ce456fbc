using System.Text.Json;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Services;

/// <summary>Writes changes together with their audit entry, and reads the audit trail.</summary>
internal sealed class AuditLog(ManagerDbContext db, IActorAccessor actor, TimeProvider time, IOptions<JsonOptions> jsonOptions)
{
    private readonly JsonSerializerOptions _json = jsonOptions.Value.SerializerOptions;

    public const int MaxPageSize = 500;

    public const string DvaTargetType = "dva";

    public string Actor => actor.Actor;

    /// <summary>
    /// Saves the pending changes and one audit entry in one transaction. The target id and the "after"
    /// image are read after the first save, so a create records the id the database assigned.
    /// </summary>
    public async Task SaveAsync(
        string operation, string targetType, long? dvaId, object? before,
        Func<long?> targetId, Func<object?> after, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.SaveChangesAsync(ct);
        var target = targetId();
        // A DVA's own entries belong to it; on create its id is known only after the first save.
        Add(operation, targetType, dvaId ?? (targetType == DvaTargetType ? target : null), target, before, after(), time.GetUtcNow());
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
    }

    /// <summary>
    /// Adds one audit entry to the context without saving it, for a caller that saves it in its own transaction
    /// together with the change it records (one commit instead of two: the era rollout writes its entries so).
    /// Entries saved by one SaveChanges call have no defined order among themselves: save between two of them
    /// when their order matters.
    /// </summary>
    /// <param name="at">When it happened (the entry may be saved a little later); the clock's now when null.</param>
    public void Add(string operation, string targetType, long? dvaId, long? targetId, object? before, object? after, DateTimeOffset? at = null) =>
        db.AuditEntries.Add(new AuditEntry
        {
            Actor = actor.Actor,
            Time = at ?? time.GetUtcNow(),
            Operation = operation,
            TargetType = targetType,
            TargetId = targetId,
            DvaId = dvaId,
            Before = before is null ? null : JsonSerializer.Serialize(before, _json),
            After = after is null ? null : JsonSerializer.Serialize(after, _json),
        });

    public async Task<PagedResult<AuditEntryView>> ListAsync(long? dvaId, int page, int pageSize, CancellationToken ct)
    {
        page = Math.Max(page, 1);
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        var query = db.AuditEntries.AsNoTracking();
        if (dvaId is { } id)
        {
            query = query.Where(e => e.DvaId == id);
        }

        var total = await query.CountAsync(ct);
        var items = await query.OrderByDescending(e => e.Id).Skip((page - 1) * pageSize).Take(pageSize).ToListAsync(ct);
        return new PagedResult<AuditEntryView>([.. items.Select(e => e.ToView())], page, pageSize, total);
    }
}
