using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Packets;

/// <summary>
/// IPv6 neighbour discovery byte by byte. The expected frames were made with scapy (python3-scapy: Ether / Dot1Q /
/// IPv6(hlim=255) / ICMPv6ND_NS or ICMPv6ND_NA / the link-layer option), so equality also proves the checksums.
/// </summary>
public class NeighbourDiscoveryTests
{
    private static readonly byte[] HostMac = [2, 0, 0, 0, 0, 0x0A];
    private static readonly byte[] DvaMac = [2, 0, 0, 0, 0, 2];
    private static readonly UInt128 Dva = Parse("2001:db8:2::1").Value;
    private static readonly UInt128 Host = Parse("2001:db8:2::a").Value;

    // The DVA asks for 2001:db8:2::a: to its solicited-node group ff02::1:ff00:a at 33:33:ff:00:00:0a.
    private static readonly byte[] SolicitationOut = Convert.FromHexString(
        "3333ff00000a02000000000286dd6000000000203aff20010db8000200000000000000000001ff0200000000000000000001ff00000a87001c120000000020010db800020000000000000000000a0101020000000002");

    // The host asks for the DVA's 2001:db8:2::1 on VLAN 20.
    private static readonly byte[] SolicitationIn = Convert.FromHexString(
        "3333ff00000102000000000a8100001486dd6000000000203aff20010db800020000000000000000000aff0200000000000000000001ff00000187001c130000000020010db8000200000000000000000001010102000000000a");

    // The DVA's answer: router, solicited, override; to the host, on VLAN 20.
    private static readonly byte[] AdvertisementOut = Convert.FromHexString(
        "02000000000a0200000000028100001486dd6000000000203aff20010db800020000000000000000000120010db800020000000000000000000a88000a64e000000020010db80002000000000000000000010201020000000002");

    // Duplicate address detection for 2001:db8:2::1 (from ::), and the answer to all nodes without the solicited flag.
    private static readonly byte[] DadIn = Convert.FromHexString(
        "3333ff00000102000000000a86dd6000000000183aff00000000000000000000000000000000ff0200000000000000000001ff00000187004ceb0000000020010db8000200000000000000000001");

    private static readonly byte[] DadOut = Convert.FromHexString(
        "33330000000102000000000286dd6000000000203aff20010db8000200000000000000000001ff02000000000000000000000000000188007925a000000020010db80002000000000000000000010201020000000002");

    // The host's advertisement, to the DVA's MAC: 2001:db8:2::a is at 02:00:00:00:00:0a. Then the same with hop limit 64.
    private static readonly byte[] AdvertisementIn = Convert.FromHexString(
        "02000000000202000000000a86dd6000000000203aff20010db800020000000000000000000a20010db800020000000000000000000188008a536000000020010db800020000000000000000000a020102000000000a");

    private static readonly byte[] AdvertisementInHop64 = Convert.FromHexString(
        "02000000000202000000000a86dd6000000000203a4020010db800020000000000000000000a20010db800020000000000000000000188008a536000000020010db800020000000000000000000a020102000000000a");

    private readonly byte[] _buffer = new byte[256];

    [Fact]
    public void WriteSolicitation_ToTheTargetsSolicitedNodeGroup_ByteByByte()
    {
        Assert.Equal(SolicitationOut, _buffer[..NeighbourDiscovery.WriteSolicitation(_buffer, DvaMac, Dva, Host)]);
    }

    [Fact]
    public void WriteAdvertisement_AnsweringATaggedSolicitation_ToTheAskerOnItsVlan_ByteByByte()
    {
        var info = ParseOk(SolicitationIn);
        Assert.True(NeighbourDiscovery.TryReadSolicitedTarget(SolicitationIn, info, out var target));
        Assert.Equal(Dva, target.Value);

        Assert.Equal(AdvertisementOut, _buffer[..NeighbourDiscovery.WriteAdvertisement(_buffer, SolicitationIn, info, Dva, DvaMac)]);
    }

    [Fact]
    public void WriteAdvertisement_AnsweringDuplicateAddressDetection_ToAllNodesNotSolicited_ByteByByte()
    {
        var info = ParseOk(DadIn);

        Assert.Equal(DadOut, _buffer[..NeighbourDiscovery.WriteAdvertisement(_buffer, DadIn, info, Dva, DvaMac)]);
        Assert.False(NeighbourDiscovery.TryReadNeighbour(DadIn, info, out _, out _));
    }

    [Fact]
    public void TryReadNeighbour_SolicitationAndAdvertisement_NameTheirSenderOrTargetAndItsMac()
    {
        Assert.True(NeighbourDiscovery.TryReadNeighbour(SolicitationIn, ParseOk(SolicitationIn), out var asker, out var askerMac));
        Assert.Equal(Host, asker.Value);
        Assert.Equal(HostMac, askerMac.ToArray());

        Assert.True(NeighbourDiscovery.TryReadNeighbour(AdvertisementIn, ParseOk(AdvertisementIn), out var target, out var targetMac));
        Assert.Equal(Host, target.Value);
        Assert.Equal(HostMac, targetMac.ToArray());
        Assert.False(NeighbourDiscovery.TryReadSolicitedTarget(AdvertisementIn, ParseOk(AdvertisementIn), out _));
    }

    [Fact]
    public void TryReadNeighbour_HopLimitBelow255_RefusedAsFromBeyondTheLink()
    {
        var info = ParseOk(AdvertisementInHop64);

        Assert.False(NeighbourDiscovery.Is(info));
        Assert.False(NeighbourDiscovery.TryReadNeighbour(AdvertisementInHop64, info, out _, out _));
    }
}
