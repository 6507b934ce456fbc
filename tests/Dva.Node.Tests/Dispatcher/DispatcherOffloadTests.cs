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
