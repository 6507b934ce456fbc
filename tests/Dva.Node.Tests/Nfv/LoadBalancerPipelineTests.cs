using System.Net;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Services.LoadBalancer;
using Dva.Node.Tests.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.Nfv;

/// <summary>
/// The load balancer through two data planes sharing one table: DNAT and SNAT on the way in, the inverse on the
/// reply, the reply's bucket owned by the data plane that holds the flow.
/// </summary>
public class LoadBalancerPipelineTests : IDisposable
{
    internal const string Client = "192.0.2.50";
    internal const string Vip = "192.0.2.1";
    internal const string SnatAddress = "198.51.100.1";
    private static readonly string[] MemberAddresses = ["198.51.100.11", "198.51.100.12"];
    private static readonly TableVersion Table = First(10, 11);
    private readonly Dictionary<ushort, DataPlaneRig> _rigs = [];

    public LoadBalancerPipelineTests()
        : this(engines: 1)
    {
    }

    /// <summary>The same tests on data planes of several engines (<see cref="LoadBalancerPipelineOnTwoEnginesTests"/>).</summary>
    protected LoadBalancerPipelineTests(int engines)
    {
        foreach (ushort node in (ushort[])[10, 11])
        {
            var rig = new DataPlaneRig(node, configure: s => s with { LoadBalancer = new LoadBalancerSettings(Vips(MemberAdminState.Enabled), new Dictionary<byte, IPAddress>()) },
                engines: engines);
            rig.Install(Table);
            _rigs[node] = rig;
        }
    }

