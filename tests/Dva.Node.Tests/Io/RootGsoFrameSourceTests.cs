using System.Buffers.Binary;
using System.Diagnostics;
using Dva.Node.Io;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Io;

/// <summary>
/// <c>afpacket:IF?gso=1</c> (PACKET_VNET_HDR) against a real veth pair in a namespace the test creates: a TSO super-frame
/// written with its virtio_net_hdr arrives whole, described, at the other end; with the device's offloads off the kernel
/// cuts it into segments at gso_size and finishes every checksum. Root only (see <see cref="TestNetworkNamespace"/>).
/// </summary>
[Trait("Requires", "root")]
public sealed class RootGsoFrameSourceTests : IDisposable
{
    private const int SegmentSize = 1000;
    private const int Segments = 3;
    private const int L4Offset = 14 + 20;
    private readonly TestNetworkNamespace _namespace = new();
    private readonly List<IDisposable> _open = [];

    public void Dispose()
    {
        foreach (var item in _open)
        {
            item.Dispose();
        }

        _namespace.Dispose();
    }

    [Fact]
    public void GsoSource_TsoSuperFrame_ArrivesWholeWithItsOffloadAtTheOtherEnd()
    {
        CreateVethPair();
        var (a, b) = _namespace.Enter(() => (Open("afpacket:dvaveth0?gso=1"), Open("afpacket:dvaveth1?gso=1")));
        var frame = SuperFrame();

        Assert.Equal(1, a.Send([Offloaded(frame)]));
        var received = ReceiveTcp(b, 1);

        Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(received[0].Frame));
        Assert.Equal(new TunnelOffload(SegmentSize, GsoType.TcpV4, NeedsChecksum: true), received[0].Offload);
        Assert.Equal(L4Offset, received[0].ChecksumStart);
        Assert.Equal(16, received[0].ChecksumOffset);
        Assert.Equal(0, b.Counters.BadOffload);
    }

    [Fact]
    public void GsoSource_DeviceWithoutOffloads_KernelSegmentsAtGsoSizeAndFinishesChecksums()
    {
        CreateVethPair();
        _namespace.TxChecksumOffloadOff("dvaveth0");
        var (a, b) = _namespace.Enter(() => (Open("afpacket:dvaveth0?gso=1"), Open("afpacket:dvaveth1")));
        var frame = SuperFrame();
        var payload = frame.AsSpan(L4Offset + 20).ToArray();

        Assert.Equal(1, a.Send([Offloaded(frame)]));
        var segments = ReceiveTcp(b, Segments);

        for (var i = 0; i < Segments; i++)
        {
            var segment = segments[i].Frame;
            Assert.Equal(ParseError.None, PacketParser.TryParse(segment, out var info));
            Assert.Equal(20 + 20 + SegmentSize, info.IpPacketLength);
            Assert.Equal(1000u + (uint)(i * SegmentSize), info.TcpSequence);
            Assert.True(Checksum.VerifyIpv4Header(segment, info), $"segment {i}: IPv4 header checksum");
            Assert.True(Checksum.VerifyTransport(segment, info), $"segment {i}: TCP checksum");
            Assert.Equal(Convert.ToHexString(payload.AsSpan(i * SegmentSize, SegmentSize)), Convert.ToHexString(segment.AsSpan(L4Offset + 20)));

            // PSH stays on the last segment only (tcp_gso_segment).
            Assert.Equal(i == Segments - 1, (info.TcpFlags & TcpFlags.Psh) != 0);
        }
    }

    /// <summary>
    /// 192.0.2.1:40000 → 192.0.2.2:5201, ACK|PSH, seq 1000, three segments' worth of payload, the IPv4 header checksum
    /// complete and the TCP checksum field holding the pseudo-header sum, as a host's TCP stack hands it to a TSO device.
    /// </summary>
    private static byte[] SuperFrame()
    {
        var payload = PortHelpers.Pattern(7, Segments * SegmentSize);
        var frame = new byte[L4Offset + 20 + payload.Length];
        Convert.FromHexString("0200000000020200000000010800").CopyTo(frame, 0);
        var ip = frame.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 20 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = PacketConstants.ProtocolTcp;
        Convert.FromHexString("C0000201C0000202").CopyTo(ip[12..]);
        Checksum.WriteIpv4Header(ip);
        var tcp = frame.AsSpan(L4Offset);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 1000);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 1);
        tcp[12] = 0x50;
        tcp[13] = (byte)(TcpFlags.Ack | TcpFlags.Psh);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        payload.CopyTo(tcp[20..]);
        var pseudo = Checksum.PseudoHeaderV4(ip[12..16], ip[16..20], PacketConstants.ProtocolTcp, 20 + payload.Length);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Fold(pseudo));
        return frame;
    }

    private static PacketBuffer Offloaded(byte[] frame)
    {
        var buffer = PacketBuffer.CreateUnpooled(frameSize: 65600);
        Assert.True(buffer.TrySetFrame(frame));
        buffer.Offload = new TunnelOffload(SegmentSize, GsoType.TcpV4, NeedsChecksum: true);
        buffer.ChecksumStart = L4Offset;
        buffer.ChecksumOffset = 16;
        buffer.GsoHeaderLength = L4Offset + 20;
        return buffer;
    }

    /// <summary>Receives <paramref name="count"/> TCP frames (other traffic on the link is skipped) into 64 KiB buffers.</summary>
    private static List<(byte[] Frame, TunnelOffload Offload, int ChecksumStart, int ChecksumOffset)> ReceiveTcp(PacketPort port, int count)
    {
        var pool = new BufferPool(PacketPort.MaxBatch, 65600);
        var slots = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < slots.Length; i++)
        {
            Assert.True(pool.TryRent(out var buffer));
            slots[i] = buffer;
        }

        var received = new List<(byte[], TunnelOffload, int, int)>();
        var clock = Stopwatch.StartNew();
        while (received.Count < count)
        {
            var left = PortHelpers.Timeout - clock.Elapsed;
            Assert.True(left > TimeSpan.Zero, $"{port.Name}: received {received.Count} of {count} TCP frames before the timeout");
            if (!port.WaitReadable((int)left.TotalMilliseconds))
            {
                continue;
            }

            var n = port.Receive(slots);
            for (var i = 0; i < n; i++)
            {
                var frame = slots[i].Frame;
                if (frame.Length > L4Offset && frame[12] == 0x08 && frame[13] == 0x00 && frame[23] == PacketConstants.ProtocolTcp)
                {
                    received.Add((frame.ToArray(), slots[i].Offload, slots[i].ChecksumStart, slots[i].ChecksumOffset));
                }
            }
        }

        return received;
    }

    private FrameSource Open(string text)
    {
        Assert.True(FrameSourceSpec.TryParse(text, out var spec, out var error), error);
        var source = spec.Open();
        _open.Add(source);
        return source;
    }

    private void CreateVethPair()
    {
        _namespace.Exec("ip link add dvaveth0 type veth peer name dvaveth1");
        _namespace.Exec("ip link set dvaveth0 up");
        _namespace.Exec("ip link set dvaveth1 up");
        var clock = Stopwatch.StartNew();
        while (!(_namespace.Exec("ip -o link show dvaveth0").Contains("state UP", StringComparison.Ordinal)
                 && _namespace.Exec("ip -o link show dvaveth1").Contains("state UP", StringComparison.Ordinal)))
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, "the veth pair did not come up");
        }
    }
}
