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