    public void Dispose()
    {
        foreach (var rig in _rigs.Values)
        {
            rig.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    internal static Vip[] Vips(MemberAdminState second) =>
    [
        new Vip
        {
            Address = IPAddress.Parse(Vip),
            Port = 80,
            Pool = new Pool
            {
                Method = LbMethod.RoundRobin,
                Members =
                [
                    new Member { Address = IPAddress.Parse(MemberAddresses[0]), Port = 8080 },
                    new Member { Address = IPAddress.Parse(MemberAddresses[1]), Port = 8080, AdminState = second },
                ],
            },
        },
    ];

    private static ushort OwnerOf(byte[] frame) => Table.OwnerOf(BucketOf(frame, Table));

    /// <summary>Sends a client packet to the VIP as the outside dispatcher would; returns the node that handled it and what it sent.</summary>
    private (ushort Node, TunnelHeader Header, byte[] Inner) FromClient(ushort clientPort, TcpFlags flags, ushort vlanTci = 0)
    {
        var frame = TestFrames.Tcp(Client, clientPort, Vip, 80, flags);
        var node = OwnerOf(frame);
        var buffer = Datagram(frame, Dispatch(node, Table) with { VlanTci = vlanTci });
        Assert.Equal(Verdict.Send, _rigs[node].Process(buffer));
        var (header, _, inner) = Read(buffer);
        return (node, header, inner);
    }

    /// <summary>Sends a member's packet as the inside dispatcher would: to the owner of its flow's bucket.</summary>
    private (ushort Node, Verdict Verdict, TunnelHeader Header, byte[] Inner) FromMember(string member, ushort snatPort, TcpFlags flags)
    {
        var frame = TestFrames.Tcp(member, 8080, SnatAddress, snatPort, flags);
        var node = OwnerOf(frame);
        var buffer = Datagram(frame, Dispatch(node, Table) with { HNode = InsideDispatcher, IfId = Inside });
        ArriveFrom(buffer, InsideDispatcher);
        var verdict = _rigs[node].Process(buffer);
        if (verdict != Verdict.Send)
        {
            return (node, verdict, default, []);
        }

        var (header, _, inner) = Read(buffer);
        return (node, verdict, header, inner);
    }

    private static void AssertChecksums(byte[] inner)
    {
        var info = TestFrames.Parse(inner);
        Assert.True(Checksum.VerifyIpv4Header(inner, info));
        Assert.True(Checksum.VerifyTransport(inner, info));
    }

    [Fact]
    public void NewFlowToVip_DnatToMemberSnatToBackendSharedAddress_ChecksumsValid()
    {
        var (_, header, inner) = FromClient(40000, TcpFlags.Syn);

        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(Inside, header.IfId);
        Assert.Equal(InsideDispatcher, header.DNode);
        var info = TestFrames.Parse(inner);
        Assert.Equal(IPAddress.Parse(MemberAddresses[0]), info.Destination.ToIPAddress());
        Assert.Equal(8080, info.DstPort);
        Assert.Equal(IPAddress.Parse(SnatAddress), info.Source.ToIPAddress());
        Assert.InRange(info.SrcPort, 1024, 65535);
        Assert.Equal(TcpFlags.Syn, info.TcpFlags);
        AssertChecksums(inner);
    }

    [Fact]
    public void ReplyFromMember_ReachesTheDataPlaneThatCreatedTheFlowAndIsUnNatted()
    {
        var (creator, _, outbound) = FromClient(40001, TcpFlags.Syn);
        var sent = TestFrames.Parse(outbound);

        var reply = FromMember(sent.Destination.ToString(), sent.SrcPort, TcpFlags.Syn | TcpFlags.Ack);

        Assert.Equal(creator, reply.Node);
        Assert.Equal(Verdict.Send, reply.Verdict);
        Assert.Equal(Outside, reply.Header.IfId);
        Assert.Equal(OutsideDispatcher, reply.Header.DNode);
        var info = TestFrames.Parse(reply.Inner);
        Assert.Equal(IPAddress.Parse(Vip), info.Source.ToIPAddress());
        Assert.Equal(80, info.SrcPort);
        Assert.Equal(IPAddress.Parse(Client), info.Destination.ToIPAddress());
        Assert.Equal(40001, info.DstPort);
        AssertChecksums(reply.Inner);
    }

    // The client reaches the VIP on VLAN 300 of the outside trunk; the member answers untagged from the inside. The
    // un-NATted reply, found under its reply key, goes back tagged for the client's VLAN.
    [Fact]
    public void ReplyFromMember_ToClientOnAVlan_LeavesOnTheClientsVlan()
    {
        var (_, header, outbound) = FromClient(40002, TcpFlags.Syn, vlanTci: 0x012C);
        Assert.Equal(0, header.VlanTci);
        var sent = TestFrames.Parse(outbound);

        var reply = FromMember(sent.Destination.ToString(), sent.SrcPort, TcpFlags.Syn | TcpFlags.Ack);

        Assert.Equal(Verdict.Send, reply.Verdict);
        Assert.Equal(Outside, reply.Header.IfId);
        Assert.Equal(0x012C, reply.Header.VlanTci);
        Assert.Equal(IPAddress.Parse(Client), TestFrames.Parse(reply.Inner).Destination.ToIPAddress());
    }

    [Fact]
    public void ServiceCounters_FlowWithReply_MemberAndVipCountOneConnectionAndEveryIpByteBothWays()
    {
        var (creator, _, outbound) = FromClient(40010, TcpFlags.Syn);
        var sent = TestFrames.Parse(outbound);
        _ = FromMember(sent.Destination.ToString(), sent.SrcPort, TcpFlags.Syn | TcpFlags.Ack);
        _ = FromClient(40010, TcpFlags.Ack);

        var vip = Assert.Single(ServiceCounters.Vips(_rigs[creator].Role.LoadBalancer));
        Assert.Equal("192.0.2.1:80/tcp", vip.Address);
        Assert.Equal((1, 1, 3 * 40), (vip.ActiveFlows, vip.TotalConnections, vip.Bytes));
        var used = Assert.Single(vip.Members, m => m.Address == $"{sent.Destination}:8080");
        Assert.Equal((1, 1, 3 * 40), (used.ActiveFlows, used.TotalConnections, used.Bytes));
        var idle = Assert.Single(vip.Members, m => m != used);
        Assert.Equal((0, 0, 0), (idle.ActiveFlows, idle.TotalConnections, idle.Bytes));
        var other = _rigs.Values.Single(r => r != _rigs[creator]);
        Assert.Equal(0, Assert.Single(ServiceCounters.Vips(other.Role.LoadBalancer)).TotalConnections);
    }

    [Fact]
    public void ManyFlows_EveryReplyOwnedByItsCreatorNoPuntsAndBothMembersUsed()
    {
        var members = new HashSet<string>();
        var creators = new HashSet<ushort>();
        for (ushort port = 41000; port < 41064; port++)
        {
            var (creator, _, outbound) = FromClient(port, TcpFlags.Syn);
            var sent = TestFrames.Parse(outbound);
            members.Add(sent.Destination.ToString());
            creators.Add(creator);

            var reply = FromMember(sent.Destination.ToString(), sent.SrcPort, TcpFlags.Syn | TcpFlags.Ack);
            Assert.Equal(creator, reply.Node);
            Assert.Equal(Verdict.Send, reply.Verdict);
            Assert.Equal(port, TestFrames.Parse(reply.Inner).DstPort);

            // The client's next packet is translated the same way.
            var (again, _, second) = FromClient(port, TcpFlags.Ack);
            Assert.Equal(creator, again);
            Assert.Equal(outbound[26..38], second[26..38]);
        }

        Assert.Equal(2, members.Count);
        Assert.Equal(2, creators.Count);
        foreach (var rig in _rigs.Values)
        {
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.PuntSent));
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.ClaimSent));

