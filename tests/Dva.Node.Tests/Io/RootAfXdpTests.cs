using System.Buffers.Binary;
using System.Diagnostics;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

/// <summary>
/// The <c>afxdp:</c> source on a real veth pair: each end in a namespace of its own, frames of known bytes sent with a
/// raw AF_PACKET socket in the peer namespace. Root only (see <see cref="TestNetworkNamespace"/>).
/// </summary>
[Trait("Requires", "root")]
public sealed class RootAfXdpTests : IDisposable
{
    /// <summary>
    /// The program goes with the BPF link's last fd. A process another test forks at the moment the source closes its
    /// link holds a copy of every fd until it execs (CLOEXEC closes it then), so the detach can trail the Dispose by
    /// that long: wait up to 5 s for it, and fail if the program stays.
    /// </summary>
    private void WaitUntilNoXdpProgram()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string link;
        while ((link = _receiver.Exec("ip -d link show dvax1")).Contains("xdp", StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the XDP program is still attached 5 s after its last source closed: {link}");
            Thread.Sleep(20);
        }
    }

    private readonly TestNetworkNamespace _sender = new();
    private readonly TestNetworkNamespace _receiver = new();
    private readonly List<IDisposable> _open = [];

    public void Dispose()
    {
        foreach (var item in Enumerable.Reverse(_open))
        {
            item.Dispose();
        }

        _sender.Dispose();
        _receiver.Dispose();
    }

    [Theory]
    [InlineData("afxdp:dvax1", nameof(XdpAttachMode.Native))]
    [InlineData("afxdp:dvax1?mode=generic", nameof(XdpAttachMode.Generic))]
    public void Xdp_FramesFromPeerNamespace_ArriveByteIdenticalInOrder(string text, string modeName)
    {
        var mode = Enum.Parse<XdpAttachMode>(modeName);
        var sender = CreateLink(mtu: 1500);
        var xdp = Open(text);
        var frames = new[] { PortHelpers.TestFrame(0, 60), PortHelpers.TestFrame(1, 200), PortHelpers.TestFrame(2, 1514), PortHelpers.TestFrame(3, 61) };

        var sent = sender.Send(frames.Select(f => PortHelpers.Frame(f)).ToArray());
        var received = PortHelpers.ReceiveMatching(xdp, frames.Length, PortHelpers.IsTestFrame);

        // veth runs the program in its driver when asked (or by default); generic when told.
        Assert.Equal(mode, xdp.AttachMode);
        Assert.Equal(text, xdp.Name);
        Assert.Equal(frames.Length, sent);
        Assert.Equal(frames, received.Select(r => r.Frame));
        Assert.Equal(1500, xdp.Mtu);
    }

    [Fact]
    public void Xdp_WhileOpen_TheProgramTakesEveryFrameAndOnCloseTheInterfaceIsItsOwnAgain()
    {
        var sender = CreateLink(mtu: 1500);
        var xdp = Open("afxdp:dvax1");
        Assert.True(FrameSourceSpec.TryParse("afpacket:dvax1", out var plainSpec, out var error), error);
        var plain = _receiver.Enter(() => plainSpec.Open());
        _open.Add(plain);
        Assert.Contains("xdp", _receiver.Exec("ip -d link show dvax1"), StringComparison.Ordinal);

        sender.Send([PortHelpers.Frame(PortHelpers.TestFrame(10, 100))]);
        PortHelpers.ReceiveMatching(xdp, 1, PortHelpers.IsTestFrame);

        // The frame went to the AF_XDP socket before the kernel's stack: an AF_PACKET socket on the device saw nothing.
        Assert.False(plain.WaitReadable(300) && ReceiveAll(plain).Any(PortHelpers.IsTestFrame));

        xdp.Dispose();
        WaitUntilNoXdpProgram();
        sender.Send([PortHelpers.Frame(PortHelpers.TestFrame(11, 100))]);
        Assert.Equal(PortHelpers.TestFrame(11, 100), PortHelpers.ReceiveMatching(plain, 1, PortHelpers.IsTestFrame)[0].Frame);
    }

    [Fact]
    public void Xdp_SendThroughTheSource_ArrivesAtThePeerByteIdentical()
    {
        var sender = CreateLink(mtu: 1500);
        var xdp = Open("afxdp:dvax1");
        var frames = new[] { PortHelpers.TestFrame(20, 60), PortHelpers.TestFrame(21, 1514) };

        Assert.Equal(2, xdp.Send(frames.Select(f => PortHelpers.Frame(f)).ToArray()));

        Assert.Equal(frames, PortHelpers.ReceiveMatching(sender, 2, PortHelpers.IsTestFrame).Select(r => r.Frame));
        Assert.Equal(2, xdp.Counters.SentPackets);
        Assert.False(xdp.WaitReadable(200) && ReceiveAll(xdp).Any(PortHelpers.IsTestFrame), "the source's own transmissions must not come back as ingress");
    }

