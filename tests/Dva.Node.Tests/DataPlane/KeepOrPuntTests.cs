using Dva.Node.Agent;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

public class KeepOrPuntTests
{
    /// <summary>Engines of every data plane of these tests (<see cref="KeepOrPuntOnTwoEnginesTests"/>).</summary>
    protected virtual int Engines => 1;

    private const string Client = "192.0.2.50";
    private const string Server = "198.51.100.7";

    // t2: node 10 joined a DVA of node 11, so half the buckets moved 11 → 10 and have history [11].
    private static readonly TableVersion Joined = Next(First(11), 11, 10);

    // t1 all on 11; t2 half moved to 12 (history [11]); t3 node 10 joined (buckets from 12 have history [12, 11]).
    private static readonly TableVersion Chain1 = First(11);
    private static readonly TableVersion Chain2 = Next(Chain1, 11, 12);
    private static readonly TableVersion Chain3 = Next(Chain2, 11, 12, 10);

    private static byte[] Syn(ushort port) => TestFrames.Tcp(Client, port, Server, 80, TcpFlags.Syn);

    private static byte[] Ack(ushort port) => TestFrames.Tcp(Client, port, Server, 80, TcpFlags.Ack);

    private static ushort PortWithHistory(TableVersion t, ushort owner, params ushort[] history) =>
        PortWhere(t, b => t.OwnerOf(b) == owner && t.PredecessorsOf(b).SequenceEqual(history), Ack);