            // The SNAT port search found an owned reply bucket every time: no reply needed STEER.
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.SteerSent));
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.SteerReceived));
        }
    }

    [Fact]
    public void FlowTranslated_IndexedUnderBothKeysCountedInBothBuckets()
    {
        var (creator, _, outbound) = FromClient(40002, TcpFlags.Syn);
        var sent = TestFrames.Parse(outbound);
        var rig = _rigs[creator];
        var counts = rig.BucketCounts(Table.BucketCount);

        Assert.Equal(1, rig.FlowCount);
        Assert.Equal(1, counts[BucketOf(TestFrames.Tcp(Client, 40002, Vip, 80, TcpFlags.Syn), Table)]);
        Assert.Equal(1, counts[BucketOf(TestFrames.Tcp(sent.Destination.ToString(), 8080, SnatAddress, sent.SrcPort, TcpFlags.Ack), Table)]);
    }

    [Fact]
    public void FlowExpires_MemberCountAndSnatPortReleasedAliasRemoved()
    {
        var (creator, _, outbound) = FromClient(40003, TcpFlags.Syn);
        var rig = _rigs[creator];
        var member = rig.Role.LoadBalancer.Table.TryFind(new VipKey(System.Net.Sockets.AddressFamily.InterNetwork, TestFrames.V4(Vip), 80, 6), out var vip)
            ? vip.Members.Single(m => m.Member.Address.ToString() == TestFrames.Parse(outbound).Destination.ToString())
            : throw new InvalidOperationException("VIP not compiled");
        Assert.Equal(1, member.ActiveFlows.Count);

        _ = FromClient(40003, TcpFlags.Rst);
        rig.Time.Advance(FlowTimeouts.Default.TcpClosed + TimeSpan.FromSeconds(1));
        for (var i = 0; i < 4; i++)
        {
            rig.SweepFlows();
        }

        Assert.Equal(0, member.ActiveFlows.Count);
        Assert.Equal(0, rig.NatCount);
        Assert.Equal(0, rig.FlowCount);
        var counts = rig.BucketCounts(Table.BucketCount);
        Assert.All(counts, c => Assert.Equal(0, c));
    }

    [Fact]
    public void MemberDraining_NoNewFlowsWhileItsExistingFlowContinues()
    {
        // Each data plane runs its own round robin: open flows until one goes to the second member.
        var drained = MemberAddresses[1];
        ushort drainedPort = 40010;
        while (TestFrames.Parse(FromClient(drainedPort, TcpFlags.Syn).Inner).Destination.ToString() != drained)
        {
            drainedPort++;
        }

        foreach (var rig in _rigs.Values)
        {
            rig.Role.PublishLoadBalancer(Vips(MemberAdminState.Draining));
        }

        for (ushort port = 40020; port < 40040; port++)
        {
            var (_, _, inner) = FromClient(port, TcpFlags.Syn);
            Assert.NotEqual(drained, TestFrames.Parse(inner).Destination.ToString());
        }

        var (_, _, existing) = FromClient(drainedPort, TcpFlags.Ack);
        Assert.Equal(drained, TestFrames.Parse(existing).Destination.ToString());
        var reply = FromMember(drained, TestFrames.Parse(existing).SrcPort, TcpFlags.Ack);
        Assert.Equal(Verdict.Send, reply.Verdict);
        Assert.Equal(drainedPort, TestFrames.Parse(reply.Inner).DstPort);
    }

    [Fact]
    public void VipWithNoMemberAcceptingFlows_NewFlowDroppedNoBackendAndNotKept()
    {
        var node = OwnerOf(TestFrames.Tcp(Client, 40050, Vip, 80, TcpFlags.Syn));
        var rig = _rigs[node];
        rig.Role.PublishLoadBalancer(
        [
            Vips(MemberAdminState.Disabled)[0] with
            {
                Pool = new Pool { Members = [new Member { Address = IPAddress.Parse(MemberAddresses[0]), Port = 8080, Health = MemberHealth.Down }] },
            },
        ]);

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.Tcp(Client, 40050, Vip, 80, TcpFlags.Syn), Dispatch(node, Table))));

        Assert.Equal(DropReason.NoBackend, rig.LastRole.LastDrop);
        Assert.Equal(0, rig.FlowCount);
    }
}

/// <summary>The load balancer tests on data planes of two engines each: every datagram reaches the engine of its outer source port.</summary>
public sealed class LoadBalancerPipelineOnTwoEnginesTests : LoadBalancerPipelineTests
{
    public LoadBalancerPipelineOnTwoEnginesTests()
        : base(engines: 2)
    {
    }
}
