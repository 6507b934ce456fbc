using System.Net;
using Dva.Node.Io;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Io;

public class FlowPortSenderTests
{
    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);
    private static readonly IPEndPoint AnyIpv6Loopback = new(IPAddress.IPv6Loopback, 0);

    /// <summary>Over IPv4 and over IPv6, where the datagrams carry a UDP checksum of 0 that the peer's tunnel socket accepts.</summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Send_TwoFlows_EachLeavesFromThePortTheFormulaGives(string loopback)
    {
        var local = new IPEndPoint(IPAddress.Parse(loopback), 0);
        using var tunnel = UdpTunnelSocket.Open(local);
        using var peer = UdpTunnelSocket.Open(local);
        Assert.True(tunnel.EnableFlowSourcePorts(0, out var why), why);
        const ulong seed = 0x1234;
        var first = FlowHasher.Hash(Key(20001), seed);
        var second = FlowHasher.Hash(Key(20002), seed);
        var buffers = new[] { Datagram(1, first, peer.LocalEndPoint), Datagram(2, second, peer.LocalEndPoint) };

        Assert.Equal(2, tunnel.Send(buffers));
        var received = PortHelpers.ReceiveMatching(peer, 2).OrderBy(r => r.Frame[0]).ToArray();

        Assert.Equal(49152 + (int)(first >> 50), received[0].Peer.Port);
        Assert.Equal(49152 + (int)(second >> 50), received[1].Peer.Port);
        Assert.NotEqual(received[0].Peer.Port, received[1].Peer.Port);
        Assert.Equal(PortHelpers.Pattern(1, 60), received[0].Frame);
        Assert.Equal(PortHelpers.Pattern(2, 60), received[1].Frame);
        Assert.True(received[0].Peer.IsFromTunnelPeer(PacketAddress.FromEndPoint(tunnel.LocalEndPoint)));
        Assert.Equal(PacketAddress.FromEndPoint(peer.LocalEndPoint), buffers[0].Peer);
    }

    [Fact]
    public void Send_BufferWithoutSourcePort_LeavesFromTheBoundPort()
    {
        using var tunnel = UdpTunnelSocket.Open(AnyLoopback);
        using var peer = UdpTunnelSocket.Open(AnyLoopback);
        Assert.True(tunnel.EnableFlowSourcePorts(0, out var why), why);
        var probe = PortHelpers.Frame(PortHelpers.Pattern(3, 40), peer.LocalEndPoint);

        Assert.Equal(2, tunnel.Send([probe, Datagram(4, ulong.MaxValue, peer.LocalEndPoint)]));
        var received = PortHelpers.ReceiveMatching(peer, 2).OrderBy(r => r.Frame.Length).ToArray();

        Assert.Equal(tunnel.LocalEndPoint.Port, received[0].Peer.Port);
        Assert.Equal(65535, received[1].Peer.Port);
        Assert.Equal(PortHelpers.Pattern(3, 40), received[0].Frame);
    }

    [Fact]
    public void Send_AfterwardsTheBufferHoldsTheTunnelDatagramAgain()
    {
        using var tunnel = UdpTunnelSocket.Open(AnyLoopback);
        using var peer = UdpTunnelSocket.Open(AnyLoopback);
        Assert.True(tunnel.EnableFlowSourcePorts(0, out var why), why);
        var buffer = Datagram(5, 0, peer.LocalEndPoint);

        Assert.Equal(1, tunnel.Send([buffer]));

        Assert.Equal(PortHelpers.Pattern(5, 60), buffer.Frame.ToArray());
        Assert.Equal(49152, PortHelpers.ReceiveMatching(peer, 1)[0].Peer.Port);
    }

    [Fact]
    public void WriteHeaders_Ipv4Peer_WritesOuterIpv4AndUdpByteByByte()
    {
        var packet = OuterPacket();

        byte[] expected =
        [
            0x45, 0x00, 0x00, 20 + 8 + 60, // version 4, IHL 5, TOS, total length 88
            0x00, 0x00, 0x40, 0x00, // identification (kernel), DF
            64, 17, 0x00, 0x00, // TTL, UDP, header checksum (kernel)
            127, 0, 0, 3, // source: the tunnel's bound address
            192, 0, 2, 7, // destination: the peer
            0xF0, 0x00, 0x17, 0xCA, // source port 49152 + (hash >> 50) = 61440, destination port 6090
            0x00, 8 + 60, 0x00, 0x00, // UDP length 68, checksum none
        ];
        Assert.Equal(expected, packet[..FlowPortSender.HeaderLength]);
        Assert.Equal(PortHelpers.Pattern(6, 60), packet[FlowPortSender.HeaderLength..]);
    }

    [Fact]
    public void WriteFragment_OuterPacketInThree_HeadersAndPayloadByteByByte()
    {
        var packet = OuterPacket();
        var fragments = new List<byte[]>();
        var destination = new byte[64];

        // 68 payload bytes (UDP header + 60) in chunks of 32: offsets 0, 32 and 64.
        for (var offset = 0; offset < packet.Length - 20; offset += 32)
        {
            fragments.Add(destination[..FlowPortSender.WriteFragment(packet, offset, 32, 0xBEEF, destination)]);
        }

        byte[][] headers =
        [
            [0x45, 0x00, 0x00, 52, 0xBE, 0xEF, 0x20, 0x00], // total length 52, identification, MF, offset 0, DF clear
            [0x45, 0x00, 0x00, 52, 0xBE, 0xEF, 0x20, 0x04], // MF, offset 32 / 8
            [0x45, 0x00, 0x00, 24, 0xBE, 0xEF, 0x00, 0x08], // the last: no MF, offset 64 / 8
        ];
        Assert.Equal(headers, fragments.Select(f => f[..8]));
        Assert.All(fragments, f => Assert.Equal(packet[8..20], f[8..20])); // TTL, protocol, checksum 0, addresses
        Assert.Equal(packet[20..], fragments.SelectMany(f => f[20..]));
    }

    /// <summary>
    /// In a namespace whose loopback has a 1 500-byte MTU, a raw socket cannot send a 4 000-byte packet with its own
    /// header (EMSGSIZE): the flow-port sender fragments it (IPv4 fragments, or IPv6 ones with a Fragment header), and
    /// the peer's socket receives the datagram whole, from its flow's port, between the small datagrams sent before and
    /// after it. It does so when the tunnel MTU says 1 500, and when the tunnel MTU is 65 535 (super-frames) but the
    /// route to the peer has 1 500.
    /// </summary>
    [Theory]
    [Trait("Requires", "root")]
    [InlineData(1500, "127.0.0.1")]
    [InlineData(65535, "127.0.0.1")]
    [InlineData(1500, "::1")]
    [InlineData(65535, "::1")]
    public void Send_DatagramLongerThanTheTunnelOrRouteMtu_LeavesAsFragmentsAndArrivesWholeInItsPlace(int tunnelMtu, string loopback)
    {
        using var ns = new TestNetworkNamespace();
        var v6 = loopback.Contains(':', StringComparison.Ordinal);
        if (v6)
        {
            ns.Exec("sysctl -qw net.ipv6.conf.lo.disable_ipv6=0");
        }

        ns.Exec("ip link set lo mtu 1500");
        var local = new IPEndPoint(IPAddress.Parse(loopback), 0);
        using var tunnel = ns.Enter(() => UdpTunnelSocket.Open(local));
        using var peer = ns.Enter(() => UdpTunnelSocket.Open(local));
        string? why = null;
        Assert.True(ns.Enter(() => tunnel.EnableFlowSourcePorts(0, out why, tunnelMtu)), why);
        var big = PacketBuffer.CreateUnpooled(frameSize: 8192);
        Assert.True(big.TrySetFrame(PortHelpers.Pattern(7, 4000)));
        big.Peer = PacketAddress.FromEndPoint(peer.LocalEndPoint);
        big.SourcePort = TunnelLayout.UdpSourcePort(0x8000_0000_0000_0000UL);

        Assert.Equal(3, tunnel.Send([Datagram(1, 1, peer.LocalEndPoint), big, Datagram(2, 2, peer.LocalEndPoint)]));
        var received = PortHelpers.ReceiveMatching(peer, 3, frameSize: 8192);

        Assert.Equal([PortHelpers.Pattern(1, 60), PortHelpers.Pattern(7, 4000), PortHelpers.Pattern(2, 60)], received.Select(r => r.Frame));
        Assert.Equal(49152 + 8192, received[1].Peer.Port);
        if (v6)
        {
            var snmp6 = ns.Exec("cat /proc/net/snmp6");
            Assert.Matches(@"Ip6ReasmReqds\s+3\b", snmp6);
            Assert.Matches(@"Ip6ReasmOKs\s+1\b", snmp6);
        }
        else
        {
            var reassembled = ns.IpCounters();
            Assert.Equal((3L, 1L), (reassembled["ReasmReqds"], reassembled["ReasmOKs"]));
        }
    }

    [Theory]
    [InlineData("::")]
    [InlineData("::ffff:127.0.0.1")]
    public void TryOpen_Ipv6TunnelOnNoOneAddress_RefusedWithReason(string address)
    {
        Assert.False(FlowPortSender.TryOpen(new IPEndPoint(IPAddress.Parse(address), 6090), 0, out var sender, out var why));

        Assert.Null(sender);
        Assert.Contains("one IPv6 address", why, StringComparison.Ordinal);
    }

    /// <summary>
    /// Why every node's IPv6 tunnel socket sets UDP_NO_CHECK6_RX: a plain IPv6 UDP socket drops a datagram whose
    /// checksum is 0, which is what the flow-port sender sends.
    /// </summary>
    [Fact]
    public void Send_Ipv6ToASocketThatRefusesZeroChecksums_Dropped()
    {
        using var tunnel = UdpTunnelSocket.Open(AnyIpv6Loopback);
        using var plain = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        plain.Bind(AnyIpv6Loopback);
        plain.ReceiveTimeout = 300;
        Assert.True(tunnel.EnableFlowSourcePorts(0, out var why), why);
        var to = (IPEndPoint)plain.LocalEndPoint!;

        Assert.Equal(2, tunnel.Send([Datagram(1, 1, to), PortHelpers.Frame(PortHelpers.Pattern(3, 40), to)]));

        // Only the probe from the bound port, checksummed by the kernel, arrives.
        var data = new byte[256];
        Assert.Equal(40, plain.Receive(data));
        Assert.Equal(PortHelpers.Pattern(3, 40), data[..40]);
        Assert.Throws<System.Net.Sockets.SocketException>(() => plain.Receive(data));
    }

    [Fact]
    public void WriteHeaders_Ipv6Peer_WritesOuterIpv6AndUdpByteByByte()
    {
        var packet = Ipv6OuterPacket(out var sender);
        using var _ = sender;

        byte[] expected =
        [
            0x60, 0x00, 0xF0, 0x00, // version 6, traffic class 0, flow label = source port 61440
            0x00, 8 + 60, 17, 64, // payload length 68, next header UDP, hop limit 64
            0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, // source: the tunnel's bound address
            0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, // destination: the peer
            0xF0, 0x00, 0x17, 0xCA, // source port 49152 + (hash >> 50) = 61440, destination port 6090
            0x00, 8 + 60, 0x00, 0x00, // UDP length 68, checksum 0 (RFC 6936)
        ];
        Assert.Equal(FlowPortSender.Ipv6HeaderLengthWithUdp, sender.OuterHeaderLength);
        Assert.Equal(expected, packet[..FlowPortSender.Ipv6HeaderLengthWithUdp]);
        Assert.Equal(PortHelpers.Pattern(6, 60), packet[FlowPortSender.Ipv6HeaderLengthWithUdp..]);

        // An IPv4 peer is not this sender's: refused, nothing written.
        var v4 = Datagram(6, 1, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 6090));
        Assert.False(sender.WriteHeaders(v4));
        Assert.Equal(PortHelpers.Pattern(6, 60), v4.Frame.ToArray());
    }

    [Fact]
    public void WriteFragment6_OuterPacketInThree_HeadersAndPayloadByteByByte()
    {
        var packet = Ipv6OuterPacket(out var sender);
        sender.Dispose();
        var fragments = new List<byte[]>();
        var destination = new byte[128];

        // 68 bytes after the header (UDP header + 60) in chunks of 32: offsets 0, 32 and 64.
        for (var offset = 0; offset < packet.Length - 40; offset += 32)
        {
            fragments.Add(destination[..FlowPortSender.WriteFragment6(packet, offset, 32, 0xDEADBEEF, destination)]);
        }

        Assert.Equal([40 + 8 + 32, 40 + 8 + 32, 40 + 8 + 4], fragments.Select(f => f.Length));
        byte[][] lengthAndNext = [[0x00, 40, 44, 64], [0x00, 40, 44, 64], [0x00, 12, 44, 64]]; // payload length, Fragment, hop limit
        Assert.Equal(lengthAndNext, fragments.Select(f => f[4..8]));
        Assert.All(fragments, f => Assert.Equal(packet[..4], f[..4])); // version, flow label
        Assert.All(fragments, f => Assert.Equal(packet[8..40], f[8..40])); // addresses
        byte[][] fragmentHeaders =
        [
            [17, 0, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF], // UDP next, offset 0, M
            [17, 0, 0x00, 0x21, 0xDE, 0xAD, 0xBE, 0xEF], // offset 32 (4 units of 8, in the top 13 bits), M
            [17, 0, 0x00, 0x40, 0xDE, 0xAD, 0xBE, 0xEF], // offset 64, the last: no M
        ];
        Assert.Equal(fragmentHeaders, fragments.Select(f => f[40..48]));
        Assert.Equal(packet[40..], fragments.SelectMany(f => f[48..]));
    }

    [Theory]
    [InlineData("127.0.0.1", 6090, true)]
    [InlineData("127.0.0.1", 49152, true)]
    [InlineData("127.0.0.1", 65535, true)]
    [InlineData("127.0.0.1", 49151, false)]
    [InlineData("127.0.0.1", 40000, false)]
    [InlineData("127.0.0.2", 6090, false)]
    [InlineData("127.0.0.2", 50000, false)]
    public void IsFromTunnelPeer_SourceAgainstPeerEndpoint_AddressMustMatchPortMayBeAFlowPort(string address, int port, bool accepted)
    {
        var peer = PacketAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 6090));
        var source = PacketAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse(address), port));

        Assert.Equal(accepted, source.IsFromTunnelPeer(peer));
    }

    [Fact]
    public void FirstSourcePort_IsTheFormulaForHashZero() => Assert.Equal(FlowPortSender.FirstSourcePort, TunnelLayout.UdpSourcePort(0));

    private static FlowKey Key(ushort clientPort) =>
        FlowKey.FromTuple(IpAddr.FromV4(0xC000020A), IpAddr.FromV4(0xC633640A), clientPort, 80, 6);

    /// <summary>The outer packet a sender bound to 127.0.0.3:6090 writes for 60 bytes to 192.0.2.7:6090 from port 61440.</summary>
    private static byte[] OuterPacket()
    {
        Assert.True(FlowPortSender.TryOpen(new IPEndPoint(IPAddress.Parse("127.0.0.3"), 6090), 0, out var sender, out var why), why);
        using var _ = sender;
        var buffer = Datagram(6, 0xC000_0000_0000_0000UL, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 6090));
        Assert.True(sender!.WriteHeaders(buffer));
        return buffer.Frame.ToArray();
    }

    /// <summary>The outer packet a sender bound to [2001:db8::3]:6090 writes for 60 bytes to [2001:db8::7]:6090 from port 61440.</summary>
    private static byte[] Ipv6OuterPacket(out FlowPortSender sender)
    {
        Assert.True(FlowPortSender.TryOpen(new IPEndPoint(IPAddress.Parse("2001:db8::3"), 6090), 0, out var opened, out var why), why);
        sender = opened!;
        var buffer = Datagram(6, 0xC000_0000_0000_0000UL, new IPEndPoint(IPAddress.Parse("2001:db8::7"), 6090));
        Assert.True(sender.WriteHeaders(buffer));
        return buffer.Frame.ToArray();
    }

    private static PacketBuffer Datagram(int seed, ulong flowHash, IPEndPoint to)
    {
        var buffer = PortHelpers.Frame(PortHelpers.Pattern(seed, seed == 4 ? 50 : 60), to);
        buffer.SourcePort = TunnelLayout.UdpSourcePort(flowHash);
        return buffer;
    }
}
