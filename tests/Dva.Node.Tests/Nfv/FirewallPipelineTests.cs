using System.Net;
using Dva.Node.Agent;
using Dva.Node.DataPlane;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;
using Dva.Node.Tests.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.Nfv;

/// <summary>The firewall at FORWARD/filter, driven through a data plane: frames in, frames out.</summary>
public class FirewallPipelineTests
{
    private const string Client = "192.0.2.50";
    private const string Server = "198.51.100.7";
    private static readonly TableVersion Table = First(10);

    private static readonly FirewallPolicy Policy = new()
    {
        DefaultAction = FirewallAction.Drop,
        MidStream = Dva.Node.Services.Firewall.MidStreamPolicy.Strict,
        Rules =
        [
            new FirewallRule { Id = 1, Priority = 10, Action = FirewallAction.Accept, Protocol = IpProtocols.Tcp, DestinationPorts = PortRange.Single(80) },
            new FirewallRule { Id = 2, Priority = 20, Action = FirewallAction.Reject, Protocol = IpProtocols.Tcp, DestinationPorts = PortRange.Single(23) },
            new FirewallRule { Id = 3, Priority = 30, Action = FirewallAction.Reject, Protocol = IpProtocols.Udp, DestinationPorts = PortRange.Single(69) },
            new FirewallRule { Id = 4, Priority = 40, Action = FirewallAction.Drop, Source = IPNetwork.Parse("192.0.2.0/24"), DestinationPorts = PortRange.Single(22), Protocol = IpProtocols.Tcp },
        ],
    };

    private static DataPlaneRig Rig()
    {
        var rig = new DataPlaneRig(10, configure: s => s with { Firewall = Policy });
        rig.Install(Table);
        return rig;
    }

    private static RuleCounterSnapshot CountersOf(DataPlaneRig rig, int ruleId) =>
        rig.Role.Firewall!.Counters.Snapshot().Single(c => c.RuleId == ruleId);

