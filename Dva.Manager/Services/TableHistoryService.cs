using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

/// <summary>Stored table versions of each DVA: written by the table builder / rollout, read by REST and the dashboard.</summary>
internal sealed class TableHistoryService(ManagerDbContext db, IActorAccessor actor, TimeProvider time)
{
    public const int MaxPageSize = 200;

    /// <summary>Stores a newly built version (era = version &amp; 1). Versions of a DVA must increase.</summary>
    public async Task<ServiceResult<TableVersionView>> RecordAsync(long dvaId, long version, string cause, byte[] snapshot, CancellationToken ct)
    {
        if (!await db.Dvas.AnyAsync(d => d.Id == dvaId, ct))
        {
            return ServiceFailure.NotFound("DVA", dvaId);
        }

        var latest = await db.TableVersions.Where(t => t.DvaId == dvaId).MaxAsync(t => (long?)t.TableVersion, ct) ?? 0;
        if (version <= latest)
        {
            return ServiceFailure.Conflict($"Table version {version} is not newer than the stored version {latest}.");
        }

        var record = Stage(dvaId, version, cause, snapshot);
        await db.SaveChangesAsync(ct);
        return record.ToView();
    }

    /// <summary>
    /// Stages a newly built version for the caller's own SaveChanges, without the two look-ups of <see cref="RecordAsync"/>:
    /// the era rollout saves it together with its audit entry, one INSERT each in one commit. The database itself refuses
    /// a DVA that does not exist (foreign key) and a version already recorded (unique index on DVA and version); the
    /// caller knows the version follows the last one (<see cref="IsRefusal"/> tells such a refusal from other failures).
    /// </summary>
    public TableVersionRecord Stage(long dvaId, long version, string cause, byte[] snapshot)
    {
        var record = new TableVersionRecord
        {
            DvaId = dvaId,
            TableVersion = version,
            Era = (int)(version & 1),
            Cause = cause,
            Actor = actor.Actor,
            Created = time.GetUtcNow(),
            Snapshot = snapshot,
        };
        db.TableVersions.Add(record);
        return record;
    }

    /// <summary>The save failed on a constraint (no such DVA, or the version is recorded already), not on the database itself.</summary>
    public static bool IsRefusal(DbUpdateException e) => e.InnerException is SqliteException { SqliteErrorCode: 19 /* SQLITE_CONSTRAINT */ };

    /// <summary>
    /// Stages the "rolled out" mark of a version recorded with <see cref="Stage"/> (its row id known) for the caller's
    /// SaveChanges: one UPDATE of that column, without reading the row (and its snapshot blob) back first.
    /// </summary>
    public void StageRolledOut(long recordId)
    {
        var entry = db.TableVersions.Attach(new TableVersionRecord { Id = recordId });
        entry.Property(r => r.RolledOut).CurrentValue = time.GetUtcNow();
        entry.Property(r => r.RolledOut).IsModified = true;
    }

    /// <summary>Marks a version as installed on every unit (the end of its era rollout).</summary>
    public async Task<ServiceResult<TableVersionView>> MarkRolledOutAsync(long dvaId, long version, CancellationToken ct)
    {
        var record = await db.TableVersions.FirstOrDefaultAsync(t => t.DvaId == dvaId && t.TableVersion == version, ct);
        if (record is null)
        {
            return ServiceFailure.NotFound("table version", version);
        }

        record.RolledOut ??= time.GetUtcNow();
        await db.SaveChangesAsync(ct);
        return record.ToView();
    }

    public async Task<ServiceResult<PagedResult<TableVersionView>>> ListAsync(long dvaId, int page, int pageSize, CancellationToken ct)
    {
        if (!await db.Dvas.AnyAsync(d => d.Id == dvaId, ct))
        {
            return ServiceFailure.NotFound("DVA", dvaId);
        }

        page = Math.Max(page, 1);
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        var query = db.TableVersions.AsNoTracking().Where(t => t.DvaId == dvaId);
        var total = await query.CountAsync(ct);
        // Project away the snapshot blob: a list should not drag megabytes of owner tables along.
        var items = await query.OrderByDescending(t => t.TableVersion).Skip((page - 1) * pageSize).Take(pageSize)
            .Select(t => new TableVersionView(t.DvaId, t.TableVersion, t.Era, t.Cause, t.Actor, t.Created, t.RolledOut, t.Snapshot.Length))
            .ToListAsync(ct);
        return new PagedResult<TableVersionView>(items, page, pageSize, total);
    }

    public async Task<ServiceResult<TableVersionDetail>> GetAsync(long dvaId, long version, CancellationToken ct) =>
        await db.TableVersions.AsNoTracking().FirstOrDefaultAsync(t => t.DvaId == dvaId && t.TableVersion == version, ct) is { } record
            ? new TableVersionDetail(record.ToView(), record.Snapshot)
            : ServiceFailure.NotFound("table version", version);
}
