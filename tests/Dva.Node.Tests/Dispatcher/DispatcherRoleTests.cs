using System.Buffers.Binary;
using System.Net;
using Dva.Node.Agent;
using Dva.Node.Io;
using Dva.Node.Tests.Io;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.Dispatcher.DispatcherRig;

namespace Dva.Node.Tests.Dispatcher;

public class DispatcherRoleTests
{
    [Fact]
    public void ArpRequest_ForSharedIp_AnsweredWithSharedMacAndPassedDownTheChain()
    {
        using var rig = new DispatcherRig();
        var request = new byte[64];
        var length = PacketBuilder.ArpRequest(request, ClientMac, ClientIp, OutsideIp);

        Send(rig.Outside, request[..length]);
        var reply = ReceiveOne(rig.Outside);
        var chained = ReceiveOne(rig.DataPlanes[rig.Table.Chain[0]]);

        var expected = new byte[64];
        var expectedLength = PacketBuilder.ArpReply(expected, OutsideMac, OutsideIp, ClientMac, ClientIp);
        Assert.Equal(expected[..expectedLength], reply);
        Assert.Equal(WireError.None, TunnelHeader.TryRead(chained, out var header));
        Assert.Equal((TunnelType.Handoff, Handoff.Broadcast, true, TunnelFields.InitialTtl), (header.Type, header.Handoff, header.Trr, header.Ttl));
        Assert.Equal((Self, Self, (byte)1, 0), (header.HNode, header.SNode, header.IfId, header.NidCount));
        Assert.Equal(request[..length], chained[header.InnerOffset..]);
    }

    [Fact]
    public void IpFrame_ForSharedMac_DispatchedInPlaceToTheBucketOwner()
    {
        using var rig = new DispatcherRig();
        var frames = Enumerable.Range(1, 40).Select(id => ClientSegment(flowId: id)).ToArray();
        foreach (var frame in frames)
        {
            Send(rig.Outside, frame);
        }

        foreach (var owner in frames.Select(rig.OwnerOf).Distinct())
        {
            var mine = frames.Where(f => rig.OwnerOf(f) == owner).ToArray();
            var received = PortHelpers.ReceiveMatching(rig.DataPlanes[owner], mine.Length);
            Assert.All(received, r => Assert.Equal(Dva.Node.Io.PacketAddress.FromEndPoint(rig.Tunnel.LocalEndPoint), r.Peer));
            var inner = received.Select(r =>
            {
                Assert.Equal(WireError.None, TunnelHeader.TryRead(r.Frame, out var h));
                Assert.Equal((TunnelType.Dispatch, owner, Self, Self, (byte)1, (byte)rig.Table.Era, (byte)255, (ushort)0, false),
                    (h.Type, h.DNode, h.HNode, h.SNode, h.IfId, h.Era, h.Ttl, h.VlanTci, h.Trr));
                return r.Frame[h.InnerOffset..];
            });
            Assert.Equal(mine, inner);
        }

        Assert.True(frames.Select(rig.OwnerOf).Distinct().Count() == 2, "40 flows over 256 buckets land on both data planes");
    }

    [Fact]
    public void TaggedFrame_TagStrippedAndItsTciCarriedInTheHeader()
    {
        using var rig = new DispatcherRig();
        var untagged = ClientSegment();
        Send(rig.Outside, Tag(untagged, 0x2064));

        var datagram = ReceiveOne(rig.DataPlanes[rig.OwnerOf(untagged)]);

        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(0x2064, header.VlanTci);
        Assert.Equal(untagged, datagram[header.InnerOffset..]);
    }

    [Fact]
    public void TcpSyn_MssAboveTunnelLimit_ClampedWithValidChecksum()
    {
        using var rig = new DispatcherRig(tunnelMtu: 1500);
        var syn = ClientSegment(step: 0);

        Send(rig.Outside, syn);
        var datagram = ReceiveOne(rig.DataPlanes[rig.OwnerOf(syn)]);

        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        var inner = datagram[header.InnerOffset..];
        Assert.Equal(ParseError.None, PacketParser.TryParse(inner, out var info));
        // 1500 - outer IPv4 20 - UDP 8 - tunnel header 14 - Ethernet 14 - IPv4 20 - TCP 20.
        Assert.Equal(1404, BinaryPrimitives.ReadUInt16BigEndian(inner.AsSpan(info.TcpMssOptionOffset + 2)));
        Assert.Equal(1404, rig.Role.MaxSegmentSize(4));
        Assert.True(Checksum.VerifyTransport(inner, info));
        Assert.Equal(syn.Length, inner.Length);
    }

