using System.Buffers.Binary;
using System.Diagnostics;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

/// <summary>
/// The PACKET_MMAP ring source on a real veth pair: each end in a namespace of its own, frames of known bytes sent
/// with a raw AF_PACKET socket in the peer namespace. Root only (see <see cref="TestNetworkNamespace"/>).
/// </summary>
[Trait("Requires", "root")]
public sealed class RootAfPacketRingTests : IDisposable
{
    private readonly TestNetworkNamespace _sender = new();
    private readonly TestNetworkNamespace _receiver = new();
    private readonly List<IDisposable> _open = [];

    public void Dispose()
    {
        foreach (var item in _open)
        {
            item.Dispose();
        }

        _sender.Dispose();
        _receiver.Dispose();
    }

    [Fact]
    public void Ring_FramesFromPeerNamespace_ArriveByteIdenticalInOrder()
    {
        var (sender, ring) = CreatePair(mtu: 1500, new AfPacketRingGeometry());
        var frames = new[] { PortHelpers.TestFrame(0, 60), PortHelpers.TestFrame(1, 200), PortHelpers.TestFrame(2, 1514), PortHelpers.TestFrame(3, 61) };

        var sent = sender.Send(frames.Select(f => PortHelpers.Frame(f)).ToArray());
        var received = PortHelpers.ReceiveMatching(ring, frames.Length, PortHelpers.IsTestFrame);

        Assert.Equal(frames.Length, sent);
        Assert.Equal(frames, received.Select(r => r.Frame));
        Assert.Equal(frames.Length, ring.Counters.ReceivedPackets);
    }

