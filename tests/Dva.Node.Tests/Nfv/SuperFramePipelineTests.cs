using System.Buffers.Binary;
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

namespace Dva.Node.Tests.Nfv;

/// <summary>
/// A GSO super-frame (DISPATCH with an OFFLOAD word) through a data plane: one TCP segment with a long payload to the
/// firewall, conntrack and load balancer, forwarded as EGRESS with the same OFFLOAD word; NAT keeps the checksum that is
/// left to the device a pseudo-header sum of the new addresses (ports are the device's to sum).
/// </summary>
public sealed class SuperFramePipelineTests : IDisposable
{
    private const string Client = LoadBalancerPipelineTests.Client;
    private const string Vip = LoadBalancerPipelineTests.Vip;
    private const int SegmentSize = 900;
    private static readonly TableVersion Table = First(10, 11);
    private static readonly TunnelOffload SuperFrame = new(SegmentSize, GsoType.TcpV4, NeedsChecksum: true);
    private readonly Dictionary<ushort, DataPlaneRig> _rigs = [];

    public SuperFramePipelineTests()
    {
        foreach (ushort node in (ushort[])[10, 11])
        {
            var rig = new DataPlaneRig(node, configure: s => s with
            {
                LoadBalancer = new LoadBalancerSettings(LoadBalancerPipelineTests.Vips(MemberAdminState.Enabled), new Dictionary<byte, IPAddress>()),
            });
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
    }

    [Fact]
    public void SuperFrameToVip_DnatAndSnat_OffloadCarriedAndPartialChecksumIsTheNewPseudoHeaderSum()
    {
        var syn = TestFrames.Tcp(Client, 40100, Vip, 80, TcpFlags.Syn);
        var node = Table.OwnerOf(BucketOf(syn, Table));
        Assert.Equal(Verdict.Send, _rigs[node].Process(Datagram(syn, Dispatch(node, Table))));
        var data = WithPartialChecksum(TestFrames.Tcp(Client, 40100, Vip, 80, TcpFlags.Ack | TcpFlags.Psh), payload: 2 * SegmentSize);
        var buffer = Datagram(data, Dispatch(node, Table) with { Offload = SuperFrame });

        Assert.Equal(Verdict.Send, _rigs[node].Process(buffer));

        var (header, _, inner) = Read(buffer);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(SuperFrame, header.Offload);
        Assert.Equal(data.Length, inner.Length);
        var info = TestFrames.Parse(inner);
        Assert.Equal(IPAddress.Parse(LoadBalancerPipelineTests.SnatAddress), info.Source.ToIPAddress());
        Assert.Equal(8080, info.DstPort);
        Assert.True(Checksum.VerifyIpv4Header(inner, info));
        Assert.Equal(PseudoHeaderSum(inner, info), BinaryPrimitives.ReadUInt16BigEndian(inner.AsSpan(info.L4Offset + 16)));
        Assert.Equal(data.AsSpan(^(2 * SegmentSize)..).ToArray(), inner.AsSpan(^(2 * SegmentSize)..).ToArray());

        // Finished as the egress device would, the segment's checksum is right.
        FinishLikeTheDevice(inner, info);
        Assert.True(Checksum.VerifyTransport(inner, info));
    }

    [Fact]
    public void SuperFrame_CountedOnceWithAllItsBytes()
    {
        var syn = TestFrames.Tcp(Client, 40101, Vip, 80, TcpFlags.Syn);
        var node = Table.OwnerOf(BucketOf(syn, Table));
        var rig = _rigs[node];
        Assert.Equal(Verdict.Send, rig.Process(Datagram(syn, Dispatch(node, Table))));
        var before = rig.Snapshot;
        var data = WithPartialChecksum(TestFrames.Tcp(Client, 40101, Vip, 80, TcpFlags.Ack), payload: 2 * SegmentSize);

        Assert.Equal(Verdict.Send, rig.Process(Datagram(data, Dispatch(node, Table) with { Offload = SuperFrame })));

        var after = rig.Snapshot;
        Assert.Equal(1, after.PacketsProcessed - before.PacketsProcessed);
        var flow = Assert.Single(rig.LastRole.CollectFlows(10), f => f.Source.EndsWith(":40101", StringComparison.Ordinal));
        Assert.Equal(2, flow.PacketsOriginal);
        Assert.Equal(40 + 40 + (2 * SegmentSize), flow.BytesOriginal);
    }

    [Fact]
    public void OffloadThatDoesNotFitTheFrame_DroppedAsOffloadMismatch()
    {
        // A TCP/IPv6 GSO type on an IPv4 segment: the egress kernel could not segment it.
        var syn = TestFrames.Tcp(Client, 40102, Vip, 80, TcpFlags.Syn);
        var node = Table.OwnerOf(BucketOf(syn, Table));
        var data = WithPartialChecksum(TestFrames.Tcp(Client, 40102, Vip, 80, TcpFlags.Ack), payload: 2 * SegmentSize);

        var verdict = _rigs[node].Process(Datagram(data, Dispatch(node, Table) with { Offload = SuperFrame with { GsoType = GsoType.TcpV6 } }));

        Assert.Equal(Verdict.Drop, verdict);
        Assert.Equal(DropReason.OffloadMismatch, _rigs[node].LastRole.LastDrop);
        Assert.Equal(1, _rigs[node].Snapshot.Drop(DropReason.OffloadMismatch));
    }

    [Fact]
    public void BadOffloadWord_DroppedAsWireBadOffload()
    {
        var data = TestFrames.Tcp(Client, 40103, Vip, 80, TcpFlags.Ack);
        var node = Table.OwnerOf(BucketOf(data, Table));
        var buffer = Datagram(data, Dispatch(node, Table) with { Offload = SuperFrame });
        buffer.Frame[14] = 0x00; // GSO TYPE 1 → 0 with GSO SIZE still set

        Assert.Equal(Verdict.Drop, _rigs[node].Process(buffer));
        Assert.Equal(DropReason.WireBadOffload, _rigs[node].LastRole.LastDrop);
    }

    [Fact]
    public void ParkedSuperFrame_HeadersOnly_SameEgressHeadersAsTheWholeFrameAndTheParkWordCarried()
    {
        // The inside dispatcher (2) received the frame and owns the egress interface: the payload is where it must leave.
        const string server = "198.51.100.20";
        var syn = TestFrames.Tcp(Client, 40104, server, 443, TcpFlags.Syn);
        var node = Table.OwnerOf(BucketOf(syn, Table));
        var rig = _rigs[node];
        var fromInside = Dispatch(node, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher };
        Assert.Equal(Verdict.Send, rig.Process(Datagram(syn, fromInside)));
        var whole = WithPartialChecksum(TestFrames.Tcp(Client, 40104, server, 443, TcpFlags.Ack | TcpFlags.Psh), payload: 2 * SegmentSize);
        var park = new TunnelPark(0x0203, 2 * SegmentSize);
        var before = rig.Snapshot;

        var parked = Datagram(HeadersOnly(whole, 2 * SegmentSize), fromInside with { Offload = SuperFrame, Park = park });
        Assert.Equal(Verdict.Send, rig.Process(parked));
        var wholeBuffer = Datagram(whole, fromInside with { Offload = SuperFrame });
        Assert.Equal(Verdict.Send, rig.Process(wholeBuffer));

        var (header, _, inner) = Read(parked);
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(InsideDispatcher, header.DNode);
        Assert.Equal(park, header.Park);
        Assert.Equal(SuperFrame, header.Offload);
        var expected = Read(wholeBuffer).Inner;
        Assert.Equal(expected.Length - (2 * SegmentSize), inner.Length);

        // Joined as the dispatcher joins it (payload behind, IP length whole again), it is the whole frame's EGRESS.
        var joined = inner.Concat(whole[^(2 * SegmentSize)..]).ToArray();
        var info = TestFrames.Parse(inner);
        FrameOffload.AdjustIpLength(joined, info, 2 * SegmentSize);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(joined));

        // The flow counts the parked bytes with the headers, as for the whole frame.
        var flow = Assert.Single(rig.LastRole.CollectFlows(10), f => f.Source.EndsWith(":40104", StringComparison.Ordinal));
        Assert.Equal(3, flow.PacketsOriginal);
        Assert.Equal(40 + (2 * whole.Length) - (2 * 14), flow.BytesOriginal);
        Assert.Equal(0, rig.Snapshot.TotalDrops - before.TotalDrops);
    }

