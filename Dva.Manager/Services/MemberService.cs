using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

/// <summary>
/// Members of a pool. Any member change is a spec change of the pool too (new pool generation and
/// version), so the pool's version is the ETag for a batch replace.
/// </summary>
internal sealed class MemberService(ManagerDbContext db, AuditLog audit)
{
    public const int MaxMembers = 4096;
    public const int MaxWeight = 1000;

    public async Task<ServiceResult<MemberListView>> ListAsync(long dvaId, long poolId, CancellationToken ct)
    {
        var pool = await db.Pools.AsNoTracking().FirstOrDefaultAsync(p => p.Id == poolId && p.DvaId == dvaId, ct);
        if (pool is null)
        {
            return ServiceFailure.NotFound("pool", poolId);
        }

        var members = await db.Members.AsNoTracking().Where(m => m.PoolId == poolId).OrderBy(m => m.Id).ToListAsync(ct);
        return new MemberListView(dvaId, poolId, [.. members.Select(m => m.ToView())], pool.Version);
    }

    public async Task<ServiceResult<MemberView>> GetAsync(long dvaId, long poolId, long id, CancellationToken ct) =>
        await db.Members.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id && m.PoolId == poolId && m.DvaId == dvaId, ct) is { } member
            ? member.ToView()
            : ServiceFailure.NotFound("member", id);

    public async Task<ServiceResult<MemberView>> AddAsync(long dvaId, long poolId, MemberSpec spec, CancellationToken ct)
    {
        var pool = await FindPoolAsync(dvaId, poolId, ct);
        if (pool is null)
        {
            return ServiceFailure.NotFound("pool", poolId);
        }

        var errors = new ValidationErrors();
        Validate(spec, errors, "");
        errors.Require(pool.Members.Count < MaxMembers, "", $"A pool holds at most {MaxMembers} members.");
        if (pool.Members.Any(m => m.Address == spec.Address && m.Port == spec.Port))
        {
            errors.Add("address", $"{spec.Address} port {spec.Port} is already a member of this pool.");
        }

        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var member = new Member { DvaId = dvaId, PoolId = poolId };
        member.Apply(spec);
        pool.Members.Add(member);
        pool.TouchSpec();
        await audit.SaveAsync("create", "member", dvaId, null, () => member.Id, member.ToView, ct);
        return member.ToView();
    }

    /// <summary>Replaces all members of a pool at once; members whose address and port stay keep their id and health.</summary>
    public async Task<ServiceResult<MemberListView>> ReplaceAllAsync(long dvaId, long poolId, IReadOnlyList<MemberSpec> specs, long? ifMatch, CancellationToken ct)
    {
        var pool = await FindPoolAsync(dvaId, poolId, ct);
        if (pool is null)
        {
            return ServiceFailure.NotFound("pool", poolId);
        }

        if (ifMatch is { } expected && expected != pool.Version)
        {
            return ServiceFailure.Stale(pool.Version);
        }

        var errors = new ValidationErrors();
        errors.Require(specs.Count <= MaxMembers, "", $"A pool holds at most {MaxMembers} members.");
        var seen = new HashSet<(string, int)>();
        for (var i = 0; i < specs.Count; i++)
        {
            if (specs[i] is not { } spec)
            {
                errors.Add($"[{i}]", "Must be a member object.");
                continue;
            }

            Validate(spec, errors, $"[{i}].");
            if (!seen.Add((spec.Address, spec.Port)))
            {
                errors.Add($"[{i}].address", $"{spec.Address} port {spec.Port} appears twice.");
            }
        }

        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var before = pool.Members.OrderBy(m => m.Id).Select(m => m.ToView()).ToList();
        var kept = new List<Member>(specs.Count);
        foreach (var spec in specs)
        {
            var member = pool.Members.FirstOrDefault(m => m.Address == spec.Address && m.Port == spec.Port);
            if (member is null)
            {
                member = new Member { DvaId = dvaId, PoolId = poolId };
                member.Apply(spec);
            }
            else if (member.ToSpec() != spec)
            {
                member.Apply(spec);
                member.TouchSpec();
            }

            kept.Add(member);
        }

        db.Members.RemoveRange(pool.Members.Except(kept));
        pool.Members.Clear();
        pool.Members.AddRange(kept);
        pool.TouchSpec();
        await audit.SaveAsync("replaceMembers", "pool", dvaId, before, () => poolId,
            () => kept.Select(m => m.ToView()).ToList(), ct);
        return new MemberListView(dvaId, poolId, [.. kept.Select(m => m.ToView())], pool.Version);
    }

    public async Task<ServiceResult<bool>> DeleteAsync(long dvaId, long poolId, long id, CancellationToken ct)
    {
        var pool = await FindPoolAsync(dvaId, poolId, ct);
        var member = pool?.Members.FirstOrDefault(m => m.Id == id);
        if (pool is null || member is null)
        {
            return pool is null ? ServiceFailure.NotFound("pool", poolId) : ServiceFailure.NotFound("member", id);
        }

        var before = member.ToView();
        db.Members.Remove(member);
        pool.TouchSpec();
        await audit.SaveAsync("delete", "member", dvaId, before, () => id, () => null, ct);
        return true;
    }

    /// <summary>Records a health check result (health is status, not spec: the generation stays).</summary>
    public async Task<bool> SetHealthAsync(long memberId, MemberHealth health, CancellationToken ct)
    {
        var member = await db.Members.FindAsync([memberId], ct);
        if (member is null)
        {
            return false;
        }

        if (member.Health != health)
        {
            member.Health = health;
            member.OperatingStatus = health == MemberHealth.Up ? OperatingStatus.Online : OperatingStatus.Offline;
            member.Version++;
            await db.SaveChangesAsync(ct);
        }

        return true;
    }

    private Task<Pool?> FindPoolAsync(long dvaId, long poolId, CancellationToken ct) =>
        db.Pools.Include(p => p.Members).FirstOrDefaultAsync(p => p.Id == poolId && p.DvaId == dvaId, ct);

    private static void Validate(MemberSpec spec, ValidationErrors errors, string path)
    {
        errors.Require(NetworkSyntax.TryParseAddress(spec.Address, out _), path + "address", "Must be an IPv4 or IPv6 address.");
        errors.Require(NetworkSyntax.IsValidPort(spec.Port), path + "port", "Must be 1..65535.");
        errors.Require(spec.Weight is >= 1 and <= MaxWeight, path + "weight", $"Must be 1..{MaxWeight}.");
        errors.Require(Enum.IsDefined(spec.AdminState), path + "adminState", "Must be enabled, draining or disabled.");
    }
}