    [Fact]
    public void Forward_AcceptRule_FirstPacketClassifiedOnceLaterPacketsCountedOnTheRule()
    {
        using var rig = Rig();
        var syn = TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Syn);
        var ack = TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Ack);

        Assert.Equal(Verdict.Send, rig.Process(Datagram(syn, Dispatch(10, Table))));
        Assert.Equal(Verdict.Send, rig.Process(Datagram(ack, Dispatch(10, Table))));

        var counters = CountersOf(rig, 1);
        Assert.Equal(1, counters.Evaluations);
        Assert.Equal(1, counters.Flows);
        Assert.Equal(2, counters.Packets);
        Assert.Equal(2 * (syn.Length - 14), counters.Bytes);
    }

    [Fact]
    public void ServiceCounters_Rules_EveryRuleByIdThenTheDefaultPolicyAsMinusOne()
    {
        using var rig = Rig();
        var syn = TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Syn);
        var other = TestFrames.Tcp(Client, 40001, Server, 443, TcpFlags.Syn);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(syn, Dispatch(10, Table))));
        Assert.Equal(Verdict.Drop, rig.Process(Datagram(other, Dispatch(10, Table))));

        var rules = ServiceCounters.Rules(rig.Role.Firewall);

        Assert.Equal([1L, 2, 3, 4, -1], rules.Select(r => r.RuleId));
        Assert.Equal(new Dva.Shared.Contracts.RuleHitCount(1, false, 1, 1, 1, syn.Length - 14), rules[0]);
        Assert.Equal(new Dva.Shared.Contracts.RuleHitCount(-1, true, 1, 1, 1, other.Length - 14), rules[^1]);
        Assert.Empty(ServiceCounters.Rules(null));
    }

    [Fact]
    public void Forward_ReplyOfAcceptedFlow_PassesDespiteDefaultDrop()
    {
        using var rig = Rig();
        Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Syn), Dispatch(10, Table))));
        var reply = Datagram(TestFrames.Tcp(Server, 80, Client, 40000, TcpFlags.Syn | TcpFlags.Ack), Dispatch(10, Table) with { HNode = InsideDispatcher, IfId = Inside });
        ArriveFrom(reply, InsideDispatcher);

        Assert.Equal(Verdict.Send, rig.Process(reply));

        Assert.Equal(Outside, Read(reply).Header.IfId);
        Assert.Equal(1, CountersOf(rig, 1).Evaluations);
    }

    [Fact]
    public void Forward_DropRule_FlowRememberedAsDeniedAndLaterPacketsDroppedWithoutClassification()
    {
        using var rig = Rig();
        var syn = TestFrames.Tcp(Client, 40001, Server, 22, TcpFlags.Syn);

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(syn, Dispatch(10, Table))));
        Assert.Equal(DropReason.FirewallDrop, rig.Role.LastDrop);
        Assert.Equal(Verdict.Drop, rig.Process(Datagram(syn, Dispatch(10, Table))));

        Assert.Equal(2, rig.Snapshot.Drop(DropReason.FirewallDrop));
        Assert.Equal(1, rig.Role.Flows.Count);
        var counters = CountersOf(rig, 4);
        Assert.Equal(1, counters.Evaluations);
        Assert.Equal(2, counters.Packets);
    }

    [Fact]
    public void Forward_NoRuleMatches_DefaultPolicyDropsAndCountsOnTheDefaultSlot()
    {
        using var rig = Rig();

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.Udp(Client, 5000, Server, 53), Dispatch(10, Table))));

        var defaults = rig.Role.Firewall!.Counters.Snapshot().Single(c => c.IsDefault);
        Assert.Equal(1, defaults.Evaluations);
        Assert.Equal(DropReason.FirewallDrop, rig.Role.LastDrop);
    }

    [Fact]
    public void Forward_RejectTcp_RstFromTheServerAddressGoesBackOutTheIngressInterface()
    {
        using var rig = Rig();
        var buffer = Datagram(TestFrames.Tcp(Client, 40002, Server, 23, TcpFlags.Syn), Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(OutsideDispatcher, header.DNode);
        Assert.Equal(Outside, header.IfId);
        var rst = TestFrames.Parse(inner);
        Assert.Equal(IPAddress.Parse(Server), rst.Source.ToIPAddress());
        Assert.Equal(IPAddress.Parse(Client), rst.Destination.ToIPAddress());
        Assert.Equal(23, rst.SrcPort);
        Assert.Equal(40002, rst.DstPort);
        Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, rst.TcpFlags);
        Assert.Equal(1001u, rst.TcpAcknowledgment);
        Assert.True(Checksum.VerifyIpv4Header(inner, rst));
        Assert.True(Checksum.VerifyTransport(inner, rst));
        Assert.Equal(1, rig.Snapshot.Drop(DropReason.FirewallReject));
    }

    [Fact]
    public void Forward_RejectUdp_IcmpAdministrativelyProhibitedFromTheIngressSharedAddress()
    {
        using var rig = Rig();
        var request = TestFrames.Udp(Client, 5001, Server, 69);
        var buffer = Datagram(request, Dispatch(10, Table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var inner = Read(buffer).Inner;
        var icmp = TestFrames.Parse(inner);
        Assert.Equal(PacketConstants.ProtocolIcmp, icmp.Protocol);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), icmp.Source.ToIPAddress());
        Assert.Equal(IPAddress.Parse(Client), icmp.Destination.ToIPAddress());
        Assert.Equal(Reject.IcmpType, icmp.IcmpType);
        Assert.Equal(Reject.IcmpCode, icmp.IcmpCode);
        Assert.True(Checksum.VerifyTransport(inner, icmp));

        // The quote is the rejected packet's IP header and first 8 bytes.
        Assert.Equal(request.AsSpan(14, 28).ToArray(), inner.AsSpan(icmp.L4Offset + 8, 28).ToArray());
    }

    [Fact]
    public void Forward_IcmpErrorMatchingARejectRule_IsDroppedNeverAnswered()
    {
        using var rig = Rig(new FirewallPolicy { DefaultAction = FirewallAction.Reject });
        var unreachable = new byte[200];
        var quoted = TestFrames.Udp(Server, 53, Client, 5002);
        var length = PacketBuilder.Icmpv4DestinationUnreachable(unreachable, quoted, TestFrames.Parse(quoted), 3, 0, TestFrames.V4(Client));
        var error = unreachable[..length];
        TestFrames.SharedMacOutside.CopyTo(error, 0);

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(error, Dispatch(10, Table))));
        Assert.Equal(DropReason.FirewallReject, rig.Role.LastDrop);
    }

    [Fact]
    public void Claim_MidStreamTcpUnderStrictPolicy_DroppedMidStreamNoState()
    {
        var table = First(10, 11);
        using var rig = new DataPlaneRig(10, configure: s => s with { Firewall = Policy });
        rig.Install(table);
        var port = PortWhere(table, b => table.OwnerOf(b) == 10, p => TestFrames.Tcp(Client, p, Server, 80, TcpFlags.Ack));
        var claim = Datagram(TestFrames.Tcp(Client, port, Server, 80, TcpFlags.Ack), HandoffFields(Handoff.Claim, 11, 10, table));

        Assert.Equal(Verdict.Drop, rig.Process(claim));

        Assert.Equal(DropReason.MidStreamNoState, rig.Role.LastDrop);
    }

    private static DataPlaneRig Rig(FirewallPolicy policy)
    {
        var rig = new DataPlaneRig(10, configure: s => s with { Firewall = policy });
        rig.Install(Table);
        return rig;
    }

    [Fact]
    public void PublishFirewall_RuleKept_CountersCarryOver()
    {
        using var rig = Rig();
        Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Tcp(Client, 40004, Server, 80, TcpFlags.Syn), Dispatch(10, Table))));

        rig.Role.PublishFirewall(Policy with { DefaultAction = FirewallAction.Accept });

        Assert.Equal(1, CountersOf(rig, 1).Evaluations);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Udp(Client, 5003, Server, 53), Dispatch(10, Table))));
    }
}
