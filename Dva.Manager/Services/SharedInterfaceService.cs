using System.Net;
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
        var links = ValidateSubInterfaces(spec, errors, path);
        errors.Require(!spec.RouterAdvertisements || links.Any(l => l.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6),
            path + "routerAdvertisements", "Needs an IPv6 address on the interface or a sub-interface: its prefixes are what the advertisements carry.");
        var maxPrefixes = Dva.Shared.Packets.RouterAdvertisement.MaxPrefixes;
        errors.Require(!spec.RouterAdvertisements || links.Where(l => l.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
                .GroupBy(l => l.Vlan).All(g => g.Count() <= maxPrefixes),
            path + "routerAdvertisements", $"At most {maxPrefixes} IPv6 prefixes per link fit one advertisement.");
        ValidateHostConfiguration(spec, errors, path);
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

    /// <summary>
    /// Checks the sub-interfaces (VLAN, addresses) and that every address of the interface is on one link only and no
    /// subnet spans two links; returns every well-formed address with its subnet and link (0: the untagged one).
    /// </summary>
    private static List<(IPAddress Address, IPNetwork Subnet, int Vlan, string Path)> ValidateSubInterfaces(SharedInterfaceSpec spec, ValidationErrors errors, string path)
    {
        var links = new List<(IPAddress Address, IPNetwork Subnet, int Vlan, string Path)>();
        for (var i = 0; i < spec.Addresses.Count; i++)
        {
            if (NetworkSyntax.TryParseInterfaceAddress(spec.Addresses[i] ?? "", out var address, out var length))
            {
                links.Add((address, NetworkSyntax.NetworkOf(address, length), 0, $"{path}addresses[{i}]"));
            }
        }

        for (var v = 0; v < spec.SubInterfaces.Count; v++)
        {
            var sub = spec.SubInterfaces[v];
            var at = $"{path}subInterfaces[{v}]";
            errors.Require(sub.Vlan is >= 1 and <= 4094, at + ".vlan", "Must be a VLAN id, 1..4094.");
            errors.Require(sub.Addresses.Count > 0, at + ".addresses", "A sub-interface needs at least one address, such as 198.51.100.1/24.");
            for (var a = 0; a < sub.Addresses.Count; a++)
            {
                if (NetworkSyntax.TryParseInterfaceAddress(sub.Addresses[a] ?? "", out var address, out var length))
                {
                    links.Add((address, NetworkSyntax.NetworkOf(address, length), sub.Vlan, $"{at}.addresses[{a}]"));
                }
                else
                {
                    errors.Add($"{at}.addresses[{a}]", "Must be an IPv4 or IPv6 address with prefix length, such as 198.51.100.1/24.");
                }
            }
        }

        errors.Require(spec.SubInterfaces.Select(v => v.Vlan).Distinct().Count() == spec.SubInterfaces.Count,
            path + "subInterfaces", "One sub-interface per VLAN: list all of a VLAN's addresses in one.");
        errors.Require(spec.Addresses.Count + spec.SubInterfaces.Sum(v => v.Addresses.Count) <= MaxAddresses, path + "subInterfaces",
            $"At most {MaxAddresses} addresses on the interface and its sub-interfaces together.");
        var vlans = spec.Vlans.Union(spec.SubInterfaces.Select(v => v.Vlan)).Count();
        errors.Require(vlans <= MaxVlans, path + "subInterfaces", $"With the sub-interfaces' VLANs the trunk has {vlans} VLANs; at most {MaxVlans}.");
        for (var a = 0; a < links.Count; a++)
        {
            for (var b = 0; b < a; b++)
            {
                var (x, y) = (links[a], links[b]);
                if (x.Address.Equals(y.Address) && (x.Vlan != 0 || y.Vlan != 0))
                {
                    errors.Add(x.Path, $"{x.Address} is already an address of this interface ({y.Path}).");
                }
                else if (x.Vlan != y.Vlan && x.Address.AddressFamily == y.Address.AddressFamily
                    && (x.Subnet.Contains(y.Subnet.BaseAddress) || y.Subnet.Contains(x.Subnet.BaseAddress)))
                {
                    errors.Add(x.Path, $"{x.Subnet} ({LinkName(x.Vlan)}) overlaps {y.Subnet} ({LinkName(y.Vlan)}); a subnet is on one link.");
                }
            }
        }

        return links;
    }

    /// <summary>The DHCPv6 flags, DNS servers and search list the advertisements carry, as the node checks them.</summary>
    private static void ValidateHostConfiguration(SharedInterfaceSpec spec, ValidationErrors errors, string path)
    {
        errors.Require((spec.Dhcpv6 ?? "none").ToLowerInvariant() is "none" or "other" or "managed", path + "dhcpv6",
            "Must be none, other (hosts ask DHCPv6 for DNS and more) or managed (for their addresses too).");
        errors.Require(spec.DnsServers.Count <= Dva.Shared.Packets.RouterAdvertisement.MaxDnsServers, path + "dnsServers",
            $"At most {Dva.Shared.Packets.RouterAdvertisement.MaxDnsServers} DNS servers.");
        for (var i = 0; i < spec.DnsServers.Count; i++)
        {
            errors.Require(IPAddress.TryParse(spec.DnsServers[i] ?? "", out var server) && server.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6,
                $"{path}dnsServers[{i}]", "Must be an IPv6 address: router advertisements carry IPv6 DNS servers only.");
        }

        if (!Dva.Shared.Packets.RouterAdvertisement.TryEncodeSearchList([.. spec.DnsSearch.Select(d => d ?? "")], out _, out var why))
        {
            errors.Add(path + "dnsSearch", char.ToUpperInvariant(why![0]) + why[1..] + ".");
        }

        errors.Require(spec.RouterAdvertisements || ((spec.Dhcpv6 ?? "none").Equals("none", StringComparison.OrdinalIgnoreCase) && spec.DnsServers.Count == 0 && spec.DnsSearch.Count == 0),
            path + "routerAdvertisements", "dhcpv6, dnsServers and dnsSearch are sent in router advertisements; turn them on.");
    }

    private static string LinkName(int vlan) => vlan == 0 ? "untagged" : $"VLAN {vlan}";

    protected override async Task<ServiceFailure?> CheckDeleteAsync(SharedInterface entity, CancellationToken ct)
    {
        var routes = await Db.Routes.CountAsync(r => r.DvaId == entity.DvaId && r.Ifid == entity.Ifid, ct);
        var rules = await Db.FirewallRules.CountAsync(r => r.DvaId == entity.DvaId && r.IngressIfid == entity.Ifid, ct);
        return routes + rules == 0 ? null
            : ServiceFailure.Conflict($"Interface {entity.Ifid} is used by {routes} route(s) and {rules} firewall rule(s); change those first.");
    }
}
