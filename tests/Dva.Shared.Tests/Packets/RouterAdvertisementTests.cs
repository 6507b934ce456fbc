using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Packets;

/// <summary>
/// IPv6 router discovery byte by byte. The expected frames were made with scapy (python3-scapy: Ether / Dot1Q /
/// IPv6(hlim=255) / ICMPv6ND_RA(chlim=64, prf=0, routerlifetime=1800) / ICMPv6NDOptSrcLLAddr / ICMPv6NDOptMTU /
/// ICMPv6NDOptPrefixInfo), so equality also proves the checksums and every option's layout.
/// </summary>
public class RouterAdvertisementTests
{
    private static readonly byte[] OutsideMac = [2, 0, 0, 0, 0, 1];
    private static readonly byte[] InsideMac = [2, 0, 0, 0, 0, 2];

    // From fe80::ff:fe00:1 to ff02::1: MTU 1500, prefix 2001:db8:1::/64 on-link and autonomous (hosts make addresses in it).
    private static readonly byte[] Untagged = Convert.FromHexString(
        "33330000000102000000000186dd6000000000403afffe80000000000000000000fffe000001ff0200000000000000000000000000018600eee8400007080000000000000000010102000000000105010000000005dc030440c000278d0000093a800000000020010db8000100000000000000000000");

    // From fe80::ff:fe00:2 on VLAN 20, no MTU option, prefix 2001:db8:2::/48: on-link only (SLAAC needs a /64).
    private static readonly byte[] TaggedSlash48 = Convert.FromHexString(
        "3333000000010200000000028100001486dd6000000000383afffe80000000000000000000fffe000002ff02000000000000000000000000000186000a0b40000708000000000000000001010200000000020304308000278d0000093a800000000020010db8000200000000000000000000");

    // As Untagged, with the O flag (other configuration by DHCPv6), DNS servers 2001:db8:1::53 and 2001:db8::35 and the
    // search list corp.example, example.net (scapy's ICMPv6NDOptRDNSS and ICMPv6NDOptDNSSL, lifetime 1800).
    private static readonly byte[] WithDns = Convert.FromHexString(
        "33330000000102000000000186dd6000000000903afffe80000000000000000000fffe000001ff02000000000000000000000000000186000995404007080000000000000000010102000000000105010000000005dc030440c000278d0000093a800000000020010db8000100000000000000000000190500000000070820010db800010000000000000000005320010db80000000000000000000000351f0500000000070804636f7270076578616d706c6500076578616d706c65036e6574000000000000");

    // A final one on VLAN 20 (router lifetime 0) with M and O and one DNS server: the DNS lifetime is 0 too.
    private static readonly byte[] FinalManaged = Convert.FromHexString(
        "3333000000010200000000028100001486dd6000000000503afffe80000000000000000000fffe000002ff0200000000000000000000000000018600b8e940c0000000000000000000000101020000000002030440c000278d0000093a800000000020010db8000200000000000000000000190300000000000020010db8000200000000000000000053");

    // A host's solicitation to ff02::2 with its link-layer option; then the same with hop limit 64 (it crossed a router).
    private static readonly byte[] Solicitation = Convert.FromHexString(
        "33330000000202c10000000a86dd6000000000103afffe8000000000000000c100fffe00000aff0200000000000000000000000000028500799800000000010102c10000000a");

    private static readonly byte[] SolicitationHop64 = Convert.FromHexString(
        "33330000000202c10000000a86dd6000000000083a40fe8000000000000000c100fffe00000aff02000000000000000000000000000285007d6c00000000");

    [Fact]
    public void LinkLocalFor_ModifiedEui64OfTheMac()
    {
        Assert.Equal(Parse("fe80::ff:fe00:1").Value, RouterAdvertisement.LinkLocalFor(OutsideMac));
        Assert.Equal(Parse("fe80::c1:ff:fe00:a").Value, RouterAdvertisement.LinkLocalFor([2, 0xc1, 0, 0, 0, 0x0a]));

        // The universal/local bit is flipped, not cleared: a universal MAC gets it set.
        Assert.Equal(Parse("fe80::21b:21ff:fe3c:4d5e").Value, RouterAdvertisement.LinkLocalFor([0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e]));
    }