    [Fact]
    public void Dispatch_KnownFlow_KeptEvenWithHistory()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(Joined);
        var port = PortWithHistory(Joined, 10, 11);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(Syn(port), Dispatch(10, Joined))));

        var buffer = Datagram(Ack(port), Dispatch(10, Joined));
        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, _) = Read(buffer);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(1, rig.FlowCount);
        Assert.Equal(2, rig.Snapshot.PacketsProcessed);
    }

    [Fact]
    public void Dispatch_EmptyHistory_NewFlowCreatedAndSentAsEgress()
    {
        var table = First(10, 11);
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(table);
        var port = PortWhere(table, b => table.OwnerOf(b) == 10, p => TestFrames.Udp(Client, p, Server, 53));
        var buffer = Datagram(TestFrames.Udp(Client, port, Server, 53), Dispatch(10, table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        Assert.Equal(1, rig.FlowCount);
        Assert.Equal(1, rig.LastRole.Flows.LiveFlows(BucketOf(TestFrames.Udp(Client, port, Server, 53), table)));
        Assert.Equal(1, rig.Snapshot.FlowsCreated);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.DispatchReceived));
    }

    [Fact]
    public void Dispatch_EmptyHistoryTcpMidStream_CreatedAsEstablished()
    {
        var table = First(10);
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(table);

        Assert.Equal(Verdict.Send, rig.Process(Datagram(Ack(4000), Dispatch(10, table))));

        var flow = Assert.Single(rig.LastRole.CollectFlows(10));
        Assert.Equal("established", flow.State);
    }

    [Theory]
    [InlineData(TcpFlags.Fin | TcpFlags.Ack)]
    [InlineData(TcpFlags.Rst)]
    [InlineData(TcpFlags.Rst | TcpFlags.Ack)]
    public void Dispatch_EmptyHistoryTcpCloseOfUnknownFlow_ForwardedWithoutState(TcpFlags flags)
    {
        var table = First(10);
        using var rig = new DataPlaneRig(10);
        rig.Install(table);
        var buffer = Datagram(TestFrames.Tcp(Client, 4000, Server, 80, flags), Dispatch(10, table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        // The packet goes on (the rules accept it), but no flow is kept for a close this unit never saw the start of.
        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        Assert.Equal(0, rig.Role.Flows.Count);
        Assert.Empty(rig.Role.CollectFlows(10));
        Assert.Equal(0, rig.Role.Flows.LiveFlows(BucketOf(TestFrames.Tcp(Client, 4000, Server, 80, flags), table)));
    }

    [Fact]
    public void Dispatch_FinOfKnownFlow_FlowKeptClosing()
    {
        var table = First(10);
        using var rig = new DataPlaneRig(10);
        rig.Install(table);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(Syn(4000), Dispatch(10, table))));

        Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Tcp(Client, 4000, Server, 80, TcpFlags.Fin | TcpFlags.Ack), Dispatch(10, table))));

        Assert.Equal(1, rig.Role.Flows.Count);
    }

    [Fact]
    public void Dispatch_SynWithHistory_NewFlowCreatedHere()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(Joined);
        var port = PortWithHistory(Joined, 10, 11);
        var buffer = Datagram(Syn(port), Dispatch(10, Joined));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        var flow = Assert.Single(rig.LastRole.CollectFlows(10));
        Assert.Equal("synsent", flow.State);
        Assert.Equal($"{Client}:{port}", flow.Source);
        Assert.Equal($"{Server}:80", flow.Destination);
        Assert.Equal(10, flow.NodeId);
    }

    [Fact]
    public void Dispatch_MidStreamWithHistory_PuntedToFirstPredecessorWithFrameUntouched()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(Joined);
        var port = PortWithHistory(Joined, 10, 11);
        var frame = Ack(port);
        var buffer = Datagram(frame, Dispatch(10, Joined));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, nids, inner) = Read(buffer);
        Assert.Equal(TunnelType.Handoff, header.Type);
        Assert.Equal(Handoff.Punt, header.Handoff);
        Assert.Equal(11, header.DNode);
        Assert.Equal(10, header.HNode);
        Assert.Equal(OutsideDispatcher, header.SNode);
        Assert.Equal(254, header.Ttl);
        Assert.Equal(Hook.None, header.Hook);
        Assert.Equal((byte)Joined.Era, header.Era);
        Assert.Empty(nids);
        Assert.Equal(frame, inner);
        Assert.Equal(PacketAddress.FromEndPoint(EndpointOf(11)), buffer.Peer);
        Assert.Equal(0, rig.FlowCount);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.PuntSent));
    }

    [Fact]
    public void Dispatch_NotOwnerUnderItsTable_ClaimedToCurrentOwner()
    {
        var table = First(10, 11);
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(table);
        var port = PortWhere(table, b => table.OwnerOf(b) == 11, Ack);
        var buffer = Datagram(Ack(port), Dispatch(10, table));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        AssertHandOff(buffer, Handoff.Claim, from: 10, to: 11);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.ClaimSent));
    }

    [Fact]
    public void Punt_KnownFlow_KeptByPredecessor()
    {
        using var rig = new DataPlaneRig(12, engines: Engines);
        rig.Install(Chain2);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(Syn(port), Dispatch(12, Chain2))));
        rig.Install(Chain3);

        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Punt, 10, 12, Chain3));
        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.PuntReceived));
        Assert.Equal(2, rig.Snapshot.PacketsProcessed);
    }

    [Fact]
    public void Punt_NextPredecessorExists_PuntedOnWithTtlDecremented()
    {
        using var rig = new DataPlaneRig(12, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Punt, 10, 12, Chain3, ttl: 254));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(253, AssertHandOff(buffer, Handoff.Punt, from: 12, to: 11).Ttl);
    }

    [Fact]
    public void Punt_LastPredecessorWithoutFlow_ClaimedToOwner()
    {
        using var rig = new DataPlaneRig(11, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Punt, 12, 11, Chain3, ttl: 253));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(252, AssertHandOff(buffer, Handoff.Claim, from: 11, to: 10).Ttl);
        Assert.Equal(0, rig.FlowCount);
    }

    [Fact]
    public void Punt_NotInHistoryButOwnerNow_TakenAsClaim()
    {
        using var rig = new DataPlaneRig(11, engines: Engines);
        rig.Install(Chain3);
        var port = PortWhere(Chain3, b => Chain3.OwnerOf(b) == 11 && Chain3.PredecessorsOf(b).IsEmpty, Ack);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Punt, 12, 11, Chain3));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        Assert.Equal(1, rig.FlowCount);
    }

    [Fact]
    public void Claim_OwnerLoosePolicy_MidStreamAcceptedAsEstablished()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Claim, 11, 10, Chain3));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        Assert.Equal("established", Assert.Single(rig.LastRole.CollectFlows(10)).State);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.ClaimReceived));
    }

    [Fact]
    public void Claim_OwnerStrictPolicy_MidStreamDroppedAndSynAccepted()
    {
        using var rig = new DataPlaneRig(10, new DataPlaneOptions { FlowCapacity = 1024, MidStreamPolicy = MidStreamPolicy.Strict }, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(Ack(port), HandoffFields(Handoff.Claim, 11, 10, Chain3))));
        Assert.Equal(DropReason.MidStreamNoState, rig.LastRole.LastDrop);
        Assert.Equal(1, rig.Snapshot.Drop(DropReason.MidStreamNoState));
        Assert.Equal(0, rig.FlowCount);

        Assert.Equal(Verdict.Send, rig.Process(Datagram(Syn(port), HandoffFields(Handoff.Claim, 11, 10, Chain3))));
        Assert.Equal(1, rig.FlowCount);
    }

    [Fact]
    public void Claim_NotOwner_ForwardedAsClaimToCurrentOwner()
    {
        using var rig = new DataPlaneRig(12, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Claim, 11, 12, Chain3));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        AssertHandOff(buffer, Handoff.Claim, from: 12, to: 10);
    }

    [Fact]
    public void Steer_ToOwner_CreatesFlow()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Steer, 11, 10, Chain3));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(TunnelType.Egress, Read(buffer).Header.Type);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.SteerReceived));
    }

    [Fact]
    public void Era_PreviousTableEra_OneStepBehindDispatcherStillKept()
    {
        var t1 = First(10);
        var t2 = Next(t1, 10, 13);
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(t1, t2);
        var port = PortWhere(t2, b => t1.OwnerOf(b) == 10 && t2.OwnerOf(b) == 13, p => TestFrames.Udp(Client, p, Server, 53));
        var frame = TestFrames.Udp(Client, port, Server, 53);

        var behind = Datagram(frame, Dispatch(10, t1));
        Assert.Equal(Verdict.Send, rig.Process(behind));
        Assert.Equal(TunnelType.Egress, Read(behind).Header.Type);

        // The same flow stamped with the current era belongs to node 13 now.
        var current = Datagram(TestFrames.Udp(Client, port, Server, 53), Dispatch(10, t2));
        rig.LastRole.Flows.RemoveAt(rig.LastRole.Flows.Find(KeyOf(frame), HashOf(frame, t2)));
        Assert.Equal(Verdict.Send, rig.Process(current));
        AssertHandOff(current, Handoff.Claim, from: 10, to: 13);
    }

    [Fact]
    public void Era_NoTableYet_Held()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);

        Assert.Equal(Verdict.Hold, rig.Process(Datagram(Ack(5000), Dispatch(10, First(10)))));
    }

    [Fact]
    public void Era_OtherEraWithoutPrevious_Held()
    {
        var t1 = First(10);
        var t2 = Next(t1, 10, 13);
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(t2);

        Assert.Equal(Verdict.Hold, rig.Process(Datagram(Ack(5000), Dispatch(10, t1))));
    }

    [Fact]
    public void HandOff_TtlOne_DroppedTtlExceeded()
    {
        using var rig = new DataPlaneRig(12, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(Ack(port), HandoffFields(Handoff.Punt, 10, 12, Chain3, ttl: 1))));

        Assert.Equal(DropReason.TtlExceeded, rig.LastRole.LastDrop);
        Assert.Equal(1, rig.Snapshot.Drop(DropReason.TtlExceeded));
    }

    [Fact]
    public void HandOff_TraceWithEvenNids_NidAppendedAndHeaderGrowsOneWord()
    {
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(Joined);
        var port = PortWithHistory(Joined, 10, 11);
        var frame = Ack(port);
        var buffer = Datagram(frame, Dispatch(10, Joined, trace: true));
        var before = buffer.FrameLength;

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, nids, inner) = Read(buffer);
        Assert.Equal(Handoff.Punt, header.Handoff);
        Assert.True(header.Trr);
        Assert.Equal(new ushort[] { 10 }, nids);
        Assert.Equal(before + 4, buffer.FrameLength);
        Assert.Equal(frame, inner);
    }

    [Fact]
    public void HandOff_TraceWithOddNids_NidFillsPaddingSlot()
    {
        using var rig = new DataPlaneRig(12, engines: Engines);
        rig.Install(Chain3);
        var port = PortWithHistory(Chain3, 10, 12, 11);
        var buffer = Datagram(Ack(port), HandoffFields(Handoff.Punt, 10, 12, Chain3, trace: true), nids: [10]);
        var before = buffer.FrameLength;

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, nids, _) = Read(buffer);
        Assert.Equal(11, header.DNode);
        Assert.Equal(new ushort[] { 10, 12 }, nids);
        Assert.Equal(before, buffer.FrameLength);
    }

    [Fact]
    public void Egress_TraceSet_NidListCarriedWithThisNode()
    {
        var table = First(10);
        using var rig = new DataPlaneRig(10, engines: Engines);
        rig.Install(table);
        var buffer = Datagram(TestFrames.Udp(Client, 3000, Server, 53), Dispatch(10, table, trace: true));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, nids, _) = Read(buffer);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(new ushort[] { 10 }, nids);
    }
}

/// <summary>Keep or punt on data planes of two engines each: every datagram reaches the engine of its outer source port.</summary>
public sealed class KeepOrPuntOnTwoEnginesTests : KeepOrPuntTests
{
    protected override int Engines => 2;
}
