using System.Buffers.Binary;
using Dva.Node.Agent;
using Dva.Node.Dispatcher;
using Dva.Node.Tests.Io;
using Dva.Shared.Packets;
using Dva.Shared.Wire;
using static Dva.Node.Tests.Dispatcher.DispatcherRig;

namespace Dva.Node.Tests.Dispatcher;

/// <summary>
/// EGRESS packets longer than the egress interface's MTU (here the inside wire's <c>MTU=576</c>): IPv4 without DF
/// leaves as fragments a host reassembles, anything else is a counted drop; and the fragmenter byte by byte.
/// </summary>
public class DispatcherMtuTests
{
    private const int InsideMtu = 576;

    [Fact]
    public void Egress_Ipv4WithoutDfOverTheMtu_LeavesAsFragmentsThatReassembleToThePacket()
    {
        using var rig = new DispatcherRig(insideMtu: InsideMtu);
        var frame = ServerUdp(payload: 1000, dontFragment: false);

        rig.SendFromDataPlane(2, Egress(frame, Handoff.None, tci: 0, from: 2));
        var fragments = PortHelpers.ReceiveMatching(rig.Inside, 2).Select(r => r.Frame).ToArray();

        // 1 008 bytes of UDP in (576 − 20) & ~7 = 552-byte pieces: 552 + 456.
        Assert.Equal([14 + 20 + 552, 14 + 20 + 456], fragments.Select(f => f.Length));
        var data = new List<byte>();
        for (var i = 0; i < 2; i++)
        {
            var f = fragments[i];
            Assert.Equal(ServerMac, f[..6]);
            Assert.Equal(InsideMac, f[6..12]);
            Assert.Equal(frame[12..14], f[12..14]);
            var ip = f.AsSpan(14, 20);
            Assert.Equal(frame.AsSpan(14 + 4, 2).ToArray(), ip[4..6].ToArray()); // the identification stays
            Assert.Equal(i == 0 ? 0x2000 : 69, BinaryPrimitives.ReadUInt16BigEndian(ip[6..])); // MF, then offset 552 / 8
            Assert.Equal(f.Length - 14, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            Assert.True(Checksum.VerifyIpv4Header(ip));
            Assert.Equal(frame.AsSpan(14 + 8, 2).ToArray(), ip[8..10].ToArray()); // TTL, protocol
            Assert.Equal(frame.AsSpan(14 + 12, 8).ToArray(), ip[12..20].ToArray()); // addresses
            data.AddRange(f[34..]);
        }

        Assert.Equal(frame[34..], data.ToArray());
        Assert.Equal(1, rig.Role.Counters.Tunnel[(int)TunnelCounter.EgressFragmented]);
    }

    [Fact]
    public void Egress_Ipv4WithDfOverTheMtu_DroppedAsTooBig_APacketThatFitsStillLeaves()
    {
        using var rig = new DispatcherRig(insideMtu: InsideMtu);
        var small = ServerUdp(payload: 100, dontFragment: true);

        rig.SendFromDataPlane(2, Egress(ServerUdp(payload: 1000, dontFragment: true), Handoff.None, tci: 0, from: 2));
        rig.SendFromDataPlane(2, Egress(small, Handoff.None, tci: 0, from: 2));
        var sent = ReceiveOne(rig.Inside);

        Assert.Equal(small.Length, sent.Length);
        Assert.Equal(small[12..], sent[12..]);
        Assert.Equal(1, rig.Role.Counters.Drops[(int)DropReason.EgressTooBig]);
        Assert.Equal(0, rig.Role.Counters.Tunnel[(int)TunnelCounter.EgressFragmented]);
    }

    // The sender learns the MTU as from a router on the inside link: an ICMP fragmentation-needed from the inside
    // interface's shared address goes into the DVA as DISPATCH from that interface, to the owner of the packet's flow
    // (its quote hashes there), on the packet's VLAN.
    [Fact]
    public void Egress_Ipv4WithDfOverTheMtu_IcmpFragmentationNeededDispatchedToTheFlowsOwner()
    {
        using var rig = new DispatcherRig(insideMtu: InsideMtu);
        var big = ServerUdp(payload: 1000, dontFragment: true);

        rig.SendFromDataPlane(2, Egress(big, Handoff.None, tci: 0x0064, from: 2));
        var expectedOwner = rig.OwnerOf(big);
        var datagram = ReceiveOne(rig.DataPlanes[expectedOwner]);

        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(TunnelType.Dispatch, header.Type);
        Assert.Equal(expectedOwner, header.DNode);
        Assert.Equal(2, header.IfId);
        Assert.Equal(0x0064, header.VlanTci);
        var icmp = datagram.AsSpan(header.InnerOffset, header.InnerLength).ToArray();
        Assert.Equal(InsideMac, icmp[..6]);
        Assert.Equal(ServerMac, icmp[6..12]);
        Assert.Equal(ParseError.None, PacketParser.TryParse(icmp, out var info));
        Assert.Equal("198.51.100.1", info.Source.ToString());
        Assert.Equal("192.0.2.10", info.Destination.ToString());
        var message = icmp.AsSpan(info.L4Offset);
        Assert.Equal([3, 4], message[..2].ToArray()); // destination unreachable, fragmentation needed
        Assert.Equal(InsideMtu, BinaryPrimitives.ReadUInt16BigEndian(message[6..]));
        Assert.Equal(big.AsSpan(14, 28).ToArray(), message.Slice(8, 28).ToArray()); // the packet's header and 8 bytes
        Assert.Equal(1, rig.Role.Counters.Tunnel[(int)TunnelCounter.EgressTooBigReported]);
    }

    [Fact]
    public void Egress_TaggedPacketOverTheMtu_EachFragmentKeepsTheTag()
    {
        using var rig = new DispatcherRig(insideMtu: InsideMtu);

        rig.SendFromDataPlane(2, Egress(ServerUdp(payload: 1000, dontFragment: false), Handoff.None, tci: 0x0064, from: 2));
        var fragments = PortHelpers.ReceiveMatching(rig.Inside, 2).Select(r => r.Frame).ToArray();

        Assert.All(fragments, f => Assert.Equal(new byte[] { 0x81, 0x00, 0x00, 0x64, 0x08, 0x00 }, f[12..18]));
        Assert.Equal([18 + 20 + 552, 18 + 20 + 456], fragments.Select(f => f.Length));
    }

    // A fragment cut further: offsets continue the packet's own, and the last piece keeps its MF.
    [Fact]
    public void Fragmenter_AFragmentWithMf_CutFurther_OffsetsContinueAndEveryPieceHasMf()
    {
        var frame = ServerUdp(payload: 292, dontFragment: false); // 300 bytes of IP data
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 6), 0x2000 | 100); // MF, offset 800 bytes
        Checksum.WriteIpv4Header(frame.AsSpan(14, 20));
        var chunk = Ipv4Fragmenter.Chunk(180); // 160
        var destination = new byte[256];

