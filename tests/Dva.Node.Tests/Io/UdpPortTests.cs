using System.Net;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

public class UdpPortTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Send_BatchOf64_ReceiverGetsEveryDatagramWithSenderAddress(string loopback)
    {
        var any = new IPEndPoint(IPAddress.Parse(loopback), 0);
        using var receiver = UdpTunnelSocket.Open(any);
        using var sender = UdpTunnelSocket.Open(any);
        var payloads = Enumerable.Range(0, PacketPort.MaxBatch).Select(i => PortHelpers.Pattern(i, 60 + (i * 20))).ToArray();
        var batch = payloads.Select(p => PortHelpers.Frame(p, receiver.LocalEndPoint)).ToArray();

        var sent = sender.Send(batch);
        var received = PortHelpers.ReceiveMatching(receiver, payloads.Length);

        Assert.Equal(64, sent);
        Assert.Equal(payloads, received.Select(r => r.Frame));
        Assert.All(received, r => Assert.Equal(PacketAddress.FromEndPoint(sender.LocalEndPoint), r.Peer));
        long bytes = payloads.Sum(p => p.Length);
        Assert.Equal(bytes, sender.Counters.SentBytes);
        Assert.Equal(bytes, receiver.Counters.ReceivedBytes);
        Assert.Equal(64, receiver.Counters.ReceivedPackets);
        Assert.InRange(receiver.Counters.ReceiveBatches, 1, 64);
    }

    [Fact]
    public void Send_BufferWithoutPeer_DroppedAsNoPeer()
    {
        using var sender = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));

        var sent = sender.Send([PortHelpers.Frame([1, 2, 3])]);

        Assert.Equal(0, sent);
        Assert.Equal(1, sender.Counters.NoPeer);
    }

    [Fact]
    public void Receive_DatagramLargerThanFrameSize_DroppedAsTruncated()
    {
        using var receiver = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        using var sender = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        var small = new BufferPool(maxBuffers: 2, frameSize: 100);
        Assert.True(small.TryRent(out var a));
        Assert.True(small.TryRent(out var b));

        sender.Send([PortHelpers.Frame(new byte[101], receiver.LocalEndPoint), PortHelpers.Frame(new byte[100], receiver.LocalEndPoint)]);
        Assert.True(receiver.WaitReadable(10_000));
        var slots = new[] { a, b };
        var n = receiver.Receive(slots);
        if (n == 0)
        {
            Assert.True(receiver.WaitReadable(10_000));
            n = receiver.Receive(slots);
        }

        Assert.Equal(1, n);
        Assert.Equal(100, slots[0].FrameLength);
        Assert.Equal(1, receiver.Counters.Truncated);
    }

    [Fact]
    public void UdpWire_TwoSources_CarryEthernetFramesByteExactBothWays()
    {
        var portA = PortHelpers.FreeLoopbackPort();
        var portB = PortHelpers.FreeLoopbackPort();
        Assert.True(FrameSourceSpec.TryParse($"udp:LOCAL=127.0.0.1:{portA},PEER=127.0.0.1:{portB}", out var specA, out var error), error);
        Assert.True(FrameSourceSpec.TryParse($"udp:LOCAL=127.0.0.1:{portB},PEER=127.0.0.1:{portA}", out var specB, out error), error);
        using var a = specA.Open();
        using var b = specB.Open();
        var toB = Enumerable.Range(0, 10).Select(i => EthernetFrame(i, 60 + i)).ToArray();
        var toA = Enumerable.Range(0, 3).Select(i => EthernetFrame(100 + i, 1514)).ToArray();

        Assert.Equal(10, a.Send(toB.Select(f => PortHelpers.Frame(f)).ToArray()));
        Assert.Equal(3, b.Send(toA.Select(f => PortHelpers.Frame(f)).ToArray()));

        Assert.Equal(toB, PortHelpers.ReceiveMatching(b, 10).Select(r => r.Frame));
        Assert.Equal(toA, PortHelpers.ReceiveMatching(a, 3).Select(r => r.Frame));
    }

    [Fact]
    public void UdpWire_DatagramFromStranger_DroppedAsForeignPeer()
    {
        var port = PortHelpers.FreeLoopbackPort();
        Assert.True(FrameSourceSpec.TryParse($"udp:LOCAL=127.0.0.1:0,PEER=127.0.0.1:{port}", out var spec, out var error), error);
        using var wire = (UdpFrameSource)spec.Open();
        using var peer = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, port));
        using var stranger = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));

        stranger.Send([PortHelpers.Frame(EthernetFrame(1, 60), wire.LocalEndPoint)]);
        peer.Send([PortHelpers.Frame(EthernetFrame(2, 60), wire.LocalEndPoint)]);
        var received = PortHelpers.ReceiveMatching(wire, 1);

        Assert.Equal(EthernetFrame(2, 60), received[0].Frame);
        Assert.Equal(1, wire.Counters.ForeignPeer);
    }

    internal static byte[] EthernetFrame(int seed, int length)
    {
        var frame = PortHelpers.Pattern(seed, length);
        byte[] header = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xB5];
        header.CopyTo(frame, 0);
        return frame;
    }
}
