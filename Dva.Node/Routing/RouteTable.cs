using System.Net;
using Dva.Node.Config;
using Dva.Shared.Packets;

namespace Dva.Node.Routing;

/// <summary>
/// Where a routed packet leaves: the shared interface and the address whose MAC it needs; <paramref name="Vlan"/> is the
/// VLAN of the sub-interface whose subnet holds the next hop (0: none, the VLAN is left to the flow and the neighbour).
/// </summary>
internal readonly record struct RouteResult(byte Ifid, IpAddr NextHop, bool Connected, ushort Vlan = 0);

/// <summary>
/// Longest-prefix routing over the shared interfaces' connected subnets and the static routes. A DVA has a
/// handful of routes, so a prefix-length-ordered array scan (branch-predictable, no allocation) beats a trie
/// here; a connected subnet wins over a static route of the same length.
/// </summary>
internal sealed class RouteTable
{
    private readonly Entry[] _entries;
    private readonly (byte Ifid, IpAddr Address, ushort Vlan)[] _local;
    private readonly (byte Ifid, IpAddr Address)[] _linkLocal;

    public RouteTable(IEnumerable<SharedInterface> interfaces, IEnumerable<StaticRoute> routes)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        ArgumentNullException.ThrowIfNull(routes);
        var entries = new List<Entry>();
        var local = new List<(byte, IpAddr, ushort)>();
        var linkLocal = new List<(byte, IpAddr)>();
        foreach (var i in interfaces)
        {
            if (i.Addresses.Any(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
            {
                linkLocal.Add((i.Ifid, IpAddr.FromV6(RouterAdvertisement.LinkLocalFor(i.Mac.GetAddressBytes()))));
            }

            for (var n = 0; n < i.Addresses.Count; n++)
            {
                local.Add((i.Ifid, IpAddr.From(i.Addresses[n]), i.VlanOf(n)));
            }

            for (var n = 0; n < i.Subnets.Count; n++)
            {
                entries.Add(Entry.Create(i.Subnets[n], i.Ifid, default, connected: true, i.VlanOf(n)));
            }
        }

        var connected = entries.OrderByDescending(e => e.PrefixLength).ToArray();
        foreach (var r in routes)
        {
            // A gateway in a sub-interface's subnet is reached on that VLAN.
            var nextHop = r.NextHop is null ? default : IpAddr.From(r.NextHop);
            var vlan = r.NextHop is null ? (ushort)0
                : connected.FirstOrDefault(e => e.Ifid == r.Ifid && e.Version == nextHop.Version && (nextHop.Value & e.Mask) == e.Prefix).Vlan;
            entries.Add(Entry.Create(r.Prefix, r.Ifid, nextHop, connected: false, vlan));
        }

        _entries = [.. entries.OrderByDescending(e => e.PrefixLength).ThenByDescending(e => e.Connected)];
        _local = [.. local];
        _linkLocal = [.. linkLocal];
    }

    /// <summary>True when <paramref name="vlan"/> is the VLAN of one of interface <paramref name="ifid"/>'s sub-interfaces.</summary>
    public bool IsSubInterfaceVlan(byte ifid, ushort vlan)
    {
        if (vlan == 0)
        {
            return false;
        }

        foreach (var (i, _, v) in _local)
        {
            if (i == ifid && v == vlan)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True for fe80::/10: an address that means something on one link only, never routed (RFC 4291 §2.5.6).</summary>
    public static bool IsLinkLocal(IpAddr address) => address.Version == 6 && (address.Value >> 118) == 0x3FA;

    /// <summary>
    /// True when <paramref name="address"/> is the link-local address of interface <paramref name="ifid"/> (fe80:: with
    /// its shared MAC's modified EUI-64; an interface with an IPv6 address has one): the DVA answers it on that link only.
    /// </summary>
    public bool IsLinkLocalOf(byte ifid, IpAddr address)
    {
        foreach (var (i, a) in _linkLocal)
        {
            if (i == ifid && a == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="address"/> is one of the DVA's own shared addresses (the INPUT hook).</summary>
    public bool IsLocal(IpAddr address, out byte ifid)
    {
        foreach (var (i, a, _) in _local)
        {
            if (a == address)
            {
                ifid = i;
                return true;
            }
        }

        ifid = 0;
        return false;
    }

    /// <summary>A shared address of <paramref name="ifid"/> of the same IP version, for answers the DVA sends itself.</summary>
    public bool TryGetLocalAddress(byte ifid, byte version, out IpAddr address) => TryGetLocalAddress(ifid, version, 0, out address);

    /// <summary>
    /// A shared address of <paramref name="ifid"/> of the same IP version for an answer into VLAN <paramref name="vlan"/>
    /// (0 untagged): the sub-interface's own address on that VLAN, else the interface's, else any it has.
    /// </summary>
    public bool TryGetLocalAddress(byte ifid, byte version, ushort vlan, out IpAddr address)
    {
        var rank = int.MaxValue;
        address = default;
        foreach (var (i, a, v) in _local)
        {
            if (i != ifid || a.Version != version)
            {
                continue;
            }

            var r = LinkRank(v, vlan);
            if (r < rank)
            {
                (rank, address) = (r, a);
            }
        }

        return rank != int.MaxValue;
    }

    /// <summary>
    /// How well an address on link <paramref name="on"/> (0: the interface's own) serves link <paramref name="vlan"/>:
    /// 0 the same link, 1 the interface's own, 2 another sub-interface's. Lower is better.
    /// </summary>
    public static int LinkRank(ushort on, ushort vlan) => on == vlan ? 0 : on == 0 ? 1 : 2;

    public bool TryRoute(IpAddr destination, out RouteResult result)
    {
        foreach (ref readonly var e in _entries.AsSpan())
        {
            if (e.Version == destination.Version && (destination.Value & e.Mask) == e.Prefix)
            {
                var nextHop = e.Connected || e.NextHop.Version == 0 ? destination : e.NextHop;
                result = new RouteResult(e.Ifid, nextHop, e.Connected, e.Vlan);
                return true;
            }
        }

        result = default;
        return false;
    }

    private readonly record struct Entry(byte Version, UInt128 Prefix, UInt128 Mask, int PrefixLength, byte Ifid, IpAddr NextHop, bool Connected, ushort Vlan)
    {
        public static Entry Create(IPNetwork network, byte ifid, IpAddr nextHop, bool connected, ushort vlan)
        {
            var address = IpAddr.From(network.BaseAddress);
            var bits = address.IsV4 ? 32 : 128;
            var mask = network.PrefixLength == 0 ? UInt128.Zero : (UInt128.MaxValue << (bits - network.PrefixLength)) & (address.IsV4 ? (UInt128)uint.MaxValue : UInt128.MaxValue);
            return new Entry(address.Version, address.Value & mask, mask, network.PrefixLength, ifid, nextHop, connected, vlan);
        }
    }
}
