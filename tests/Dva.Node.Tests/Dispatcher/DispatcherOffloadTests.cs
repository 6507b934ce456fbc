using System.Buffers.Binary;
using Dva.Node.Agent;
using Dva.Shared.Packets;
using Dva.Shared.Wire;
using static Dva.Node.Tests.Dispatcher.DispatcherRig;

namespace Dva.Node.Tests.Dispatcher;

/// <summary>
/// EGRESS frames with an OFFLOAD word leaving on a frame source that cannot hand them to a kernel (the udp: wire): a
/// checksum left to the device is finished here, a super-frame (which nothing here segments) is a counted drop, and an
/// offload that does not fit its frame is refused. The afpacket:IF?gso=1 side is covered by the root and end-to-end tests.
/// </summary>
public class DispatcherOffloadTests
{
    private static readonly TunnelOffload ChecksumOnly = new(0, GsoType.None, NeedsChecksum: true);

    [Fact]
    public void Egress_ChecksumLeftToTheDevice_OnAUdpWire_FinishedHereByteExact()
    {
        using var rig = new DispatcherRig();
        var final = ServerFrame();
        var partial = (byte[])final.Clone();
        var info = Parse(partial);
        BinaryPrimitives.WriteUInt16BigEndian(partial.AsSpan(info.L4Offset + 16), Checksum.Fold(
            Checksum.PseudoHeaderV4(partial.AsSpan(info.SourceAddressOffset, 4), partial.AsSpan(info.DestinationAddressOffset, 4), info.Protocol, info.IpPacketLength - info.IpHeaderLength)));

        rig.SendFromDataPlane(2, Egress(partial, Handoff.None, tci: 0, from: 2, offload: ChecksumOnly));
        var sent = ReceiveOne(rig.Inside);

        var expected = (byte[])final.Clone();
        InsideMac.CopyTo(expected, 6);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(sent));
    }

    [Fact]
    public void Egress_SuperFrame_OnAUdpWire_CountedAsNeedingAGsoSource()
    {
        using var rig = new DispatcherRig();
        var frame = ServerFrame();

        rig.SendFromDataPlane(2, Egress(frame, Handoff.None, tci: 0, from: 2, offload: new TunnelOffload(536, GsoType.TcpV4, NeedsChecksum: true)));
        rig.SendFromDataPlane(2, Egress(frame, Handoff.None, tci: 0, from: 2, offload: new TunnelOffload(536, GsoType.TcpV6, NeedsChecksum: true)));
        rig.SendFromDataPlane(2, Egress(frame, Handoff.None, tci: 0, from: 2));
        _ = ReceiveOne(rig.Inside);

        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.SuperFrameNeedsGsoSource]);
        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.OffloadMismatch]);
        Assert.Equal(0, rig.Role.Counters.Tunnel[(int)TunnelCounter.SuperFrameTransmitted]);
    }

    /// <summary>
    /// A parking dispatcher given back headers whose payload it does not hold (never parked here, or let go): a counted
    /// drop, <c>ParkedPayloadGone</c>, and nothing on the wire; headers that are not exactly a TCP segment's are malformed.
    /// The payload joined for real is covered end to end (SuperFrameTests with parkPayloads, real TSO hosts).
    /// </summary>
    [Fact]
    public void Egress_ParkedTicketNotHeld_CountedAsParkedPayloadGoneNothingSent()
    {
        using var rig = new DispatcherRig(tunnelMtu: 65535, parkPayloads: true);
        var headers = ServerFrame();
        Assert.Equal(54, headers.Length);
        var superFrame = new TunnelOffload(1448, GsoType.TcpV4, NeedsChecksum: true);

        rig.SendFromDataPlane(2, Egress(headers, Handoff.None, tci: 0, from: 2, offload: superFrame, park: new TunnelPark(0x0107, 64000)));
        // Bytes after the headers: not what a data plane sends back for a parked payload.
        rig.SendFromDataPlane(2, Egress([.. headers, .. new byte[100]], Handoff.None, tci: 0, from: 2, offload: superFrame, park: new TunnelPark(0x0107, 64000)));
        rig.SendFromDataPlane(2, Egress(ServerFrame(), Handoff.None, tci: 0, from: 2));
        var sent = ReceiveOne(rig.Inside);

        Assert.Equal(ServerFrame().Length, sent.Length);
        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.ParkedPayloadGone]);
        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.MalformedFrame]);
        Assert.Equal(0, rig.Role.Counters.Tunnel[(int)TunnelCounter.PayloadJoined]);
    }

    private static byte[] ServerFrame()
    {
        var frame = ClientSegment(flowId: 9);
        ServerMac.CopyTo(frame, 0);
        return frame;
    }

    private static PacketInfo Parse(byte[] frame)
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out var info));
        return info;
    }
}
