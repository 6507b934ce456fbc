using Dva.Node.Agent;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

public class ValidationTests
{
    private static readonly TableVersion Table = First(10, 11);
    private static readonly byte[] Frame = TestFrames.Udp("192.0.2.50", 4000, "198.51.100.7", 53);

    private static DataPlaneRig Rig()
    {
        var rig = new DataPlaneRig(10);
        rig.Install(Table);
        return rig;
    }

    private static void AssertDropped(DataPlaneRig rig, PacketBuffer buffer, DropReason reason)
    {
        Assert.Equal(Verdict.Drop, rig.Process(buffer));
        Assert.Equal(reason, rig.Role.LastDrop);
        Assert.Equal(1, rig.Snapshot.Drop(reason));
        Assert.Equal(0, rig.Role.Flows.Count);
    }

    [Fact]
    public void Process_WrongDestinationNode_Dropped()
    {
        using var rig = Rig();
        AssertDropped(rig, Datagram(Frame, Dispatch(11, Table)), DropReason.WrongDestinationNode);
    }

    [Fact]
    public void Process_UnknownSenderNode_Dropped()
    {
        using var rig = Rig();
        AssertDropped(rig, Datagram(Frame, Dispatch(10, Table) with { HNode = 99 }), DropReason.UnknownPeer);
    }

    [Fact]
    public void Process_KnownSenderFromAnotherAddress_Dropped()
    {
        using var rig = Rig();
        AssertDropped(rig, Datagram(Frame, Dispatch(10, Table), from: EndpointOf(11)), DropReason.WrongSourceAddress);
    }

    [Fact]
    public void Process_SameAddressOtherPort_Dropped()
    {
        using var rig = Rig();
        AssertDropped(rig, Datagram(Frame, Dispatch(10, Table), from: new(EndpointOf(1).Address, 40000)), DropReason.WrongSourceAddress);
    }

    [Fact]
    public void Process_BadVersion_DroppedWithWireReason()
    {
        using var rig = Rig();
        var buffer = Datagram(Frame, Dispatch(10, Table));
        buffer.Frame[0] = (byte)((2 << 4) | (buffer.Frame[0] & 0xF));
        AssertDropped(rig, buffer, DropReason.WireBadVersion);
    }

    [Fact]
    public void Process_Truncated_DroppedWithWireReason()
    {
        using var rig = Rig();
        var buffer = Datagram(Frame, Dispatch(10, Table));
        Assert.True(buffer.SetFrameLength(7));
        AssertDropped(rig, buffer, DropReason.WireTruncated);
    }

    [Fact]
    public void Process_ShortcutWordOnADispatch_DroppedWithWireReason()
    {
        // X belongs on a final EGRESS only: written on one, then re-typed DISPATCH byte by byte (the rewriter refuses to).
        using var rig = Rig();
        var buffer = Datagram(Frame, Dispatch(10, Table) with { Type = TunnelType.Egress, Shortcut = new TunnelShortcut(Outside, 0) });
        buffer.Frame[TunnelLayout.L1Length] = 0x00; // TYPE DISPATCH, HANDOFF 0
        AssertDropped(rig, buffer, DropReason.WireBadShortcut);
    }

    [Fact]
    public void Process_EgressAtDataPlane_DroppedUnexpectedType()
    {
        using var rig = Rig();
        var fields = Dispatch(10, Table) with { Type = TunnelType.Egress };
        AssertDropped(rig, Datagram(Frame, fields), DropReason.UnexpectedType);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.EgressReceived));
    }

    [Fact]
    public void Process_ControlProbe_AnsweredToSenderWithSameSequenceAndTimestamp()
    {
        using var rig = Rig();
        var buffer = PacketBuffer.CreateUnpooled();
        var fields = new TunnelFields { Type = TunnelType.Control, DNode = 10, HNode = 11, Ttl = 255 };
        Assert.Equal(WireError.None, ControlProbe.TryWrite(buffer.Writable, fields, new ControlProbe(ControlKind.Probe, 42, 123456789), out var length));
        Assert.True(buffer.SetFrameLength(length));
        buffer.Peer = PacketAddress.FromEndPoint(EndpointOf(11));

        Assert.Equal(Verdict.Send, rig.Process(buffer));

        Assert.Equal(WireError.None, ControlProbe.TryRead(buffer.Frame, out var header, out var reply));
        Assert.Equal(11, header.DNode);
        Assert.Equal(10, header.HNode);
        Assert.Equal(new ControlProbe(ControlKind.Reply, 42, 123456789), reply);
        Assert.Equal(PacketAddress.FromEndPoint(EndpointOf(11)), buffer.Peer);
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.ControlSent));
    }

    [Theory]
    [InlineData(WireError.Truncated, nameof(DropReason.WireTruncated))]
    [InlineData(WireError.EncryptedWithoutSecure, nameof(DropReason.WireReservedBit))]
    [InlineData(WireError.HdrSizeMismatch, nameof(DropReason.WireHeaderSize))]
    [InlineData(WireError.UnknownHandoff, nameof(DropReason.WireUnknownHandoff))]
    [InlineData(WireError.NodeIdOutOfRange, nameof(DropReason.WireBadNodeId))]
    [InlineData(WireError.InnerFrameTooShort, nameof(DropReason.WireInnerTooShort))]
    [InlineData(WireError.BadShortcut, nameof(DropReason.WireBadShortcut))]
    [InlineData(WireError.ControlLengthMismatch, nameof(DropReason.WireOther))]
    public void ToDropReason_EachWireError_NamedReason(WireError error, string expected) =>
        Assert.Equal(expected, WireDrops.ToDropReason(error).ToString());

    [Fact]
    public void Process_UnknownHnodeWithTcpSyn_NoFlowCreated()
    {
        using var rig = Rig();
        var syn = TestFrames.Tcp("192.0.2.50", 4000, "198.51.100.7", 80, TcpFlags.Syn);
        AssertDropped(rig, Datagram(syn, Dispatch(10, Table) with { HNode = 4000 }), DropReason.UnknownPeer);
    }
}
