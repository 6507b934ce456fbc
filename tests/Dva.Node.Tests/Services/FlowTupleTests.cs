using System.Net;
using System.Net.Sockets;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;

namespace Dva.Node.Tests.Services;

public class FlowTupleTests
{
    [Fact]
    public void From_IPv4_PutsAddressInLow32BitsBigEndian()
    {
        FlowTuple tuple = FlowTuple.From(IPAddress.Parse("192.0.2.1"), IPAddress.Parse("198.51.100.255"), IpProtocols.Udp, 5353, 53, 2);

        Assert.Equal(AddressFamily.InterNetwork, tuple.Family);
        Assert.Equal((UInt128)0xC000_0201u, tuple.Source);
        Assert.Equal((UInt128)0xC633_64FFu, tuple.Destination);
        Assert.Equal((5353, 53, 2), (tuple.SourcePort, tuple.DestinationPort, tuple.IngressIfid));
        Assert.True(tuple.HasPorts);
        Assert.False(tuple.IsIPv6);
    }

    [Fact]
    public void From_IPv6_ReadsAll128BitsBigEndian()
    {
        FlowTuple tuple = FlowTuple.From(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8:ffff::8000"), IpProtocols.IcmpV6, icmpType: 128);

        Assert.Equal(new UInt128(0x2001_0db8_0000_0000UL, 1), tuple.Source);
        Assert.Equal(new UInt128(0x2001_0db8_ffff_0000UL, 0x8000), tuple.Destination);
        Assert.True(tuple.IsIcmp);
        Assert.False(tuple.HasPorts);
    }

    [Fact]
    public void From_MixedFamilies_Throws()
    {
        Assert.Throws<ArgumentException>(() => FlowTuple.From(IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1"), IpProtocols.Tcp));
    }

    [Theory]
    [InlineData("192.0.2.77")]
    [InlineData("2001:db8:1234::abcd")]
    public void ToIPAddress_RoundTripsToUInt128(string text)
    {
        IPAddress address = IPAddress.Parse(text);

        Assert.Equal(address, AddressBits.ToIPAddress(address.AddressFamily, AddressBits.ToUInt128(address)));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0", "10.255.255.255")]
    [InlineData("192.0.2.7/32", "192.0.2.7", "192.0.2.7")]
    [InlineData("0.0.0.0/0", "0.0.0.0", "255.255.255.255")]
    [InlineData("2001:db8::/127", "2001:db8::", "2001:db8::1")]
    [InlineData("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    public void PrefixRange_Of_CoversExactlyTheNetwork(string network, string low, string high)
    {
        (UInt128 first, UInt128 last) = PrefixRange.Of(IPNetwork.Parse(network));

        Assert.Equal(AddressBits.ToUInt128(IPAddress.Parse(low)), first);
        Assert.Equal(AddressBits.ToUInt128(IPAddress.Parse(high)), last);
    }
}
