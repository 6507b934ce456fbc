using System.Net;
using Dva.Node.Io;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Io;

public class FlowPortSenderTests
{
    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    [Fact]
    public void Send_TwoFlows_EachLeavesFromThePortTheFormulaGives()
    {
        using var tunnel = UdpTunnelSocket.Open(AnyLoopback);
        using var peer = UdpTunnelSocket.Open(AnyLoopback);
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
    /// header (EMSGSIZE): the flow-port sender fragments it, and the peer's socket receives the datagram whole, from
    /// its flow's port, between the small datagrams sent before and after it. It does so when the tunnel MTU says 1 500,
    /// and when the tunnel MTU is 65 535 (super-frames) but the route to the peer has 1 500.
    /// </summary>
    [Theory]
    [Trait("Requires", "root")]
    [InlineData(1500)]
    [InlineData(65535)]
    public void Send_DatagramLongerThanTheTunnelOrRouteMtu_LeavesAsFragmentsAndArrivesWholeInItsPlace(int tunnelMtu)
    {
        using var ns = new TestNetworkNamespace();
        ns.Exec("ip link set lo mtu 1500");
        using var tunnel = ns.Enter(() => UdpTunnelSocket.Open(AnyLoopback));
        using var peer = ns.Enter(() => UdpTunnelSocket.Open(AnyLoopback));
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
        var reassembled = ns.IpCounters();
        Assert.Equal((3L, 1L), (reassembled["ReasmReqds"], reassembled["ReasmOKs"]));
    }

    [Fact]
    public void TryOpen_Ipv6Tunnel_RefusedWithReason()
    {
        Assert.False(FlowPortSender.TryOpen(new IPEndPoint(IPAddress.IPv6Loopback, 6090), 0, out var sender, out var why));

        Assert.Null(sender);
        Assert.Contains("IPv6", why, StringComparison.Ordinal);
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

    private static PacketBuffer Datagram(int seed, ulong flowHash, IPEndPoint to)
    {
        var buffer = PortHelpers.Frame(PortHelpers.Pattern(seed, seed == 4 ? 50 : 60), to);
        buffer.SourcePort = TunnelLayout.UdpSourcePort(flowHash);
        return buffer;
    }
}