        Assert.Equal(FragmentRefusal.None, Ipv4Fragmenter.Check(frame, 14));
        Assert.Equal(2, Ipv4Fragmenter.Count(frame, 14, chunk));
        Assert.Equal(14 + 20 + 160, Ipv4Fragmenter.Write(frame, 14, chunk, 0, destination));
        Assert.Equal(0x2000 | 100, BinaryPrimitives.ReadUInt16BigEndian(destination.AsSpan(14 + 6)));
        Assert.Equal(14 + 20 + 140, Ipv4Fragmenter.Write(frame, 14, chunk, 1, destination));
        Assert.Equal(0x2000 | 120, BinaryPrimitives.ReadUInt16BigEndian(destination.AsSpan(14 + 6)));
        Assert.Equal(frame.AsSpan(14 + 20 + 160, 140).ToArray(), destination.AsSpan(34, 140).ToArray());
        Assert.True(Checksum.VerifyIpv4Header(destination.AsSpan(14, 20)));
    }

    [Fact]
    public void Fragmenter_DfOptionsIpv6AndAShortFrame_Refused()
    {
        var withOptions = ServerUdp(payload: 100, dontFragment: false);
        withOptions[14] = 0x46;
        var ipv6 = new byte[14 + 40];
        ipv6[14] = 0x60;

        Assert.Equal(FragmentRefusal.DontFragment, Ipv4Fragmenter.Check(ServerUdp(payload: 100, dontFragment: true), 14));
        Assert.Equal(FragmentRefusal.Options, Ipv4Fragmenter.Check(withOptions, 14));
        Assert.Equal(FragmentRefusal.DontFragment, Ipv4Fragmenter.Check(ipv6, 14));
        Assert.Equal(FragmentRefusal.Malformed, Ipv4Fragmenter.Check(ServerUdp(payload: 100, dontFragment: false).AsSpan(0, 40), 14));
    }

    // UDP 192.0.2.10:4000 → 198.51.100.10:5000 to the server's MAC, identification 0x4242, TTL 63.
    private static byte[] ServerUdp(int payload, bool dontFragment)
    {
        var frame = new byte[14 + 20 + 8 + payload];
        ServerMac.CopyTo(frame, 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), PacketConstants.EtherTypeIpv4);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x4242);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], dontFragment ? (ushort)0x4000 : (ushort)0);
        ip[8] = 63;
        ip[9] = PacketConstants.ProtocolUdp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xC000020A);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC633640A);
        Checksum.WriteIpv4Header(ip[..20]);
        var udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 4000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 5000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload));
        for (var i = 0; i < payload; i++)
        {
            udp[8 + i] = (byte)i;
        }

        return frame;
    }
}
