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
        db.AuditEntries.Add(new AuditEntry
        {
            Actor = actor.Actor,
            Time = time.GetUtcNow(),
            Operation = operation,
            TargetType = targetType,
            TargetId = target,
            // A DVA's own entries belong to it; on create its id is known only after the first save.
            DvaId = dvaId ?? (targetType == DvaTargetType ? target : null),
            Before = before is null ? null : JsonSerializer.Serialize(before, _json),
            After = after() is { } image ? JsonSerializer.Serialize(image, _json) : null,
        });
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
    }

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
