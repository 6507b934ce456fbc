using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

internal sealed class VipService(ManagerDbContext db, AuditLog audit)
    : DvaChildService<Vip, VipSpec>(db, audit)
{
    protected override string TargetType => "vip";

    protected override async Task ValidateAsync(long dvaId, long? id, VipSpec spec, ValidationErrors errors, string path, CancellationToken ct)
    {
        errors.RequireName(spec.Name, path + "name");
        var addressOk = NetworkSyntax.TryParseAddress(spec.Address, out _);
        errors.Require(addressOk, path + "address", "Must be an IPv4 or IPv6 address.");
        errors.Require(NetworkSyntax.IsValidPort(spec.Port), path + "port", "Must be 1..65535.");
        errors.Require(Enum.IsDefined(spec.Protocol), path + "protocol", "Must be tcp or udp.");
        if (!await Db.Pools.AnyAsync(p => p.Id == spec.PoolId && p.DvaId == dvaId, ct))
        {
            errors.Add(path + "poolId", $"No pool {spec.PoolId} in this DVA.");
        }

        var others = Set.Where(v => v.DvaId == dvaId && v.Id != id);
        if (await others.AnyAsync(v => v.Name == spec.Name, ct))
        {
            errors.Add(path + "name", $"A VIP named '{spec.Name}' already exists in this DVA.");
        }

        if (addressOk && await others.AnyAsync(v => v.Address == spec.Address && v.Port == spec.Port && v.Protocol == spec.Protocol, ct))
        {
            errors.Add(path + "address", $"{spec.Address} port {spec.Port} is already a VIP in this DVA.");
        }
    }
}
