using System.Net;
using System.Net.NetworkInformation;
using Dva.Node.Config;
using Dva.Node.Routing;
using Dva.Shared.Packets;

namespace Dva.Node.Tests.Routing;

public class RouteTableTests
{
    private static readonly RouteTable Table = new(
        [
            Interface(1, "192.0.2.1/24", "2001:db8:1::1/64"),
            Interface(2, "198.51.100.1/24"),
        ],
        [
            new StaticRoute(IPNetwork.Parse("0.0.0.0/0"), IPAddress.Parse("192.0.2.254"), 1),
            new StaticRoute(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.254"), 2),
            new StaticRoute(IPNetwork.Parse("203.0.113.128/25"), IPAddress.Parse("192.0.2.253"), 1),
            new StaticRoute(IPNetwork.Parse("198.51.100.0/24"), IPAddress.Parse("192.0.2.252"), 1),
            new StaticRoute(IPNetwork.Parse("2001:db8:9::/48"), null, 1),
        ]);

    [Theory]
    [InlineData("192.0.2.77", 1, "192.0.2.77", true)]
    [InlineData("198.51.100.9", 2, "198.51.100.9", true)] // connected beats the static /24 of the same length
    [InlineData("203.0.113.5", 2, "198.51.100.254", false)]
    [InlineData("203.0.113.200", 1, "192.0.2.253", false)] // the /25 is longer than the /24
    [InlineData("8.8.8.8", 1, "192.0.2.254", false)] // default route
    [InlineData("2001:db8:1::42", 1, "2001:db8:1::42", true)]
    [InlineData("2001:db8:9::1", 1, "2001:db8:9::1", false)] // a static route without next hop: the destination itself
    public void TryRoute_Destination_LongestPrefixAndItsNextHop(string destination, int ifid, string nextHop, bool connected)
    {
        Assert.True(Table.TryRoute(IpAddr.From(IPAddress.Parse(destination)), out var route));

        Assert.Equal(new RouteResult((byte)ifid, IpAddr.From(IPAddress.Parse(nextHop)), connected), route);
    }

    /// <summary>
    /// An interface with an IPv6 address has a link-local one from its MAC's modified EUI-64, which counts on that
    /// interface only; link-local destinations are never routed.
    /// </summary>
    [Fact]
    public void LinkLocal_OnlyOnItsOwnIpv6Interface_NeverRouted()
    {
        var mine = IpAddr.From(IPAddress.Parse("fe80::ff:fe00:1"));

        Assert.True(RouteTable.IsLinkLocal(mine));
        Assert.True(RouteTable.IsLinkLocal(IpAddr.From(IPAddress.Parse("febf::1"))));
        Assert.False(RouteTable.IsLinkLocal(IpAddr.From(IPAddress.Parse("fec0::1"))));
        Assert.False(RouteTable.IsLinkLocal(IpAddr.From(IPAddress.Parse("2001:db8:1::1"))));
        Assert.True(Table.IsLinkLocalOf(1, mine));
        Assert.False(Table.IsLinkLocalOf(2, mine));
        Assert.False(Table.IsLinkLocalOf(2, IpAddr.From(IPAddress.Parse("fe80::ff:fe00:2")))); // interface 2 is IPv4 only
        Assert.False(Table.IsLocal(mine, out _));
        Assert.False(Table.TryRoute(IpAddr.From(IPAddress.Parse("fe80::1")), out _));
    }

    [Fact]
    public void TryRoute_Ipv6WithoutMatchingPrefix_NoRoute()
    {
        Assert.False(Table.TryRoute(IpAddr.From(IPAddress.Parse("2001:db8:2::1")), out _));
    }

    [Fact]
    public void IsLocal_SharedAddress_TrueWithItsInterface()
    {
        Assert.True(Table.IsLocal(IpAddr.From(IPAddress.Parse("198.51.100.1")), out var ifid));
        Assert.Equal(2, ifid);
        Assert.False(Table.IsLocal(IpAddr.From(IPAddress.Parse("198.51.100.2")), out _));
    }

    [Fact]
    public void TryGetLocalAddress_ByInterfaceAndVersion_TheSharedAddress()
    {
        Assert.True(Table.TryGetLocalAddress(1, 6, out var v6));
        Assert.Equal(IpAddr.From(IPAddress.Parse("2001:db8:1::1")), v6);
        Assert.True(Table.TryGetLocalAddress(1, 4, out var v4));
        Assert.Equal(IpAddr.From(IPAddress.Parse("192.0.2.1")), v4);
        Assert.False(Table.TryGetLocalAddress(2, 6, out _));
    }

    /// <summary>
    /// A sub-interface's subnet is reached on its VLAN, and so is a gateway in it; an answer into a VLAN comes from that
    /// VLAN's address, else the interface's own.
    /// </summary>
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7", true, 20)]
    [InlineData("2001:db8:20::9", "2001:db8:20::9", true, 20)]
    [InlineData("192.0.2.9", "192.0.2.9", true, 0)]
    [InlineData("198.51.100.9", "203.0.113.254", false, 20)] // static route via a gateway on VLAN 20
    [InlineData("10.1.2.3", "192.0.2.254", false, 0)] // default route via an untagged gateway
    public void TryRoute_IntoASubInterfacesSubnet_CarriesItsVlan(string destination, string nextHop, bool connected, int vlan)
    {
        var trunk = Interface(1, "192.0.2.1/24", "203.0.113.1/24", "2001:db8:20::1/64") with { AddressVlans = [0, 20, 20] };
        var table = new RouteTable([trunk],
        [
            new StaticRoute(IPNetwork.Parse("0.0.0.0/0"), IPAddress.Parse("192.0.2.254"), 1),
            new StaticRoute(IPNetwork.Parse("198.51.100.0/24"), IPAddress.Parse("203.0.113.254"), 1),
        ]);

        Assert.True(table.TryRoute(IpAddr.From(IPAddress.Parse(destination)), out var route));

        Assert.Equal(new RouteResult(1, IpAddr.From(IPAddress.Parse(nextHop)), connected, (ushort)vlan), route);
        Assert.True(table.IsLocal(IpAddr.From(IPAddress.Parse("203.0.113.1")), out var ifid));
        Assert.Equal(1, ifid);
        Assert.True(table.TryGetLocalAddress(1, 4, 20, out var onVlan20));
        Assert.Equal("203.0.113.1", onVlan20.ToString());
        Assert.True(table.TryGetLocalAddress(1, 4, 30, out var onVlan30));
        Assert.Equal("192.0.2.1", onVlan30.ToString());
        Assert.True(table.TryGetLocalAddress(1, 6, 0, out var v6));
        Assert.Equal("2001:db8:20::1", v6.ToString());
    }

    private static SharedInterface Interface(byte ifid, params string[] addresses)
    {
        var parsed = addresses.Select(a => (Address: IPAddress.Parse(a[..a.IndexOf('/', StringComparison.Ordinal)]), Prefix: int.Parse(a[(a.IndexOf('/', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture))).ToList();
        return new SharedInterface(ifid, $"if{ifid}", PhysicalAddress.Parse($"02-00-00-00-00-0{ifid}"),
            [.. parsed.Select(p => p.Address)],
            [.. parsed.Select(p => new IPNetwork(IPNetwork.Parse($"{p.Address}/{p.Prefix}").BaseAddress, p.Prefix))],
            null, 100);
    }
}