    [Fact]
    public void ParkedSuperFrame_LeavingByAnotherDispatcher_DroppedAsParkedPayloadElsewhere()
    {
        // Received by the outside dispatcher (1), to a VIP whose members are inside (dispatcher 2): the payload is at 1.
        var syn = TestFrames.Tcp(Client, 40105, Vip, 80, TcpFlags.Syn);
        var node = Table.OwnerOf(BucketOf(syn, Table));
        var rig = _rigs[node];
        Assert.Equal(Verdict.Send, rig.Process(Datagram(syn, Dispatch(node, Table))));
        var whole = WithPartialChecksum(TestFrames.Tcp(Client, 40105, Vip, 80, TcpFlags.Ack), payload: 2 * SegmentSize);

        var verdict = rig.Process(Datagram(HeadersOnly(whole, 2 * SegmentSize), Dispatch(node, Table) with
        {
            Offload = SuperFrame,
            Park = new TunnelPark(1, 2 * SegmentSize),
        }));

        Assert.Equal(Verdict.Drop, verdict);
        Assert.Equal(DropReason.ParkedPayloadElsewhere, rig.LastRole.LastDrop);
        Assert.Equal(1, rig.Snapshot.Drop(DropReason.ParkedPayloadElsewhere));
    }

    [Fact]
    public void ParkWordOnAUdpFrame_DroppedAsWireBadPark()
    {
        var data = TestFrames.Tcp(Client, 40106, Vip, 80, TcpFlags.Ack);
        var node = Table.OwnerOf(BucketOf(data, Table));
        var buffer = Datagram(data, Dispatch(node, Table) with { Offload = SuperFrame, Park = new TunnelPark(1, 900) });
        buffer.Frame[14] = 0x38; // GSO TYPE 1 → 3 (UDP): a UDP super-frame is never parked

        Assert.Equal(Verdict.Drop, _rigs[node].Process(buffer));
        Assert.Equal(DropReason.WireBadPark, _rigs[node].LastRole.LastDrop);
    }