    [Fact]
    public void UnicastFrame_ForAnotherMac_DroppedAsNotForSharedMac()
    {
        using var rig = new DispatcherRig();
        var foreign = ClientSegment(flowId: 5, destinationMac: OtherMac);
        var sentinel = ClientSegment(flowId: 6);

        Send(rig.Outside, foreign);
        Send(rig.Outside, sentinel);
        _ = ReceiveOne(rig.DataPlanes[rig.OwnerOf(sentinel)]);

        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.NotForSharedMac]);
        Assert.Equal(1, rig.Role.Counters.Tunnel[(int)TunnelCounter.DispatchSent]);
    }

    [Fact]
    public void OversizeFrame_WithDontFragment_AnsweredWithFragmentationNeeded()
    {
        using var rig = new DispatcherRig(tunnelMtu: 600);
        var big = ClientSegment(step: 3, payload: 600);

        Send(rig.Outside, big);
        var answer = ReceiveOne(rig.Outside);

        Assert.Equal(ParseError.None, PacketParser.TryParse(answer, out var info));
        Assert.Equal((PacketConstants.ProtocolIcmp, (byte)3, (byte)4), (info.Protocol, info.IcmpType, info.IcmpCode));
        Assert.Equal(OutsideMac, answer[6..12]);
        Assert.Equal(IpAddr.FromV4(OutsideIp), info.Source);
        Assert.Equal(IpAddr.FromV4(ClientIp), info.Destination);
        // Next-hop MTU: 600 - 20 - 8 - 14 - 14, the largest inner IP packet that fits.
        Assert.Equal(544, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(info.L4Offset + 6)));
        Assert.Equal(544, rig.Role.MaxInnerIpPacket);
        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.OversizeAnswered]);
    }

    /// <summary>
    /// IPv4 without DF may be fragmented on the way, so the dispatcher carries it whole in one tunnel datagram longer than
    /// the tunnel MTU (fragmented by the sending kernel or the flow-port sender) to its flow's owner, unchanged.
    /// </summary>
    [Fact]
    public void OversizeFrame_WithoutDontFragment_CarriedWholeToItsFlowsOwner()
    {
        using var rig = new DispatcherRig(tunnelMtu: 600);
        var big = ClientSegment(step: 3, flowId: 3, payload: 600);
        big[14 + 6] = 0; // clear DF
        Checksum.WriteIpv4Header(big.AsSpan(14, 20));

        Send(rig.Outside, big);
        var datagram = ReceiveOne(rig.DataPlanes[rig.OwnerOf(big)]);

        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal((TunnelType.Dispatch, rig.OwnerOf(big)), (header.Type, header.DNode));
        Assert.Equal(big, datagram[header.InnerOffset..]);
        Assert.True(big.Length + rig.Role.Overhead > 600, "the frame does not fit the tunnel MTU");
        Assert.Equal(1, rig.Role.Counters.Tunnel[(int)TunnelCounter.OversizeCarried]);
        Assert.Equal(0, rig.Role.Counters.Drops[(int)DropReason.Oversize]);
    }

    [Fact]
    public void Egress_Resolve_KnownNeighbour_SentWithSharedSourceAndLearnedDestinationMac()
    {
        using var rig = new DispatcherRig();
        LearnServer(rig);
        var inner = ServerBoundFrame();

        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 0, from: 1));
        var sent = ReceiveOne(rig.Inside, f => f[12] == 0x08 && f[13] == 0x00);

        Assert.Equal(ServerMac, sent[..6]);
        Assert.Equal(InsideMac, sent[6..12]);
        Assert.Equal(inner[12..], sent[12..]);
    }

    /// <summary>
    /// A SHORTCUT word does not change the frame: a dispatcher without <c>shortcuts</c> (and this rig's udp: wires could not
    /// take one) sends it as any final EGRESS and counts the offer not taken.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Egress_Final_WithTci_RetaggedAndSourceMacForced(bool shortcutOffered)
    {
        using var rig = new DispatcherRig();
        var inner = ServerBoundFrame();
        ServerMac.CopyTo(inner, 0);
        var shortcut = shortcutOffered ? new TunnelShortcut(1, 0x0064) : TunnelShortcut.None;

        rig.SendFromDataPlane(2, Egress(inner, Handoff.None, tci: 0x0064, from: 2, shortcut: shortcut));
        var sent = ReceiveOne(rig.Inside);

        var expected = Tag(inner, 0x0064);
        InsideMac.CopyTo(expected, 6);
        Assert.Equal(expected, sent);
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
        Assert.Equal(shortcutOffered ? 1 : 0, rig.Role.Counters.Tunnel[(int)TunnelCounter.ShortcutNotTaken]);
    }

    [Fact]
    public void Egress_Resolve_UnknownNeighbour_ArpRequestThenQueuedFrameDelivered()
    {
        using var rig = new DispatcherRig();
        var inner = ServerBoundFrame();

        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 0, from: 1));
        var request = ReceiveOne(rig.Inside);
        Assert.Equal(ParseError.None, PacketParser.TryParse(request, out var arp));
        Assert.Equal((true, (ushort)1, InsideIp, ServerIp), (arp.IsArp, arp.ArpOperation, arp.ArpSenderIp, arp.ArpTargetIp));
        Assert.Equal(InsideMac, request[6..12]);

        var reply = new byte[64];
        var length = PacketBuilder.ArpReply(reply, ServerMac, ServerIp, InsideMac, InsideIp);
        Send(rig.Inside, reply[..length]);
        var sent = ReceiveOne(rig.Inside, f => f[12] == 0x08 && f[13] == 0x00);

        Assert.Equal(ServerMac, sent[..6]);
        Assert.Equal(InsideMac, sent[6..12]);
        Assert.Equal(inner[12..], sent[12..]);
    }

    /// <summary>
    /// The inside interface is a trunk of VLANs 20 and 30. A data plane asks to resolve a server it knows nothing of
    /// (VLAN left open, TCI 0): the ARP request goes out untagged and on each VLAN, byte for byte the same request
    /// tagged. The server answers on VLAN 20: the queued frame leaves tagged 20, and so does the next one at once.
    /// </summary>
    [Fact]
    public async Task Egress_Resolve_UnknownNeighbourOnATrunk_AskedUntaggedAndOnEachVlan_TheAnswersVlanTagsWhatWaited()
    {
        using var rig = new DispatcherRig(insideVlans: "[20, 30]");
        var inner = ServerBoundFrame();

        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 0, from: 1));
        var requests = PortHelpers.ReceiveMatching(rig.Inside, 3).Select(r => r.Frame).ToArray();

        var untagged = requests[0];
        Assert.Equal(ParseError.None, PacketParser.TryParse(untagged, out var arp));
        Assert.Equal((true, (ushort)1, InsideIp, ServerIp, (ushort)0), (arp.IsArp, arp.ArpOperation, arp.ArpSenderIp, arp.ArpTargetIp, arp.VlanTci));
        Assert.Equal([untagged, Tag(untagged, 20), Tag(untagged, 30)], requests);

        var reply = new byte[64];
        var length = PacketBuilder.ArpReply(reply, ServerMac, ServerIp, InsideMac, InsideIp);
        Send(rig.Inside, Tag(reply[..length], 20));
        var sent = ReceiveOne(rig.Inside, f => f.Length > 40 && f[16] == 0x08 && f[17] == 0x00);

        var expected = (byte[])inner.Clone();
        ServerMac.CopyTo(expected, 0);
        InsideMac.CopyTo(expected, 6);
        Assert.Equal(Tag(expected, 20), sent);

        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 0, from: 1));
        Assert.Equal(Tag(expected, 20), ReceiveOne(rig.Inside, f => f.Length > 40 && f[16] == 0x08 && f[17] == 0x00));
        Assert.Equal(2, rig.Role.Counters.Tunnel[(int)TunnelCounter.ResolveReceived]);
        var server = Assert.Single(await rig.Role.SnapshotNeighboursAsync(), n => n.Address.ToString() == "198.51.100.10");
        Assert.Equal(((byte)2, Convert.ToHexString(ServerMac), (ushort)20), (server.Ifid, server.Mac, server.Vlan));
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
    }

    private const string InsideVlan20 = """[ { "vlan": 20, "addresses": ["203.0.113.129/25", "2001:db8:20::1/64"] } ]""";
    private const uint Vlan20Ip = 0xCB007181; // 203.0.113.129
    private const uint Vlan20HostIp = 0xCB00718C; // 203.0.113.140

    /// <summary>
    /// A sub-interface's address is VLAN 20's: asked for untagged or on VLAN 30 it stays silent, on VLAN 20 it answers
    /// tagged. The interface's own address is still answered on every VLAN of the trunk.
    /// </summary>
    [Fact]
    public void ArpRequest_ForASubInterfacesAddress_AnsweredOnItsVlanOnly()
    {
        using var rig = new DispatcherRig(insideVlans: "[30]", insideSubInterfaces: InsideVlan20);
        var request = new byte[64];
        var length = PacketBuilder.ArpRequest(request, ServerMac, Vlan20HostIp, Vlan20Ip);
        var forOwn = new byte[64];
        var forOwnLength = PacketBuilder.ArpRequest(forOwn, ServerMac, Vlan20HostIp, InsideIp);

        Send(rig.Inside, request[..length]);
        Send(rig.Inside, Tag(request[..length], 30));
        Send(rig.Inside, Tag(request[..length], 20));
        Send(rig.Inside, Tag(forOwn[..forOwnLength], 20));
        var replies = PortHelpers.ReceiveMatching(rig.Inside, 2).Select(r => r.Frame).ToArray();

        var expected = new byte[64];
        var expectedLength = PacketBuilder.ArpReply(expected, InsideMac, Vlan20Ip, ServerMac, Vlan20HostIp);
        Assert.Equal(Tag(expected[..expectedLength], 20), replies[0]);
        expectedLength = PacketBuilder.ArpReply(expected, InsideMac, InsideIp, ServerMac, Vlan20HostIp);
        Assert.Equal(Tag(expected[..expectedLength], 20), replies[1]);
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
    }

    /// <summary>
    /// A data plane resolves a host in VLAN 20's subnet (TCI 20, as its route says): one ARP request, on VLAN 20 only,
    /// from the sub-interface's address; the answer releases the frame tagged.
    /// </summary>
    [Fact]
    public void Egress_Resolve_InASubInterfacesSubnet_AskedOnItsVlanFromItsAddress()
    {
        using var rig = new DispatcherRig(insideVlans: "[30]", insideSubInterfaces: InsideVlan20);
        var inner = DataPlane.TestFrames.Udp("192.0.2.10", 40000, "203.0.113.140", 53);

        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 20, from: 1));
        var request = ReceiveOne(rig.Inside);

        var expected = new byte[64];
        var expectedLength = PacketBuilder.ArpRequest(expected, InsideMac, Vlan20Ip, Vlan20HostIp, 20);
        Assert.Equal(expected[..expectedLength], request);

        var reply = new byte[64];
        var length = PacketBuilder.ArpReply(reply, ServerMac, Vlan20HostIp, InsideMac, Vlan20Ip);
        Send(rig.Inside, Tag(reply[..length], 20));
        var sent = ReceiveOne(rig.Inside, f => f.Length > 40 && f[16] == 0x08 && f[17] == 0x00);
        var released = (byte[])inner.Clone();
        ServerMac.CopyTo(released, 0);
        InsideMac.CopyTo(released, 6);
        Assert.Equal(Tag(released, 20), sent);
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
    }

    /// <summary>
    /// Router advertisements per link: untagged and on VLAN 30 (no sub-interface) the interface's 2001:db8:2::/64, on
    /// VLAN 20 the sub-interface's own 2001:db8:20::/64 only.
    /// </summary>
    [Fact]
    public void RouterAdvertisements_OnATrunkWithASubInterface_EachLinkGetsItsOwnPrefixes()
    {
        using var rig = new DispatcherRig(insideVlans: "[30]", insideIpv6: true, insideSubInterfaces: InsideVlan20, insideRouterAdvertisements: true);

        var adverts = PortHelpers.ReceiveMatching(rig.Inside, 3).Select(r => r.Frame).ToArray();

        (UInt128, int)[] own = [(IpAddr.From(IPAddress.Parse("2001:db8:2::")).Value, 64)];
        (UInt128, int)[] vlan20 = [(IpAddr.From(IPAddress.Parse("2001:db8:20::")).Value, 64)];
        Assert.Equal([Advert(own, null), Advert(own, 30), Advert(vlan20, 20)], adverts);
        Assert.Equal(3, rig.Role.Counters.Tunnel[(int)TunnelCounter.RouterAdvertisementSent]);

        static byte[] Advert((UInt128, int)[] prefixes, ushort? vlan)
        {
            var frame = new byte[256];
            var length = RouterAdvertisement.Write(frame, InsideMac, prefixes, RouterAdvertisement.DefaultRouterLifetime, 0, vlan);
            return frame[..length];
        }
    }

    /// <summary>
    /// IPv6's ARP: a host on VLAN 20 asks for the inside interface's shared 2001:db8:2::1 (neighbour solicitation to its
    /// solicited-node group). The dispatcher answers with the shared MAC on VLAN 20 (byte for byte the advertisement
    /// scapy builds, Dva.Shared.Tests' NeighbourDiscoveryTests), and passes the solicitation down the chain, so the data
    /// planes learn the host.
    /// </summary>
    [Fact]
    public void Ipv6NeighbourSolicitation_ForTheSharedAddress_AnsweredWithTheSharedMacOnItsVlanAndPassedDownTheChain()
    {
        using var rig = new DispatcherRig(insideIpv6: true);

        Send(rig.Inside, Convert.FromHexString(HostSolicitsTheDvaOnVlan20));

        Assert.Equal(Convert.FromHexString(DvaAdvertisesToTheHostOnVlan20), ReceiveOne(rig.Inside));
        var handedOff = ReceiveOne(rig.DataPlanes[rig.Table.Chain[0]]);
        Assert.Equal(WireError.None, TunnelHeader.TryRead(handedOff, out var header));
        Assert.Equal((TunnelType.Handoff, Handoff.Broadcast, (ushort)20), (header.Type, header.Handoff, header.VlanTci));
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
    }

    /// <summary>
    /// A data plane asks the dispatcher to resolve an IPv6 next hop it does not know (RESOLVE): the dispatcher solicits
    /// it (byte for byte scapy's solicitation, from the shared address on its subnet), queues the frame, and sends it to
    /// the MAC the host's advertisement gives. Before, an IPv6 RESOLVE without a known neighbour was dropped.
    /// </summary>
    [Fact]
    public void Egress_ResolveIpv6_UnknownNeighbour_SolicitedThenQueuedFrameReleasedByTheAdvertisement()
    {
        using var rig = new DispatcherRig(insideIpv6: true);
        var inner = DataPlane.TestFrames.Udp("2001:db8:1::5", 40000, "2001:db8:2::a", 53);
        static bool IsUdp6(byte[] f) => f.Length > 54 && f[12] == 0x86 && f[13] == 0xDD && f[20] == 17;

        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 0, from: 1));
        Assert.Equal(Convert.FromHexString(DvaSolicitsTheHost), ReceiveOne(rig.Inside));

        Send(rig.Inside, Convert.FromHexString(HostAdvertisesToTheDva));
        var sent = ReceiveOne(rig.Inside, IsUdp6);

        Assert.Equal((byte[])[2, 0, 0, 0, 0, 0x0A], sent[..6]);
        Assert.Equal(InsideMac, sent[6..12]);
        Assert.Equal(inner[12..], sent[12..]);
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
    }

    // Made with scapy (see Dva.Shared.Tests' NeighbourDiscoveryTests): host 2001:db8:2::a at 02:00:00:00:00:0a, the
    // inside interface 2001:db8:2::1 at 02:00:00:00:00:02.
    private const string HostSolicitsTheDvaOnVlan20 =
        "3333ff00000102000000000a8100001486dd6000000000203aff20010db800020000000000000000000aff0200000000000000000001ff00000187001c130000000020010db8000200000000000000000001010102000000000a";

    private const string DvaAdvertisesToTheHostOnVlan20 =
        "02000000000a0200000000028100001486dd6000000000203aff20010db800020000000000000000000120010db800020000000000000000000a88000a64e000000020010db80002000000000000000000010201020000000002";

    private const string DvaSolicitsTheHost =
        "3333ff00000a02000000000286dd6000000000203aff20010db8000200000000000000000001ff0200000000000000000001ff00000a87001c120000000020010db800020000000000000000000a0101020000000002";

    private const string HostAdvertisesToTheDva =
        "02000000000202000000000a86dd6000000000203aff20010db800020000000000000000000a20010db800020000000000000000000188008a536000000020010db800020000000000000000000a020102000000000a";

    [Fact]
    public void Egress_Resolve_ArpReplyReachesTheOtherEngine_QueuedFrameReleasedAndTheAddressKnownToBoth()
    {
        using var rig = new DispatcherRig(secondEngine: true);
        var second = rig.Second!;
        var inner = ServerBoundFrame();

        // The RESOLVE reaches the second engine's socket; its ARP request leaves on the second engine's wire.
        Assert.Equal(1, rig.DataPlanes[1].Send([PortHelpers.Frame(Egress(inner, Handoff.Resolve, tci: 0, from: 1), second.Tunnel.LocalEndPoint)]));
        var request = ReceiveOne(second.Inside);
        Assert.Equal(ParseError.None, PacketParser.TryParse(request, out var arp));
        Assert.Equal((true, InsideIp, ServerIp), (arp.IsArp, arp.ArpSenderIp, arp.ArpTargetIp));

        // PACKET_FANOUT hands the reply to the first engine: it learns the address and the second sends what it queued.
        var reply = new byte[64];
        var length = PacketBuilder.ArpReply(reply, ServerMac, ServerIp, InsideMac, InsideIp);
        Send(rig.Inside, reply[..length]);
        var sent = ReceiveOne(second.Inside, f => f[12] == 0x08 && f[13] == 0x00);
        Assert.Equal(ServerMac, sent[..6]);
        Assert.Equal(inner[12..], sent[12..]);

        // Both engines now know the server: a RESOLVE to either leaves at once, without another ARP request.
        rig.SendFromDataPlane(1, Egress(inner, Handoff.Resolve, tci: 0, from: 1));
        Assert.Equal(ServerMac, ReceiveOne(rig.Inside, f => f[12] == 0x08 && f[13] == 0x00)[..6]);
        Assert.Equal(1, rig.DataPlanes[1].Send([PortHelpers.Frame(Egress(inner, Handoff.Resolve, tci: 0, from: 1), second.Tunnel.LocalEndPoint)]));
        Assert.Equal(ServerMac, ReceiveOne(second.Inside)[..6]);
        Assert.Equal(0, second.Role.Counters.Drops.Sum());
        Assert.Equal(0, rig.Role.Counters.Drops.Sum());
    }

    [Fact]
    public void Egress_FromWrongSourceEndpoint_DroppedAsWrongSourceAddress()
    {
        using var rig = new DispatcherRig();
        var inner = ServerBoundFrame();
        ServerMac.CopyTo(inner, 0);

        // Node 1's header, sent from another host (any port of node 1's own address would be one of its flow ports).
        using var stranger = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        Assert.Equal(1, stranger.Send([PortHelpers.Frame(Egress(inner, Handoff.None, tci: 0, from: 1), rig.Tunnel.LocalEndPoint)]));
        rig.SendFromDataPlane(2, Egress(inner, Handoff.None, tci: 0, from: 2, to: 7));
        rig.SendFromDataPlane(2, Egress(inner, Handoff.None, tci: 0, from: 2));
        _ = ReceiveOne(rig.Inside);

        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.WrongSourceAddress]);
        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.WrongDestinationNode]);
        Assert.Equal(1, rig.Role.Counters.Tunnel[(int)TunnelCounter.EgressReceived]);
    }

    [Fact]
    public void TableInstall_NewOwners_NextFramesFollowTheNewTable()
    {
        using var rig = new DispatcherRig();
        var first = rig.Table;
        var onlyTwo = first.Next(first.PeersById.ToArray().Select(p => p.NodeId == 1 ? p with { Weight = 0 } : p), DateTimeOffset.UnixEpoch, "drain 1", out int _);
        Assert.True(rig.Tables.Install(onlyTwo, out _));
        var frames = Enumerable.Range(100, 20).Select(id => ClientSegment(flowId: id)).ToArray();

        foreach (var frame in frames)
        {
            Send(rig.Outside, frame);
        }

        var received = PortHelpers.ReceiveMatching(rig.DataPlanes[2], frames.Length);
        Assert.All(received, r =>
        {
            Assert.Equal(WireError.None, TunnelHeader.TryRead(r.Frame, out var h));
            Assert.Equal(onlyTwo.Era, h.Era);
        });
    }

    private static void LearnServer(DispatcherRig rig)
    {
        var announce = new byte[64];
        var length = PacketBuilder.ArpRequest(announce, ServerMac, ServerIp, ServerIp);
        Send(rig.Inside, announce[..length]);
        // The gratuitous ARP travels down the chain once it is learned: its arrival there orders the test.
        _ = ReceiveOne(rig.DataPlanes[rig.Table.Chain[0]]);
    }

    /// <summary>A client → server segment as a data plane hands it back: destination MAC zero, TTL already lowered.</summary>
    private static byte[] ServerBoundFrame()
    {
        var frame = ClientSegment(flowId: 9);
        frame.AsSpan(0, 12).Clear();
        return frame;
    }
}