    [Fact]
    public void Ring_FewerSlotsThanFramesInBlock_ResumesMidBlockInOrder()
    {
        // Ten frames retire in one block; three slots per call make the walk stop and resume inside it.
        var (sender, ring) = CreatePair(mtu: 1500, new AfPacketRingGeometry());
        var frames = Enumerable.Range(0, 10).Select(i => PortHelpers.TestFrame(i, 64 + i)).ToArray();
        var pool = new BufferPool(3);
        var slots = Enumerable.Range(0, 3).Select(_ => pool.TryRent(out var buffer) ? buffer : null!).ToArray();

        var empty = ring.Receive(slots);
        sender.Send(frames.Select(f => PortHelpers.Frame(f)).ToArray());
        var received = new List<byte[]>();
        var clock = Stopwatch.StartNew();
        while (received.Count < frames.Length)
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, $"received {received.Count} of {frames.Length} frames");
            ring.WaitReadable(1000);
            var n = ring.Receive(slots);
            Assert.InRange(n, 0, 3);
            received.AddRange(slots.Take(n).Select(s => s.Frame.ToArray()).Where(PortHelpers.IsTestFrame));
        }

        Assert.Equal(0, empty);
        Assert.Equal(frames, received);
        Assert.False(ring.WaitReadable(0));
    }

    [Fact]
    public void Ring_OpenedFromSpec_IsTheRingSourceNamedWithItsOption()
    {
        CreateLink(mtu: 1500);
        Assert.True(FrameSourceSpec.TryParse("afpacket:dvar1?ring=1", out var spec, out var error), error);

        var source = _receiver.Enter(() => spec.Open(promiscuous: true));
        _open.Add(source);

        Assert.IsType<AfPacketRingFrameSource>(source);
        Assert.Equal("afpacket:dvar1?ring=1", source.Name);
        Assert.Equal(1500, source.Mtu);
    }

    [Fact]
    public void Ring_Drops_AddedToTheNodesDropsByName()
    {
        var (sender, ring) = CreatePair(mtu: 9000, new AfPacketRingGeometry { BlockSize = 4096, BlockCount = 4 });
        var large = PacketBuffer.CreateUnpooled(frameSize: 9216);
        Assert.True(large.TrySetFrame(PortHelpers.TestFrame(5, 6000)));
        var plain = PortHelpers.TestFrame(6, 100);

        sender.Send([large, PortHelpers.Frame(plain)]);
        _ = PortHelpers.ReceiveMatching(ring, 1, PortHelpers.IsTestFrame);

        // The node's counters (GET /counters, the heartbeat) carry the drop by name, beside any the roles counted.
        var drops = new Dictionary<string, long> { ["RingTruncated"] = 2, ["NoOwner"] = 5 };
        ring.AddOwnDrops(drops);
        Assert.Equal(new Dictionary<string, long> { ["RingTruncated"] = 3, ["NoOwner"] = 5 }, drops);
    }

    /// <summary>
    /// A 4 KiB block cannot hold a 6 000-byte frame: the kernel stores its head only (Truncated). A 3 000-byte frame
    /// is whole in a 256 KiB block, but a pool buffer receives at most 2 048 bytes (Oversize).
    /// </summary>
    [Theory]
    [InlineData(4096, 6000, nameof(RingFrameStatus.Truncated))]
    [InlineData(1 << 18, 3000, nameof(RingFrameStatus.Oversize))]
    public void Ring_FrameLongerThanBlockOrBuffer_DroppedWithItsReasonAndNextFrameArrives(int blockSize, int length, string reasonName)
    {
        var reason = Enum.Parse<RingFrameStatus>(reasonName);
        var (sender, ring) = CreatePair(mtu: 9000, new AfPacketRingGeometry { BlockSize = blockSize, BlockCount = 4 });
        var plain = PortHelpers.TestFrame(8, 100);
        var large = PacketBuffer.CreateUnpooled(frameSize: 9216);
        Assert.True(large.TrySetFrame(PortHelpers.TestFrame(7, length)));

        sender.Send([large, PortHelpers.Frame(plain)]);
        var received = PortHelpers.ReceiveMatching(ring, 1, PortHelpers.IsTestFrame);

        Assert.Equal(plain, received[0].Frame);
        Assert.Equal(1, ring.RingCounters.Dropped(reason));
        Assert.Equal(1, ring.Counters.Truncated);
        Assert.Equal(0, ring.RingCounters.Dropped(reason == RingFrameStatus.Truncated ? RingFrameStatus.Oversize : RingFrameStatus.Truncated));
        var drops = new Dictionary<string, long>();
        ring.AddOwnDrops(drops);
        Assert.Equal(new Dictionary<string, long> { ["Ring" + reasonName] = 1 }, drops);
    }

    [Fact]
    public void Ring_ManyMoreFramesThanRingHolds_AllArriveInOrderAcrossWraps()
    {
        // 4 blocks of 4 KiB hold ~80 frames of 100 bytes; 1 500 frames go round the ring many times. At most 8 are in
        // flight, so the ring never fills and nothing may be lost.
        const int Total = 1500;
        const int Window = 8;
        var (sender, ring) = CreatePair(mtu: 1500, new AfPacketRingGeometry { BlockSize = 4096, BlockCount = 4 });
        var pool = new BufferPool(PacketPort.MaxBatch);
        var slots = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < slots.Length; i++)
        {
            Assert.True(pool.TryRent(out var buffer));
            slots[i] = buffer;
        }

        var sequence = new List<int>();
        var next = 0;
        var clock = Stopwatch.StartNew();
        while (sequence.Count < Total)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"received {sequence.Count} of {Total} frames before the timeout");
            while (next < Total && next - sequence.Count < Window)
            {
                Assert.Equal(1, sender.Send([PortHelpers.Frame(PortHelpers.TestFrame(next, 100))]));
                next++;
            }

            if (!ring.WaitReadable(1000))
            {
                continue;
            }

            var n = ring.Receive(slots);
            for (var i = 0; i < n; i++)
            {
                var frame = slots[i].Frame;
                if (PortHelpers.IsTestFrame(frame.ToArray()))
                {
                    Assert.Equal(PortHelpers.TestFrame(sequence.Count, 100), frame.ToArray());
                    sequence.Add(BinaryPrimitives.ReadInt32BigEndian(frame[14..]));
                }
            }
        }

        Assert.Equal(Enumerable.Range(0, Total), sequence);
        Assert.Equal(0, ring.ReadKernelStatistics().KernelDrops);
    }

    [Fact]
    public void Fanout_TwoRingSourcesInOneGroup_ShareFramesByFlowEachExactlyOnce()
    {
        // 32 UDP flows (one source port each), 8 frames per flow: the kernel's flow hash puts each flow on one socket.
        const int Flows = 32;
        const int PerFlow = 8;
        var sender = CreateLink(mtu: 1500);
        var fanout = new AfPacketFanout();
        Assert.True(FrameSourceSpec.TryParse("afpacket:dvar1?ring=1", out var spec, out var error), error);
        var (a, b) = _receiver.Enter(() => (
            AfPacketRingFrameSource.Open(spec, promiscuous: false, fanout: fanout),
            AfPacketRingFrameSource.Open(spec, promiscuous: false, fanout: fanout)));
        _open.Add(a);
        _open.Add(b);

        for (var i = 0; i < Flows * PerFlow; i++)
        {
            Assert.Equal(1, sender.Send([PortHelpers.Frame(UdpFrame(sequence: i, sourcePort: 40000 + (i % Flows)))]));
        }

        var seenBy = new Dictionary<int, List<int>> { [0] = [], [1] = [] };
        var pool = new BufferPool(PacketPort.MaxBatch);
        var slots = Enumerable.Range(0, PacketPort.MaxBatch).Select(_ => pool.TryRent(out var buffer) ? buffer : null!).ToArray();
        var clock = Stopwatch.StartNew();
        while (seenBy[0].Count + seenBy[1].Count < Flows * PerFlow)
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, $"received {seenBy[0].Count} + {seenBy[1].Count} of {Flows * PerFlow} frames");
            foreach (var (source, index) in new[] { (a, 0), (b, 1) })
            {
                source.WaitReadable(20);
                var n = source.Receive(slots);
                for (var i = 0; i < n; i++)
                {
                    var frame = slots[i].Frame;
                    if (frame.Length > 46 && frame[12] == 0x08 && frame[13] == 0x00 && frame[23] == 17)
                    {
                        seenBy[index].Add(BinaryPrimitives.ReadInt32BigEndian(frame[42..]));
                    }
                }
            }
        }

        var flowsOfA = seenBy[0].Select(i => i % Flows).ToHashSet();
        var flowsOfB = seenBy[1].Select(i => i % Flows).ToHashSet();
        Assert.Equal(Enumerable.Range(0, Flows * PerFlow), seenBy[0].Concat(seenBy[1]).Order());
        Assert.Empty(flowsOfA.Intersect(flowsOfB));
        Assert.NotEmpty(flowsOfA);
        Assert.NotEmpty(flowsOfB);
        Assert.NotEqual(0, fanout.Id);
        Assert.Equal(2, fanout.Members);
    }

    /// <summary>A veth pair: dvar0 in the sender namespace (a raw afpacket: socket), dvar1 in the receiver's (the ring).</summary>
    private (FrameSource Sender, AfPacketRingFrameSource Ring) CreatePair(int mtu, AfPacketRingGeometry geometry)
    {
        var sender = CreateLink(mtu);
        Assert.True(FrameSourceSpec.TryParse("afpacket:dvar1?ring=1", out var ringSpec, out var error), error);
        var ring = _receiver.Enter(() => AfPacketRingFrameSource.Open(ringSpec, promiscuous: false, geometry));
        _open.Add(ring);
        return (sender, ring);
    }

    /// <summary>The veth pair, and the raw afpacket: socket on the sender's end.</summary>
    private FrameSource CreateLink(int mtu)
    {
        TestNetworkNamespace.Ip($"link add dvar0 netns {_sender.Name} mtu {mtu} type veth peer name dvar1 netns {_receiver.Name} mtu {mtu}");
        _sender.Exec("ip link set dvar0 up");
        _receiver.Exec("ip link set dvar1 up");
        var clock = Stopwatch.StartNew();
        while (!(_sender.Exec("ip -o link show dvar0").Contains("state UP", StringComparison.Ordinal)
                 && _receiver.Exec("ip -o link show dvar1").Contains("state UP", StringComparison.Ordinal)))
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, "the veth pair did not come up");
        }

        Assert.True(FrameSourceSpec.TryParse("afpacket:dvar0", out var senderSpec, out var error), error);
        var sender = _sender.Enter(() => senderSpec.Open());
        _open.Add(sender);
        return sender;
    }

    /// <summary>Broadcast Ethernet, IPv4 192.0.2.10 → 198.51.100.11, UDP from <paramref name="sourcePort"/> to 5201, the sequence number as payload.</summary>
    private static byte[] UdpFrame(int sequence, int sourcePort)
    {
        var frame = new byte[60];
        frame.AsSpan(0, 6).Fill(0xFF);
        byte[] mac = [0x02, 0, 0, 0, 0, 0x01];
        mac.CopyTo(frame, 6);
        frame[12] = 0x08;
        frame[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 46);
        frame[22] = 64;
        frame[23] = 17;
        byte[] addresses = [192, 0, 2, 10, 198, 51, 100, 11];
        addresses.CopyTo(frame, 26);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), 5201);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(38), 26);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(42), sequence);
        return frame;
    }
}
