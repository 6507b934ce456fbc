using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

internal sealed class StaticRouteService(ManagerDbContext db, AuditLog audit)
    : DvaChildService<StaticRoute, StaticRouteSpec>(db, audit)
{
    protected override string TargetType => "route";

    protected override async Task ValidateAsync(long dvaId, long? id, StaticRouteSpec spec, ValidationErrors errors, string path, CancellationToken ct)
    {
        var prefixOk = NetworkSyntax.TryParsePrefix(spec.Prefix, out var prefix) && spec.Prefix.Contains('/', StringComparison.Ordinal);
        errors.Require(prefixOk, path + "prefix", "Must be a network prefix with no host bits set, such as 198.51.100.0/24.");
        if (spec.NextHop.Length > 0)
        {
            if (!NetworkSyntax.TryParseAddress(spec.NextHop, out var nextHop))
            {
                errors.Add(path + "nextHop", "Must be an IPv4 or IPv6 address, or empty for a connected route.");
            }
            else if (prefixOk && nextHop.AddressFamily != prefix.BaseAddress.AddressFamily)
            {
                errors.Add(path + "nextHop", "Must be of the same address family as the prefix.");
            }
        }

        if (!await Db.Interfaces.AnyAsync(i => i.DvaId == dvaId && i.Ifid == spec.Ifid, ct))
        {
            errors.Add(path + "ifid", $"No shared interface with IFID {spec.Ifid} in this DVA.");
        }

        if (prefixOk && await Set.AnyAsync(r => r.DvaId == dvaId && r.Id != id && r.Prefix == spec.Prefix, ct))
        {
            errors.Add(path + "prefix", $"A route for {spec.Prefix} already exists in this DVA.");
        }
    }
}
