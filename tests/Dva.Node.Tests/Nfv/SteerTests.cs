using System.Net;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Node.Services.LoadBalancer;
using Dva.Node.Tests.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;
using static Dva.Node.Tests.Nfv.LoadBalancerPipelineTests;

namespace Dva.Node.Tests.Nfv;

/// <summary>
/// HANDOFF STEER of NAT replies (DESIGN.md §2, §8): with no SNAT port tried (SnatTries = 0) a translated flow's reply
/// key often hashes to the other data plane's bucket; that data plane gets the finished first packet, keeps a stub,
/// and hands every reply to the data plane that holds the flow.
/// </summary>
public class SteerTests : IDisposable
{
    private const string VipAddress = LoadBalancerPipelineTests.Vip;
    private static readonly TableVersion Table = First(10, 11);
    private readonly Dictionary<ushort, DataPlaneRig> _rigs = [];

    public SteerTests()
        : this(engines: 1)
    {
    }

    /// <summary>The same tests on data planes of several engines (<see cref="SteerOnTwoEnginesTests"/>).</summary>
    protected SteerTests(int engines)
    {
        foreach (ushort node in (ushort[])[10, 11])
        {
            var rig = new DataPlaneRig(node, new DataPlaneOptions { FlowCapacity = 1024, NatCapacity = 1024, SnatTries = 0 },
                configure: s => s with { LoadBalancer = new LoadBalancerSettings(Vips(MemberAdminState.Enabled), new Dictionary<byte, IPAddress>()) },
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

    private static ushort OwnerOf(byte[] frame) => Table.OwnerOf(BucketOf(frame, Table));

    private static PacketBuffer FromInside(byte[] frame, ushort to)
    {
        var buffer = Datagram(frame, Dispatch(to, Table) with { HNode = InsideDispatcher, IfId = Inside });
        ArriveFrom(buffer, InsideDispatcher);
        return buffer;
    }

    /// <summary>
    /// Opens flows from client ports upward until one's reply bucket belongs to the other data plane (with no port
    /// tried, the port taken gives one of the holder's own about half the time: those leave as EGRESS and are skipped).
    /// Returns that flow's first packet as the holder sent it.
    /// </summary>
    private (ushort Port, ushort Holder, PacketBuffer First) SteeredFlow(ushort fromPort)
    {
        for (var port = fromPort; port < fromPort + 200; port++)
        {
            var syn = TestFrames.Tcp(Client, port, VipAddress, 80, TcpFlags.Syn);
            var holder = OwnerOf(syn);
            var buffer = Datagram(syn, Dispatch(holder, Table));
            Assert.Equal(Verdict.Send, _rigs[holder].Process(buffer));
            if (Read(buffer).Header.Type == TunnelType.Handoff)
            {
                return (port, holder, buffer);
            }
        }

        throw new InvalidOperationException("no flow's reply bucket belonged to the other data plane");
    }

    [Fact]
    public void Steer_ReplyBucketOwnedByTheOtherDataPlane_FirstPacketInstallsAStubAndRepliesAreSteeredBack()
    {
        var (port, holder, buffer) = SteeredFlow(40000);
        var translated = Read(buffer).Inner;

        // Holder → reply owner: the finished packet (DNAT and SNAT done, IP TTL decremented), stage POSTROUTING/nat.
        var stub = holder == 10 ? (ushort)11 : (ushort)10;
        var steered = AssertHandOff(buffer, Handoff.Steer, holder, stub);
        Assert.Equal((Hook.PostRouting, NetfilterTable.Nat, (byte)254), (steered.Hook, steered.Table, steered.Ttl));
        var sent = TestFrames.Parse(translated);
        var member = sent.Destination.ToString();
        Assert.Equal((IPAddress.Parse(SnatAddress), (ushort)8080, (byte)63), (sent.Source.ToIPAddress(), sent.DstPort, translated[22]));
        var synAck = TestFrames.Tcp(member, 8080, SnatAddress, sent.SrcPort, TcpFlags.Syn | TcpFlags.Ack);
        Assert.Equal(stub, OwnerOf(synAck));

        // The reply owner sends it out unchanged, as EGRESS on the inside interface, and keeps a stub (beside the flows
        // SteeredFlow opened there before finding this one).
        var flowsBefore = _rigs[stub].FlowCount;
        ArriveFrom(buffer, holder);
        Assert.Equal(Verdict.Send, _rigs[stub].Process(buffer));
        var (egress, _, wire) = Read(buffer);
        Assert.Equal((TunnelType.Egress, InsideDispatcher, stub, Inside), (egress.Type, egress.DNode, egress.HNode, egress.IfId));
        Assert.Equal(translated[14..], wire[14..]);
        Assert.Equal(InsideMac, wire[6..12]);
        Assert.Equal(flowsBefore + 1, _rigs[stub].FlowCount);

        // The member's reply reaches the stub's node and is steered to the holder byte for byte.
        var reply = FromInside(synAck, stub);
        Assert.Equal(Verdict.Send, _rigs[stub].Process(reply));
        var back = AssertHandOff(reply, Handoff.Steer, stub, holder);
        Assert.Equal((Hook.None, NetfilterTable.None, (byte)254), (back.Hook, back.Table, back.Ttl));
        Assert.Equal(synAck, Read(reply).Inner);

        // The holder finds the flow under its reply key and un-NATs it to the client.
        ArriveFrom(reply, stub);
        Assert.Equal(Verdict.Send, _rigs[holder].Process(reply));
        var (toClient, _, answer) = Read(reply);
        Assert.Equal((TunnelType.Egress, OutsideDispatcher, Outside), (toClient.Type, toClient.DNode, toClient.IfId));
        var info = TestFrames.Parse(answer);
        Assert.Equal((IPAddress.Parse(VipAddress), (ushort)80, IPAddress.Parse(Client), port),
            (info.Source.ToIPAddress(), info.SrcPort, info.Destination.ToIPAddress(), info.DstPort));
        Assert.True(Checksum.VerifyIpv4Header(answer, info));
        Assert.True(Checksum.VerifyTransport(answer, info));

        // A reply arrived, so the stub exists: the client's next packet leaves the holder directly.
        var ack = Datagram(TestFrames.Tcp(Client, port, VipAddress, 80, TcpFlags.Ack), Dispatch(holder, Table));
        Assert.Equal(Verdict.Send, _rigs[holder].Process(ack));
        Assert.Equal(TunnelType.Egress, Read(ack).Header.Type);

        var h = _rigs[holder].Snapshot;
        var s = _rigs[stub].Snapshot;
        Assert.Equal((1, 1), (h.Tunnel(TunnelCounter.SteerSent), h.Tunnel(TunnelCounter.SteerReceived)));
        Assert.Equal((1, 1), (s.Tunnel(TunnelCounter.SteerSent), s.Tunnel(TunnelCounter.SteerReceived)));
        Assert.Equal(0, h.Tunnel(TunnelCounter.PuntSent) + s.Tunnel(TunnelCounter.PuntSent) + h.Tunnel(TunnelCounter.ClaimSent) + s.Tunnel(TunnelCounter.ClaimSent));
    }

    [Fact]
    public void Steer_FirstPacketLostBeforeAnyReply_RetransmissionSteeredAgainAndStubKeptOnce()
    {
        var (port, holder, first) = SteeredFlow(41000);
        var syn = TestFrames.Tcp(Client, port, VipAddress, 80, TcpFlags.Syn);

        // The first STEER is lost; the client retransmits its SYN: still no reply, so it is steered again.
        var again = Datagram(syn, Dispatch(holder, Table));
        Assert.Equal(Verdict.Send, _rigs[holder].Process(again));
        var stub = Read(again).Header.DNode;
        AssertHandOff(again, Handoff.Steer, holder, stub);
        Assert.Equal(Read(first).Inner, Read(again).Inner);

        var flowsBefore = _rigs[stub].FlowCount;
        ArriveFrom(again, holder);
        Assert.Equal(Verdict.Send, _rigs[stub].Process(again));
        ArriveFrom(first, holder);
        Assert.Equal(Verdict.Send, _rigs[stub].Process(first));
        Assert.Equal(flowsBefore + 1, _rigs[stub].FlowCount);
    }
}

/// <summary>The STEER tests on data planes of two engines each: every datagram reaches the engine of its outer source port.</summary>
public sealed class SteerOnTwoEnginesTests : SteerTests
{
    public SteerOnTwoEnginesTests()
        : base(engines: 2)
    {
    }
}