    [Fact]
    public void Write_UntaggedWithMtuAndASlash64_ScapysBytes()
    {
        var buffer = new byte[256];

        var length = RouterAdvertisement.Write(buffer, OutsideMac, [(Parse("2001:db8:1::").Value, 64)], RouterAdvertisement.DefaultRouterLifetime, 1500);

        Assert.Equal(Convert.ToHexString(Untagged), Convert.ToHexString(buffer, 0, length));
    }

    [Fact]
    public void Write_TaggedWithoutMtuAndASlash48_ScapysBytes()
    {
        var buffer = new byte[256];

        var length = RouterAdvertisement.Write(buffer, InsideMac, [(Parse("2001:db8:2::").Value, 48)], RouterAdvertisement.DefaultRouterLifetime, 0, vlanTci: 20);

        Assert.Equal(Convert.ToHexString(TaggedSlash48), Convert.ToHexString(buffer, 0, length));
    }

    [Fact]
    public void Write_WithDhcpv6FlagsDnsServersAndSearchList_ScapysBytes()
    {
        Assert.True(RouterAdvertisement.TryEncodeSearchList(["corp.example", "Example.NET."], out var searchList, out var error), error);
        var other = new HostConfiguration(Dhcpv6Mode.Other, [Parse("2001:db8:1::53").Value, Parse("2001:db8::35").Value], searchList);
        var managed = new HostConfiguration(Dhcpv6Mode.Managed, [Parse("2001:db8:2::53").Value], []);
        var buffer = new byte[512];

        var length = RouterAdvertisement.Write(buffer, OutsideMac, [(Parse("2001:db8:1::").Value, 64)], RouterAdvertisement.DefaultRouterLifetime, 1500, null, other);
        Assert.Equal(Convert.ToHexString(WithDns), Convert.ToHexString(buffer, 0, length));

        length = RouterAdvertisement.Write(buffer, InsideMac, [(Parse("2001:db8:2::").Value, 64)], routerLifetime: 0, 0, vlanTci: 20, managed);
        Assert.Equal(Convert.ToHexString(FinalManaged), Convert.ToHexString(buffer, 0, length));
    }

    [Theory]
    [InlineData("-corp.example", "'-corp.example' is not a domain name (labels of letters, digits and hyphens)")]
    [InlineData("corp..example", "'corp..example' is not a domain name (labels of letters, digits and hyphens)")]
    [InlineData("corp_example", "'corp_example' is not a domain name (labels of letters, digits and hyphens)")]
    [InlineData("", "'' is not a domain name")]
    public void TryEncodeSearchList_NotAHostName_Refused(string domain, string expected)
    {
        Assert.False(RouterAdvertisement.TryEncodeSearchList(["example.net", domain], out _, out var error));
        Assert.Equal(expected, error);
        Assert.False(RouterAdvertisement.TryEncodeSearchList([.. Enumerable.Range(0, 9).Select(i => $"d{i}.example")], out _, out error));
        Assert.Equal("at most 8 search domains", error);
    }

    [Fact]
    public void Write_TooSmallOrTooManyPrefixes_Zero()
    {
        var prefix = (Parse("2001:db8:1::").Value, 64);
        Assert.Equal(0, RouterAdvertisement.Write(new byte[Untagged.Length - 1], OutsideMac, [prefix], 1800, 1500));
        Assert.Equal(Untagged.Length, RouterAdvertisement.Write(new byte[Untagged.Length], OutsideMac, [prefix], 1800, 1500));
        var many = Enumerable.Repeat(prefix, RouterAdvertisement.MaxPrefixes + 1).ToArray();
        Assert.Equal(0, RouterAdvertisement.Write(new byte[2048], OutsideMac, many, 1800, 1500));
    }

    [Fact]
    public void IsSolicitation_OnlyWithHopLimit255()
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(Solicitation, out var info));
        Assert.True(RouterAdvertisement.IsSolicitation(info));
        Assert.Equal(ParseError.None, PacketParser.TryParse(SolicitationHop64, out info));
        Assert.False(RouterAdvertisement.IsSolicitation(info));
        Assert.Equal(ParseError.None, PacketParser.TryParse(Untagged, out info));
        Assert.False(RouterAdvertisement.IsSolicitation(info));
    }
}
