using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

internal sealed class SharedInterfaceService(ManagerDbContext db, AuditLog audit)
    : DvaChildService<SharedInterface, SharedInterfaceSpec>(db, audit)
{
    public const int MaxAddresses = 64;

    /// <summary>Most VLANs one trunk may list (the node's limit: an unresolved neighbour costs a request per VLAN).</summary>
    public const int MaxVlans = 64;

    protected override string TargetType => "interface";

    protected override IQueryable<SharedInterface> Order(IQueryable<SharedInterface> query) => query.OrderBy(e => e.Ifid);

    protected override async Task ValidateAsync(long dvaId, long? id, SharedInterfaceSpec spec, ValidationErrors errors, string path, CancellationToken ct)
    {
        errors.Require(spec.Ifid is >= 1 and <= 255, path + "ifid", "Must be 1..255.");
        errors.RequireName(spec.Name, path + "name");
        errors.Require(NetworkSyntax.IsValidMac(spec.Mac), path + "mac", "Must be a unicast, non-zero MAC address such as 02:00:5e:00:00:01.");
        errors.Require(spec.Addresses.Count <= MaxAddresses, path + "addresses", $"At most {MaxAddresses} addresses.");
        for (var i = 0; i < spec.Addresses.Count; i++)
        {
            errors.Require(NetworkSyntax.TryParseInterfaceAddress(spec.Addresses[i] ?? "", out _, out _),
                $"{path}addresses[{i}]", "Must be an IPv4 or IPv6 address with prefix length, such as 192.0.2.1/24.");
        }

        errors.Require(spec.Addresses.Distinct(StringComparer.OrdinalIgnoreCase).Count() == spec.Addresses.Count,
            path + "addresses", "Addresses must not repeat.");
        errors.Require(spec.Vlans.Count <= MaxVlans, path + "vlans", $"At most {MaxVlans} VLANs.");
        for (var i = 0; i < spec.Vlans.Count; i++)
        {
            errors.Require(spec.Vlans[i] is >= 1 and <= 4094, $"{path}vlans[{i}]", "Must be a VLAN id, 1..4094.");
        }

        errors.Require(spec.Vlans.Distinct().Count() == spec.Vlans.Count, path + "vlans", "VLANs must not repeat.");
        errors.Require(!spec.RouterAdvertisements || spec.Addresses.Any(a => NetworkSyntax.TryParseInterfaceAddress(a ?? "", out var address, out _)
                && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6),
            path + "routerAdvertisements", "Needs an IPv6 address on the interface: its prefixes are what the advertisements carry.");
        errors.Require(spec.Attachment.NodeName.Length <= 63, path + "attachment.nodeName", "At most 63 characters.");
        errors.Require(spec.Attachment.FrameSource.Length <= 256, path + "attachment.frameSource", "At most 256 characters.");

        if (!Rollout.NodeConfigDocument.CarriesSuperFrames(spec.Attachment.FrameSource)
            && await Db.Dvas.AnyAsync(d => d.Id == dvaId && d.Offload.SuperFrames, ct))
        {
            errors.Add(path + "attachment.frameSource", $"The DVA carries super-frames; '{spec.Attachment.FrameSource}' cannot send them (only afpacket:IF can, opened with ?gso=1). Use afpacket: or turn superFrames off first.");
        }

        var others = Set.Where(e => e.DvaId == dvaId && e.Id != id);
        if (await others.AnyAsync(e => e.Ifid == spec.Ifid, ct))
        {
            errors.Add(path + "ifid", $"IFID {spec.Ifid} is already used in this DVA.");
        }

        if (await others.AnyAsync(e => e.Name == spec.Name, ct))
        {
            errors.Add(path + "name", $"An interface named '{spec.Name}' already exists in this DVA.");
        }
    }

    protected override async Task<ServiceFailure?> CheckDeleteAsync(SharedInterface entity, CancellationToken ct)
    {
        var routes = await Db.Routes.CountAsync(r => r.DvaId == entity.DvaId && r.Ifid == entity.Ifid, ct);
        var rules = await Db.FirewallRules.CountAsync(r => r.DvaId == entity.DvaId && r.IngressIfid == entity.Ifid, ct);
        return routes + rules == 0 ? null
            : ServiceFailure.Conflict($"Interface {entity.Ifid} is used by {routes} route(s) and {rules} firewall rule(s); change those first.");
    }
}
