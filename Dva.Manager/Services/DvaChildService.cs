using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

/// <summary>
/// List / get / create / replace / delete for objects that belong to one DVA. Subclasses supply the
/// validation (field syntax and references) and may react to changes.
/// </summary>
internal abstract class DvaChildService<TEntity, TSpec>(ManagerDbContext db, AuditLog audit)
    where TEntity : DvaChildEntity<TSpec>, new()
    where TSpec : class
{
    protected ManagerDbContext Db => db;

    protected AuditLog Audit => audit;

    /// <summary>Name used in messages and audit entries ("interface", "route", …).</summary>
    protected abstract string TargetType { get; }

    protected DbSet<TEntity> Set => db.Set<TEntity>();

    public async Task<ServiceResult<IReadOnlyList<ResourceView<TSpec>>>> ListAsync(long dvaId, CancellationToken ct)
    {
        if (!await db.Dvas.AnyAsync(d => d.Id == dvaId, ct))
        {
            return ServiceFailure.NotFound("DVA", dvaId);
        }

        var items = await Order(Set.AsNoTracking().Where(e => e.DvaId == dvaId)).ToListAsync(ct);
        return items.Select(e => e.ToView()).ToList();
    }

    public async Task<ServiceResult<ResourceView<TSpec>>> GetAsync(long dvaId, long id, CancellationToken ct) =>
        await FindAsync(dvaId, id, ct) is { } entity ? entity.ToView() : ServiceFailure.NotFound(TargetType, id);

    public async Task<ServiceResult<ResourceView<TSpec>>> CreateAsync(long dvaId, TSpec spec, CancellationToken ct)
    {
        var dva = await db.Dvas.FindAsync([dvaId], ct);
        if (dva is null)
        {
            return ServiceFailure.NotFound("DVA", dvaId);
        }

        var errors = new ValidationErrors();
        await ValidateAsync(dvaId, null, spec, errors, "", ct);
        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var entity = new TEntity { DvaId = dvaId };
        entity.Apply(spec);
        await OnCreatingAsync(dva, entity, ct);
        Set.Add(entity);
        await audit.SaveAsync("create", TargetType, dvaId, null, () => entity.Id, entity.ToView, ct);
        return entity.ToView();
    }

    public async Task<ServiceResult<ResourceView<TSpec>>> ReplaceAsync(long dvaId, long id, TSpec spec, long? ifMatch, CancellationToken ct)
    {
        var entity = await FindAsync(dvaId, id, ct);
        if (entity is null)
        {
            return ServiceFailure.NotFound(TargetType, id);
        }

        if (ifMatch is { } expected && expected != entity.Version)
        {
            return ServiceFailure.Stale(entity.Version);
        }

        var errors = new ValidationErrors();
        await ValidateAsync(dvaId, id, spec, errors, "", ct);
        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var before = entity.ToView();
        entity.Apply(spec);
        entity.TouchSpec();
        await OnChangedAsync(dvaId, ct);
        await audit.SaveAsync("replace", TargetType, dvaId, before, () => id, entity.ToView, ct);
        return entity.ToView();
    }

    public async Task<ServiceResult<bool>> DeleteAsync(long dvaId, long id, long? ifMatch, CancellationToken ct)
    {
        var entity = await FindAsync(dvaId, id, ct);
        if (entity is null)
        {
            return ServiceFailure.NotFound(TargetType, id);
        }

        if (ifMatch is { } expected && expected != entity.Version)
        {
            return ServiceFailure.Stale(entity.Version);
        }

        if (await CheckDeleteAsync(entity, ct) is { } refusal)
        {
            return refusal;
        }

        var before = entity.ToView();
        Set.Remove(entity);
        await OnChangedAsync(dvaId, ct);
        await audit.SaveAsync("delete", TargetType, dvaId, before, () => id, () => null, ct);
        return true;
    }

    protected Task<TEntity?> FindAsync(long dvaId, long id, CancellationToken ct) =>
        Set.FirstOrDefaultAsync(e => e.Id == id && e.DvaId == dvaId, ct);

    protected virtual IQueryable<TEntity> Order(IQueryable<TEntity> query) => query.OrderBy(e => e.Id);

    /// <summary>
    /// Adds an error per invalid field of <paramref name="spec"/>, each field name prefixed by <paramref name="path"/>.
    /// <paramref name="id"/> is the object being replaced (null on create), so uniqueness checks skip it.
    /// </summary>
    protected abstract Task ValidateAsync(long dvaId, long? id, TSpec spec, ValidationErrors errors, string path, CancellationToken ct);

    protected virtual Task OnCreatingAsync(Appliance dva, TEntity entity, CancellationToken ct) => OnChangedAsync(dva.Id, ct);

    /// <summary>Called before saving any create, replace or delete.</summary>
    protected virtual Task OnChangedAsync(long dvaId, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Returns a failure when <paramref name="entity"/> is still referenced and cannot go.</summary>
    protected virtual Task<ServiceFailure?> CheckDeleteAsync(TEntity entity, CancellationToken ct) => Task.FromResult<ServiceFailure?>(null);
}