    [Fact]
    public void Xdp_ManyMoreFramesThanTheUmemHolds_AllArriveInOrderWithNoDrops()
    {
        // 4 096 chunks, 2 048 RX slots: 10 000 frames go round both rings several times. At most 32 are in flight.
        const int Total = 10_000;
        const int Window = 32;
        var sender = CreateLink(mtu: 1500);
        var xdp = Open("afxdp:dvax1");
        var slots = Slots();
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

            if (!xdp.WaitReadable(1000))
            {
                continue;
            }

            var n = xdp.Receive(slots);
            for (var i = 0; i < n; i++)
            {
                var frame = slots[i].Frame.ToArray();
                if (PortHelpers.IsTestFrame(frame))
                {
                    Assert.Equal(PortHelpers.TestFrame(sequence.Count, 100), frame);
                    sequence.Add(BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(14)));
                }
            }
        }

        Assert.Equal(Enumerable.Range(0, Total), sequence);
        var drops = new Dictionary<string, long>();
        xdp.AddOwnDrops(drops);
        Assert.Empty(drops);
    }

    [Fact]
    public void Xdp_FrameLongerThanAPacketBuffer_DroppedAsOversizeAndNextFrameArrives()
    {
        // MTU 3 000 fits a UMEM chunk, but a pool buffer receives at most 2 048 bytes.
        var sender = CreateLink(mtu: 3000);
        var xdp = Open("afxdp:dvax1");
        var large = PacketBuffer.CreateUnpooled(frameSize: 9216);
        Assert.True(large.TrySetFrame(PortHelpers.TestFrame(30, 3000)));

        sender.Send([large, PortHelpers.Frame(PortHelpers.TestFrame(31, 100))]);
        var received = PortHelpers.ReceiveMatching(xdp, 1, PortHelpers.IsTestFrame);

        Assert.Equal(PortHelpers.TestFrame(31, 100), received[0].Frame);
        Assert.Equal(1, xdp.Counters.Truncated);
        var drops = new Dictionary<string, long> { ["NoOwner"] = 5 };
        xdp.AddOwnDrops(drops);
        Assert.Equal(new Dictionary<string, long> { ["XdpOversize"] = 1, ["NoOwner"] = 5 }, drops);
    }

    [Fact]
    public void Xdp_InterfaceWithTwoReceiveQueues_RefusedWithTheFix()
    {
        TestNetworkNamespace.Ip($"link add dvax0 netns {_sender.Name} numrxqueues 2 type veth peer name dvax1 netns {_receiver.Name} numrxqueues 2");
        Assert.True(FrameSourceSpec.TryParse("afxdp:dvax1", out var spec, out var error), error);

        var refused = Assert.Throws<InvalidOperationException>(() => _receiver.Enter(() => spec.Open(promiscuous: true)));

        Assert.Contains("has 2 receive queues", refused.Message, StringComparison.Ordinal);
        Assert.Contains("ethtool -L dvax1 combined 1", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("xdp", _receiver.Exec("ip -d link show dvax1"), StringComparison.Ordinal);
    }

    [Fact]
    public void Xdp_MtuLargerThanAChunk_RefusedWithTheLimit()
    {
        CreateLink(mtu: 9000);
        Assert.True(FrameSourceSpec.TryParse("afxdp:dvax1", out var spec, out var error), error);

        var refused = Assert.Throws<InvalidOperationException>(() => _receiver.Enter(() => spec.Open()));

        Assert.Contains("MTU 9000 does not fit", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"MTU {AfXdpFrameSource.MaxFrame - 18} at most", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Xdp_SecondSourceOnTheSameInterface_RefusedWhileTheFirstKeepsReceiving()
    {
        var sender = CreateLink(mtu: 1500);
        var first = Open("afxdp:dvax1");
        Assert.True(FrameSourceSpec.TryParse("afxdp:dvax1", out var spec, out var error), error);

        var refused = Assert.Throws<InvalidOperationException>(() => _receiver.Enter(() => spec.Open()));

        Assert.IsType<InteropException>(refused.InnerException);
        Assert.Contains("bind(AF_XDP, dvax1 queue 0)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("busy", refused.Message, StringComparison.OrdinalIgnoreCase);
        sender.Send([PortHelpers.Frame(PortHelpers.TestFrame(40, 100))]);
        Assert.Equal(PortHelpers.TestFrame(40, 100), PortHelpers.ReceiveMatching(first, 1, PortHelpers.IsTestFrame)[0].Frame);
    }

    /// <summary>
    /// Two sources in one queue group on a veth with two receive queues (as a dispatcher of two engines opens them): one
    /// program for both, each frame of 32 UDP flows received exactly once across the queues, the program detached only
    /// when the last source closes.
    /// </summary>
    [Fact]
    public void Xdp_TwoSourcesInAQueueGroup_EachFrameArrivesOnceAndTheProgramGoesWithTheLast()
    {
        const int Total = 256;
        var sender = CreateLink(mtu: 1500, queues: 2);
        Assert.True(FrameSourceSpec.TryParse("afxdp:dvax1", out var spec, out var error), error);
        var group = new XdpQueueGroup(2);
        var (a, b) = _receiver.Enter(() => (
            Assert.IsType<AfXdpFrameSource>(spec.Open(promiscuous: true, queues: group)),
            Assert.IsType<AfXdpFrameSource>(spec.Open(promiscuous: true, queues: group))));
        _open.Add(a);
        _open.Add(b);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Total; i++)
        {
            Assert.Equal(1, sender.Send([PortHelpers.Frame(PortHelpers.TestFrame(i, 64 + (i % 32)))]));
        }

        var seen = new List<int>();
        var slots = Slots();
        while (seen.Count < Total)
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout + PortHelpers.Timeout, $"received {seen.Count} of {Total} frames (queue 0: {a.Counters.ReceivedPackets}, queue 1: {b.Counters.ReceivedPackets}; {string.Join(", ", Drops(a).Concat(Drops(b)))})");
            foreach (var source in new[] { a, b })
            {
                source.WaitReadable(20);
                var n = source.Receive(slots);
                seen.AddRange(slots.Take(n).Select(s => s.Frame.ToArray()).Where(PortHelpers.IsTestFrame).Select(f => BinaryPrimitives.ReadInt32BigEndian(f.AsSpan(14))));
            }
        }

        Assert.Equal(Enumerable.Range(0, Total), seen.Order());
        Assert.Equal((0, 1), (a.Queue, b.Queue));
        Assert.Equal(XdpAttachMode.Native, a.AttachMode);
        a.Dispose();
        Assert.Contains("xdp", _receiver.Exec("ip -d link show dvax1"), StringComparison.Ordinal);
        b.Dispose();
        WaitUntilNoXdpProgram();
    }

    [Fact]
    public void Xdp_QueueGroupOfTwoOnAOneQueueInterface_RefusedNamingTheEngines()
    {
        CreateLink(mtu: 1500);
        Assert.True(FrameSourceSpec.TryParse("afxdp:dvax1", out var spec, out var error), error);

        var refused = Assert.Throws<InvalidOperationException>(() => _receiver.Enter(() => spec.Open(queues: new XdpQueueGroup(2))));

        Assert.Contains("has 1 receive queues but the dispatcher runs 2 engines", refused.Message, StringComparison.Ordinal);
    }

    private AfXdpFrameSource Open(string text)
    {
        Assert.True(FrameSourceSpec.TryParse(text, out var spec, out var error), error);
        var source = Assert.IsType<AfXdpFrameSource>(_receiver.Enter(() => spec.Open(promiscuous: true)));
        _open.Add(source);
        return source;
    }

    /// <summary>The veth pair dvax0 (sender namespace, a raw afpacket: socket on it) and dvax1 (receiver namespace).</summary>
    private FrameSource CreateLink(int mtu, int queues = 1)
    {
        var options = $"mtu {mtu} numtxqueues {queues} numrxqueues {queues}";
        TestNetworkNamespace.Ip($"link add dvax0 netns {_sender.Name} {options} type veth peer name dvax1 netns {_receiver.Name} {options}");
        _sender.Exec("ip link set dvax0 up");
        _receiver.Exec("ip link set dvax1 up");
        var clock = Stopwatch.StartNew();
        while (!(_sender.Exec("ip -o link show dvax0").Contains("state UP", StringComparison.Ordinal)
                 && _receiver.Exec("ip -o link show dvax1").Contains("state UP", StringComparison.Ordinal)))
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, "the veth pair did not come up");
        }

        Assert.True(FrameSourceSpec.TryParse("afpacket:dvax0", out var senderSpec, out var error), error);
        var sender = _sender.Enter(() => senderSpec.Open());
        _open.Add(sender);
        return sender;
    }

    private static Dictionary<string, long> Drops(PacketPort port)
    {
        var drops = new Dictionary<string, long>();
        port.AddOwnDrops(drops);
        return drops;
    }

    private static PacketBuffer[] Slots()
    {
        var pool = new BufferPool(PacketPort.MaxBatch);
        return Enumerable.Range(0, PacketPort.MaxBatch).Select(_ => pool.TryRent(out var buffer) ? buffer : null!).ToArray();
    }

    private static List<byte[]> ReceiveAll(PacketPort port)
    {
        var slots = Slots();
        var n = port.Receive(slots);
        return slots.Take(n).Select(s => s.Frame.ToArray()).ToList();
    }
}