    /// <summary>What a parking dispatcher sends of <paramref name="frame"/>: its headers, the IP length cut to them.</summary>
    private static byte[] HeadersOnly(byte[] frame, int payload)
    {
        var head = frame[..^payload];
        FrameOffload.AdjustIpLength(head, TestFrames.Parse(frame), -payload);
        return head;
    }

    /// <summary>Appends a payload, fixes the IPv4 total length and header checksum, and leaves the TCP field holding the pseudo-header sum.</summary>
    private static byte[] WithPartialChecksum(byte[] frame, int payload)
    {
        var grown = new byte[frame.Length + payload];
        frame.CopyTo(grown, 0);
        for (var i = frame.Length; i < grown.Length; i++)
        {
            grown[i] = (byte)(i * 13);
        }

        BinaryPrimitives.WriteUInt16BigEndian(grown.AsSpan(16), (ushort)(grown.Length - 14));
        Checksum.WriteIpv4Header(grown.AsSpan(14, 20));
        var info = TestFrames.Parse(grown);
        BinaryPrimitives.WriteUInt16BigEndian(grown.AsSpan(info.L4Offset + 16), PseudoHeaderSum(grown, info));
        return grown;
    }

    private static ushort PseudoHeaderSum(byte[] frame, in PacketInfo info) =>
        Checksum.Fold(Checksum.PseudoHeaderV4(frame.AsSpan(info.SourceAddressOffset, 4), frame.AsSpan(info.DestinationAddressOffset, 4),
            PacketConstants.ProtocolTcp, info.IpPacketLength - info.IpHeaderLength));

    private static void FinishLikeTheDevice(byte[] frame, in PacketInfo info)
    {
        var segment = frame.AsSpan(info.L4Offset, info.IpPacketLength - info.IpHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(info.L4Offset + 16), Checksum.Compute(segment));
    }
}
