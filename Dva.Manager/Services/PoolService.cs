using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

internal sealed class PoolService(ManagerDbContext db, AuditLog audit)
    : DvaChildService<Pool, PoolSpec>(db, audit)
{
    protected override string TargetType => "pool";

    protected override async Task ValidateAsync(long dvaId, long? id, PoolSpec spec, ValidationErrors errors, string path, CancellationToken ct)
    {
        errors.RequireName(spec.Name, path + "name");
        errors.Require(Enum.IsDefined(spec.Method), path + "method", "Unknown balancing method.");
        if (await Set.AnyAsync(p => p.DvaId == dvaId && p.Id != id && p.Name == spec.Name, ct))
        {
            errors.Add(path + "name", $"A pool named '{spec.Name}' already exists in this DVA.");
        }
    }

    protected override async Task<ServiceFailure?> CheckDeleteAsync(Pool entity, CancellationToken ct)
    {
        var vips = await Db.Vips.Where(v => v.PoolId == entity.Id).Select(v => v.Name).ToListAsync(ct);
        return vips.Count == 0 ? null
            : ServiceFailure.Conflict($"Pool {entity.Id} is used by VIP(s) {string.Join(", ", vips)}; change those first.");
    }
}
