using System.Buffers.Binary;
using System.Net;
using Dva.Node.Agent;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Node.Config;
using Dva.Node.Routing;
using Dva.Node.Services.LoadBalancer;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

public class PipelineTests
{
    private const string Client = "192.0.2.50";
    private static readonly TableVersion Table = First(10);
    private static readonly byte[] HostMac = [0x02, 0xBB, 0, 0, 0, 0x07];
    private static readonly byte[] RouterMac = [0x02, 0xCC, 0, 0, 0, 0xFE];

    private static DataPlaneRig Rig()
    {
        var rig = new DataPlaneRig(10);
        rig.Install(Table);
        return rig;
    }

    // A broadcast ARP from the inside network reaches the (only, so last) data plane of the chain.
    private static void LearnInside(DataPlaneRig rig, byte[] mac, string ip)
    {
        var fields = BroadcastFields(10, Table, InsideDispatcher, Inside);
        Assert.Equal(Verdict.Consumed, rig.Process(Datagram(TestFrames.ArpRequest(mac, ip, "198.51.100.1"), fields)));
    }

    [Fact]
    public void Forward_ConnectedSubnetUnknownNeighbour_EgressResolveFromSharedMacWithTtlDecremented()
    {
        using var rig = Rig();
        var frame = TestFrames.Udp(Client, 4000, "198.51.100.7", 53, ttl: 64);
        var buffer = Datagram(frame, Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(Handoff.Resolve, header.Handoff);
        Assert.Equal(InsideDispatcher, header.DNode);
        Assert.Equal(10, header.HNode);
        Assert.Equal(Inside, header.IfId);
        Assert.Equal(Hook.PostRouting, header.Hook);
        Assert.Equal(0, header.VlanTci);
        Assert.Equal(PacketAddress.FromEndPoint(EndpointOf(InsideDispatcher)), buffer.Peer);
        Assert.Equal(new byte[6], inner[..6]);
        Assert.Equal(InsideMac, inner[6..12]);
        var info = TestFrames.Parse(inner);
        Assert.Equal(63, info.HopLimit);
        Assert.True(Checksum.VerifyIpv4Header(inner, info));
        Assert.Equal(frame[12..22], inner[12..22]);
        Assert.Equal(frame[23..24], inner[23..24]);
        Assert.Equal(frame[26..], inner[26..]);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.EgressSent));
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.ResolveSent));
    }

    [Fact]
    public void Forward_NeighbourLearnedFromBroadcastArp_DestinationMacFilledWithoutResolve()
    {
        using var rig = Rig();
        LearnInside(rig, HostMac, "198.51.100.7");
        var buffer = Datagram(TestFrames.Udp(Client, 4000, "198.51.100.7", 53), Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(Handoff.None, header.Handoff);
        Assert.Equal(HostMac, inner[..6]);
        Assert.Equal(InsideMac, inner[6..12]);
    }

    [Fact]
    public void Forward_StaticRoute_NextHopRouterMacUsed()
    {
        using var rig = Rig();
        LearnInside(rig, RouterMac, "198.51.100.254");
        var buffer = Datagram(TestFrames.Udp(Client, 4000, "203.0.113.9", 53), Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(Inside, header.IfId);
        Assert.Equal(Handoff.None, header.Handoff);
        Assert.Equal(RouterMac, inner[..6]);
    }

    [Fact]
    public void Forward_NoRoute_DroppedAndCounted()
    {
        using var rig = Rig();

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.Udp(Client, 4000, "100.64.0.1", 53), Dispatch(10, Table))));

        Assert.Equal(1, rig.Snapshot.Drop(DropReason.NoRoute));
    }

    [Fact]
    public void Forward_IpTtlOne_TimeExceededSentBackFromIngressSharedAddress()
    {
        using var rig = Rig();
        var frame = TestFrames.Udp(Client, 4000, "198.51.100.7", 53, ttl: 1);
        var buffer = Datagram(frame, Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(OutsideDispatcher, header.DNode);
        Assert.Equal(Outside, header.IfId);
        var info = TestFrames.Parse(inner);
        Assert.Equal(PacketConstants.ProtocolIcmp, info.Protocol);
        Assert.Equal(11, info.IcmpType);
        Assert.Equal("192.0.2.1", info.Source.ToString());
        Assert.Equal(Client, info.Destination.ToString());
        Assert.Equal(TestFrames.SharedMacOutside, inner[6..12]);
        Assert.True(Checksum.VerifyTransport(inner, info));
        Assert.Equal(1, rig.Snapshot.Drop(DropReason.IpTtlExpired));
    }

    // A flood of packets that each earn an ICMP error gets 50 errors at once (the burst) and then 1 000 a second, as
    // Linux limits its own; the packets over the limit are dropped as before, their errors only counted.
    [Fact]
    public void Forward_FloodOfTtlOnePackets_TimeExceededLimitedToTheBurstThenTheRate()
    {
        using var rig = Rig();
        var frame = TestFrames.Udp(Client, 4000, "198.51.100.7", 53, ttl: 1);

        var answered = Enumerable.Range(0, 60).Count(_ => rig.Process(Datagram(frame, Dispatch(10, Table))) == Verdict.Send);
        rig.Time.Advance(TimeSpan.FromMilliseconds(10));
        var afterTenMilliseconds = Enumerable.Range(0, 20).Count(_ => rig.Process(Datagram(frame, Dispatch(10, Table))) == Verdict.Send);

        Assert.Equal(IcmpRateLimiter.DefaultBurst, answered);
        Assert.Equal(10, afterTenMilliseconds);
        Assert.Equal(80, rig.Snapshot.Drop(DropReason.IpTtlExpired));
        Assert.Equal(20, rig.Snapshot.Tunnel(TunnelCounter.IcmpRateLimited));
    }

    [Fact]
    public void Input_PingSharedIpv4_EchoReplyFromSharedAddressOnIngressInterface()
    {
        using var rig = Rig();
        var buffer = Datagram(TestFrames.EchoRequest(Client, "192.0.2.1", id: 99, sequence: 5), Dispatch(10, Table) with { VlanTci = 0x0064 });

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(OutsideDispatcher, header.DNode);
        Assert.Equal(Outside, header.IfId);
        Assert.Equal(0x0064, header.VlanTci);
        var info = TestFrames.Parse(inner);
        Assert.Equal(0, info.IcmpType);
        Assert.Equal(99, info.IcmpId);
        Assert.Equal(5, info.IcmpSequence);
        Assert.Equal("192.0.2.1", info.Source.ToString());
        Assert.Equal(Client, info.Destination.ToString());
        Assert.Equal(TestFrames.SharedMacOutside, inner[6..12]);
        Assert.True(Checksum.VerifyTransport(inner, info));
        Assert.True(Checksum.VerifyIpv4Header(inner, info));
    }

    [Fact]
    public void Input_PingSharedIpv6_EchoReplyFromSharedAddress()
    {
        using var rig = Rig();
        var buffer = Datagram(TestFrames.EchoRequest("2001:db8::50", "2001:db8::1"), Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var inner = Read(buffer).Inner;
        var info = TestFrames.Parse(inner);
        Assert.Equal(129, info.IcmpType);
        Assert.Equal("2001:db8::1", info.Source.ToString());
        Assert.Equal("2001:db8::50", info.Destination.ToString());
        Assert.True(Checksum.VerifyTransport(inner, info));
    }

    [Fact]
    public void Input_UdpToSharedAddress_DroppedAsLocalUnhandled()
    {
        using var rig = Rig();

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.Udp(Client, 4000, "192.0.2.1", 53), Dispatch(10, Table))));

        Assert.Equal(DropReason.LocalUnhandled, rig.Role.LastDrop);
    }

    [Fact]
    public void Input_TcpToSharedAddress_DroppedAndNoFlowKept()
    {
        using var rig = Rig();

        // E.g. a backend's late reply to an SNAT port whose flow is gone: nothing here answers it, nothing is kept.
        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.Tcp("198.51.100.7", 80, "192.0.2.1", 40000, TcpFlags.Ack), Dispatch(10, Table))));

        Assert.Equal(DropReason.LocalUnhandled, rig.Role.LastDrop);
        Assert.Equal(0, rig.Role.Flows.Count);
    }

    [Fact]
    public void Forward_ToOtherInterface_VlanTagNotCarriedOver()
    {
        using var rig = Rig();
        var buffer = Datagram(TestFrames.Udp(Client, 4000, "198.51.100.7", 53), Dispatch(10, Table) with { VlanTci = 0x0064 });

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(0, Read(buffer).Header.VlanTci);
    }

    // A client on VLAN 100 of the outside trunk, a server on the untagged inside network: the client's packets lose
    // the tag on the inside, and the server's replies get it back on the way out, though they came in untagged on
    // another interface.
    [Fact]
    public void Forward_ReplyToTaggedClientAcrossInterfaces_LeavesOnTheClientsVlan()
    {
        using var rig = Rig();
        var fromInside = Dispatch(10, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher, IfId = Inside };
        var request = Datagram(TestFrames.Udp(Client, 4000, "198.51.100.7", 53), Dispatch(10, Table) with { VlanTci = 0x2064 });
        Assert.Equal(Verdict.Send, rig.Process(request));
        Assert.Equal((Inside, (ushort)0), (Read(request).Header.IfId, Read(request).Header.VlanTci));

        var reply = Datagram(TestFrames.Udp("198.51.100.7", 53, Client, 4000), fromInside);
        Assert.Equal(Verdict.Send, rig.Process(reply));

        var (header, _, inner) = Read(reply);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(OutsideDispatcher, header.DNode);
        Assert.Equal(Outside, header.IfId);
        Assert.Equal(0x2064, header.VlanTci);
        Assert.Equal(TestFrames.SharedMacOutside, inner[6..12]);

        // The client's side moves to VLAN 200 (the last tag wins); the flow's later replies follow it.
        Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Udp(Client, 4000, "198.51.100.7", 53), Dispatch(10, Table) with { VlanTci = 0x00C8 })));
        var later = Datagram(TestFrames.Udp("198.51.100.7", 53, Client, 4000), fromInside);
        Assert.Equal(Verdict.Send, rig.Process(later));
        Assert.Equal(0x00C8, Read(later).Header.VlanTci);
    }

    // A host on VLAN 20 of the inside trunk announces itself by ARP: a new flow from the untagged outside toward it
    // leaves the inside on VLAN 20 (the next hop's VLAN), with its MAC; a host announced untagged gets no tag.
    [Fact]
    public void Forward_NewFlowTowardAHostThatArpedOnAVlan_LeavesOnThatVlan()
    {
        using var rig = Rig();
        var onVlan = BroadcastFields(10, Table, InsideDispatcher, Inside) with { VlanTci = 0x0014 };
        Assert.Equal(Verdict.Consumed, rig.Process(Datagram(TestFrames.ArpRequest(HostMac, "198.51.100.7", "198.51.100.1"), onVlan)));
        LearnInside(rig, RouterMac, "198.51.100.8");

        var toTagged = Datagram(TestFrames.Udp(Client, 4000, "198.51.100.7", 53), Dispatch(10, Table));
        var toUntagged = Datagram(TestFrames.Udp(Client, 4000, "198.51.100.8", 53), Dispatch(10, Table) with { VlanTci = 0x0064 });
        Assert.Equal(Verdict.Send, rig.Process(toTagged));
        Assert.Equal(Verdict.Send, rig.Process(toUntagged));

        var (header, _, inner) = Read(toTagged);
        Assert.Equal((Inside, Handoff.None, (ushort)0x0014), (header.IfId, header.Handoff, header.VlanTci));
        Assert.Equal(HostMac, inner[..6]);
        Assert.Equal((Inside, (ushort)0), (Read(toUntagged).Header.IfId, Read(toUntagged).Header.VlanTci));
    }

    // The inside trunk with a sub-interface: VLAN 20 holds 203.0.113.128/25 (longer than the static 203.0.113.0/24).
    private static DataPlaneRig SubInterfaceRig(LoadBalancerSettings? loadBalancer = null)
    {
        var rig = new DataPlaneRig(10, configure: s => s with
        {
            LoadBalancer = loadBalancer,
            Interfaces =
            [
                s.Interfaces[0],
                s.Interfaces[1] with
                {
                    Addresses = [.. s.Interfaces[1].Addresses, IPAddress.Parse("203.0.113.129")],
                    Subnets = [.. s.Interfaces[1].Subnets, IPNetwork.Parse("203.0.113.128/25")],
                    AddressVlans = [0, 20],
                    Vlans = [20],
                },
            ],
        });
        rig.Install(Table);
        return rig;
    }

    // Nothing was ever heard from the host, but its subnet is VLAN 20's: the first packet already leaves tagged, and the
    // dispatcher is asked to resolve it on VLAN 20 only.
    [Fact]
    public void Forward_NewFlowIntoASubInterfacesSubnet_LeavesOnItsVlanAtOnce()
    {
        using var rig = SubInterfaceRig();
        var toVlan20 = Datagram(TestFrames.Udp(Client, 4000, "203.0.113.130", 53), Dispatch(10, Table));
        var beyond = Datagram(TestFrames.Udp(Client, 4000, "203.0.113.5", 53), Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(toVlan20));
        Assert.Equal(Verdict.Send, rig.Process(beyond));

        var (header, _, inner) = Read(toVlan20);
        Assert.Equal((Inside, Handoff.Resolve, (ushort)20), (header.IfId, header.Handoff, header.VlanTci));
        Assert.Equal("203.0.113.130", TestFrames.Parse(inner).Destination.ToString());
        Assert.Equal((Inside, (ushort)0), (Read(beyond).Header.IfId, Read(beyond).Header.VlanTci));
    }

    // Routed between the links of one trunk: from VLAN 20 to a host of the interface's own subnet nobody has heard from,
    // the packet leaves with its VLAN open (the dispatcher looks untagged and on every VLAN), not back into VLAN 20;
    // from the untagged link into VLAN 20's subnet it leaves tagged 20; the reply goes back where its flow came from.
    [Fact]
    public void Forward_BetweenASubInterfaceAndTheUntaggedLink_RoutedBetweenVlans()
    {
        using var rig = SubInterfaceRig();
        var fromVlan20 = Dispatch(10, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher, IfId = Inside, VlanTci = 20 };
        var fromUntagged = Dispatch(10, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher, IfId = Inside };
        var out20 = Datagram(TestFrames.Udp("203.0.113.140", 4000, "198.51.100.7", 53), fromVlan20);
        var into20 = Datagram(TestFrames.Udp("198.51.100.8", 4001, "203.0.113.141", 53), fromUntagged);
        var reply = Datagram(TestFrames.Udp("198.51.100.7", 53, "203.0.113.140", 4000), fromUntagged);

        Assert.Equal(Verdict.Send, rig.Process(out20));
        Assert.Equal(Verdict.Send, rig.Process(into20));
        Assert.Equal(Verdict.Send, rig.Process(reply));

        Assert.Equal((Inside, Handoff.Resolve, (ushort)0), (Read(out20).Header.IfId, Read(out20).Header.Handoff, Read(out20).Header.VlanTci));
        Assert.Equal((Inside, (ushort)20), (Read(into20).Header.IfId, Read(into20).Header.VlanTci));
        Assert.Equal((Inside, (ushort)20), (Read(reply).Header.IfId, Read(reply).Header.VlanTci));
    }

    // A load-balanced flow to a member on VLAN 20 gets VLAN 20's address as its source (the member answers on its own
    // link), and leaves tagged 20; with a configured SNAT address for the interface, that address wins.
    [Fact]
    public void LoadBalancer_MemberOnASubInterface_SnatFromThatSubInterfacesAddress()
    {
        Vip[] vips =
        [
            new Vip
            {
                Address = IPAddress.Parse("192.0.2.1"),
                Port = 80,
                Pool = new Pool { Method = LbMethod.RoundRobin, Members = [new Member { Address = IPAddress.Parse("203.0.113.140"), Port = 8080 }] },
            },
        ];
        using var rig = SubInterfaceRig(new LoadBalancerSettings(vips, new Dictionary<byte, IPAddress>()));
        using var configured = SubInterfaceRig(new LoadBalancerSettings(vips, new Dictionary<byte, IPAddress> { [Inside] = IPAddress.Parse("198.51.100.1") }));
        var syn = Datagram(TestFrames.Tcp(Client, 40000, "192.0.2.1", 80, TcpFlags.Syn), Dispatch(10, Table));
        var synToConfigured = Datagram(TestFrames.Tcp(Client, 40000, "192.0.2.1", 80, TcpFlags.Syn), Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(syn));
        Assert.Equal(Verdict.Send, configured.Process(synToConfigured));

        var (header, _, inner) = Read(syn);
        var info = TestFrames.Parse(inner);
        Assert.Equal((Inside, (ushort)20), (header.IfId, header.VlanTci));
        Assert.Equal(("203.0.113.129", "203.0.113.140", (ushort)8080), (info.Source.ToString(), info.Destination.ToString(), info.DstPort));
        Assert.True(Checksum.VerifyTransport(inner, info));
        Assert.Equal("198.51.100.1", TestFrames.Parse(Read(synToConfigured).Inner).Source.ToString());
    }

    // A host on VLAN 20 pings the sub-interface's address and traceroutes through it: both answers come from VLAN 20's
    // address and go back tagged.
    [Fact]
    public void Input_FromASubInterface_AnsweredFromItsAddressOnItsVlan()
    {
        using var rig = SubInterfaceRig();
        var fromVlan20 = Dispatch(10, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher, IfId = Inside, VlanTci = 20 };
        var ping = Datagram(TestFrames.EchoRequest("203.0.113.140", "203.0.113.129", id: 7, sequence: 1), fromVlan20);
        var expiring = Datagram(TestFrames.Udp("203.0.113.140", 4000, Client, 53, ttl: 1), fromVlan20);

        Assert.Equal(Verdict.Send, rig.Process(ping));
        Assert.Equal(Verdict.Send, rig.Process(expiring));

        foreach (var (buffer, type) in new[] { (ping, 0), (expiring, 11) })
        {
            var (header, _, inner) = Read(buffer);
            Assert.Equal((Inside, (ushort)20), (header.IfId, header.VlanTci));
            var info = TestFrames.Parse(inner);
            Assert.Equal((type, "203.0.113.129", "203.0.113.140"), (info.IcmpType, info.Source.ToString(), info.Destination.ToString()));
            Assert.True(Checksum.VerifyTransport(inner, info));
        }
    }

    // A flow the inside starts toward the outside: no outside side is known for it, so it leaves untagged even when
    // another flow's client sits on a VLAN.
    [Fact]
    public void Forward_FlowStartedFromTheUntaggedSide_LeavesUntagged()
    {
        using var rig = Rig();
        Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Udp(Client, 4000, "198.51.100.7", 53), Dispatch(10, Table) with { VlanTci = 0x0064 })));
        var fromInside = Dispatch(10, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher, IfId = Inside };

        var other = Datagram(TestFrames.Udp("198.51.100.7", 5000, Client, 4001), fromInside);
        Assert.Equal(Verdict.Send, rig.Process(other));

        Assert.Equal((Outside, (ushort)0), (Read(other).Header.IfId, Read(other).Header.VlanTci));
    }

    [Fact]
    public void Dispatch_ArpFrame_DroppedAsNotForABucket()
    {
        using var rig = Rig();

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.ArpRequest(HostMac, "192.0.2.7", "192.0.2.1"), Dispatch(10, Table))));

        Assert.Equal(DropReason.UnsupportedEtherType, rig.Role.LastDrop);
    }

    [Fact]
    public void Dispatch_TruncatedIpHeader_DroppedMalformed()
    {
        using var rig = Rig();
        var frame = TestFrames.Udp(Client, 4000, "198.51.100.7", 53);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 4000);

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(frame, Dispatch(10, Table))));

        Assert.Equal(DropReason.MalformedFrame, rig.Role.LastDrop);
    }
}
