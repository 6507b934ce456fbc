using System.Diagnostics;
using System.Net;
using Dva.Node.Agent;
using Dva.Node.DataPlane;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Tests.Engine;
using Dva.Node.Tests.Io;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Node.Tests.DataPlane;

/// <summary>The role on a real engine over loopback UDP: dispatcher 1 sends, dispatcher 2 (inside) receives egress.</summary>
public sealed class DataPlaneEngineTests : IDisposable
{
    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);
    private readonly UdpTunnelSocket _tunnel = UdpTunnelSocket.Open(AnyLoopback);
    private readonly UdpTunnelSocket _outside = UdpTunnelSocket.Open(AnyLoopback);
    private readonly UdpTunnelSocket _inside = UdpTunnelSocket.Open(AnyLoopback);
    private readonly UdpTunnelSocket _eleven = UdpTunnelSocket.Open(AnyLoopback);
    private readonly BufferPool _pool = new(1024);
    private readonly FakeTimeProvider _clock = new();
    private EpollEngine? _engine;
    private DataPlaneRig? _rig;

    public void Dispose()
    {
        // The engine stops first: the role's held buffers and the ports belong to its thread until then.
        _engine?.Dispose();
        _rig?.Dispose();
        _tunnel.Dispose();
        _outside.Dispose();
        _inside.Dispose();
        _eleven.Dispose();
    }

    private IPEndPoint EndpointOf(ushort node) => node switch
    {
        DataPlaneRig.OutsideDispatcher => _outside.LocalEndPoint,
        DataPlaneRig.InsideDispatcher => _inside.LocalEndPoint,
        10 => _tunnel.LocalEndPoint,
        11 => _eleven.LocalEndPoint,
        _ => DataPlaneRig.EndpointOf(node),
    };

    private TableVersion Table(ulong version = 1) =>
        TableVersion.CreateFirst(DataPlaneRig.DvaId, DataPlaneRig.Seed, 256, DataPlaneRig.Peers([10], EndpointOf), "test", version);

    private PacketBuffer Datagram(ushort port, TableVersion table)
    {
        var buffer = DataPlaneRig.Datagram(TestFrames.Udp("192.0.2.50", port, "198.51.100.7", 53), DataPlaneRig.Dispatch(10, table), from: _outside.LocalEndPoint);
        buffer.Peer = PacketAddress.FromEndPoint(_tunnel.LocalEndPoint);
        return buffer;
    }

    /// <summary>A data plane attached to a started engine; <paramref name="fakeClock"/> drives both with <see cref="_clock"/>.</summary>
    private (EpollEngine Engine, DataPlaneRig Rig) Start(bool fakeClock = true, int flowCapacity = 1024)
    {
        _engine = new EpollEngine(_pool, fakeClock ? _clock : null);
        _rig = new DataPlaneRig(10, new DataPlaneOptions { FlowCapacity = flowCapacity }, _clock);
        _rig.Role.Attach(_engine, _tunnel);
        _engine.Start();
        return (_engine, _rig);
    }

    private static async Task WaitUntilAsync(EpollEngine engine, Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(PortHelpers.Timeout);
        while (!await EpollEngineTests.OnEngineAsync(engine, condition))
        {
            timeout.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }

    [Fact]
    public async Task OnBatch_KeysPrefetchedForTheBatch_SendsExactlyWhatOneAtATimeSends()
    {
        // Two data planes share the buckets: a packet of a bucket of node 11 is claimed to it, one of node 10 is kept
        // and leaves as egress. A batch of new flows, then the same flows again (kept), then their replies: IPv4 UDP
        // and TCP take the prefetch pass, ICMP echo does not (its key needs the full parse). Every datagram sent,
        // egress or claim, must be byte for byte what a role deciding the same datagrams one at a time (no engine, no
        // batch) sends, and both must hold the same flows in the same direction.
        var (engine, rig) = Start(fakeClock: false);
        var table = TableVersion.CreateFirst(DataPlaneRig.DvaId, DataPlaneRig.Seed, 256, DataPlaneRig.Peers([10, 11], EndpointOf), "test", 1);
        rig.Install(table);
        using var reference = new DataPlaneRig(10, new DataPlaneOptions { FlowCapacity = 1024 }, _clock);
        reference.Install(table);
        var frames = new List<byte[]>();
        for (var i = 0; i < 24; i++)
        {
            frames.Add(TestFrames.Udp("192.0.2.50", (ushort)(4000 + i), "198.51.100.7", 53));
        }

        for (var i = 0; i < 8; i++)
        {
            frames.Add(TestFrames.Tcp("192.0.2.60", (ushort)(5000 + i), "198.51.100.7", 80, Dva.Shared.Packets.TcpFlags.Syn));
        }

        for (var i = 0; i < 4; i++)
        {
            frames.Add(TestFrames.EchoRequest("192.0.2.70", "198.51.100.7", id: (ushort)(9 + i)));
        }

        var replies = Enumerable.Range(0, 24).Select(i => TestFrames.Udp("198.51.100.7", 53, "192.0.2.50", (ushort)(4000 + i))).ToList();
        var kept = frames.Count(f => DataPlaneRig.BucketOf(f, table) is var b && table.OwnerOf(b) == 10);
        Assert.InRange(kept, 5, frames.Count - 5);

        var prefetched = 0L;
        foreach (var batch in new[] { frames, frames, replies })
        {
            var datagrams = batch.Select(f => DataPlaneRig.Datagram(f, DataPlaneRig.Dispatch(10, table), from: _outside.LocalEndPoint)).ToArray();
            var expected = datagrams.Select(d =>
            {
                var copy = DataPlaneRig.Datagram(DataPlaneRig.Read(d).Inner, DataPlaneRig.Dispatch(10, table), from: _outside.LocalEndPoint);
                Assert.Equal(Verdict.Send, reference.Process(copy));
                return (Frame: Convert.ToHexString(copy.Frame), To: copy.Peer);
            }).ToArray();
            foreach (var d in datagrams)
            {
                d.Peer = PacketAddress.FromEndPoint(_tunnel.LocalEndPoint);
            }

            Assert.Equal(datagrams.Length, _outside.Send(datagrams));
            Assert.Equal(datagrams.Length, expected.Count(e => e.To == PacketAddress.FromEndPoint(_inside.LocalEndPoint)
                || e.To == PacketAddress.FromEndPoint(_outside.LocalEndPoint) || e.To == PacketAddress.FromEndPoint(_eleven.LocalEndPoint)));
            foreach (var port in new[] { _inside, _outside, _eleven })
            {
                var to = expected.Where(e => e.To == PacketAddress.FromEndPoint(port.LocalEndPoint)).Select(e => e.Frame).ToArray();
                var received = PortHelpers.ReceiveMatching(port, to.Length);
                Assert.Equal(to, received.Select(r => Convert.ToHexString(r.Frame)));
            }

            prefetched += batch.Count(f => f[23] != Dva.Shared.Packets.PacketConstants.ProtocolIcmp);
            await WaitUntilAsync(engine, () => rig.Role.PrefetchedPackets == prefetched);
        }

        var flows = (await rig.Role.SnapshotFlowsAsync()).Select(f => $"{f.Source} -> {f.Destination}").Order().ToArray();
        var referenceFlows = (await reference.Role.SnapshotFlowsAsync()).Select(f => $"{f.Source} -> {f.Destination}").Order().ToArray();
        Assert.Equal(kept, flows.Length);
        Assert.Equal(referenceFlows, flows);
        Assert.All(flows, f => Assert.StartsWith("192.0.2.", f));
    }

    [Fact]
    public async Task Hold_NoTableThenInstalled_HeldPacketForwardedAsEgress()
    {
        var (engine, rig) = Start();
        var table = Table();
        Assert.Equal(1, _outside.Send([Datagram(4000, table)]));
        await WaitUntilAsync(engine, () => rig.Role.HeldPackets == 1);

        rig.Install(table);

        var (frame, peer) = Assert.Single(PortHelpers.ReceiveMatching(_inside, 1));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(frame, out var header));
        Assert.Equal(TunnelType.Egress, header.Type);
        Assert.Equal(DataPlaneRig.InsideDispatcher, header.DNode);
        Assert.Equal(PacketAddress.FromEndPoint(_tunnel.LocalEndPoint), peer);
        await WaitUntilAsync(engine, () => rig.Role.HeldPackets == 0);
        Assert.Equal(1, rig.Snapshot.FramesOut);
    }

    [Fact]
    public async Task Hold_NoTableForFiftyMilliseconds_DroppedHoldTimeoutAndBufferReturned()
    {
        var (engine, rig) = Start();
        Assert.Equal(1, _outside.Send([Datagram(4000, Table())]));
        await WaitUntilAsync(engine, () => rig.Role.HeldPackets == 1);

        _clock.Advance(TimeSpan.FromMilliseconds(60));
        engine.Wake();

        await WaitUntilAsync(engine, () => rig.Snapshot.Drop(DropReason.HoldTimeout) == 1);
        Assert.Equal(0, rig.Role.HeldPackets);
        engine.Dispose();
        _engine = null;
        Assert.Equal(_pool.Created, _pool.Available);
    }

    [Fact]
    public async Task Hold_MoreThanSixtyFourWaiting_RestDroppedHoldQueueFull()
    {
        var (engine, rig) = Start();
        var table = Table();
        var datagrams = Enumerable.Range(0, 70).Select(i => Datagram((ushort)(4000 + i), table)).ToArray();
        Assert.Equal(64, _outside.Send(datagrams.AsSpan(0, 64)));
        Assert.Equal(6, _outside.Send(datagrams.AsSpan(64)));

        await WaitUntilAsync(engine, () => rig.Snapshot.FramesIn == 70);

        Assert.Equal(64, rig.Role.HeldPackets);
        Assert.Equal(6, rig.Snapshot.Drop(DropReason.HoldQueueFull));
    }

    [Fact]
    public async Task SnapshotFlowsAsync_FromAnotherThread_ReadOnEngineThread()
    {
        var (engine, rig) = Start(fakeClock: false);
        var table = Table();
        rig.Install(table);
        Assert.Equal(1, _outside.Send([Datagram(4000, table)]));
        PortHelpers.ReceiveMatching(_inside, 1);

        var flows = await rig.Role.SnapshotFlowsAsync().WaitAsync(PortHelpers.Timeout);

        Assert.Equal("192.0.2.50:4000", Assert.Single(flows).Source);
    }

    [Fact]
    public async Task OnBatch_100kDatagramsForwarded_EngineThreadAllocationDoesNotGrowWithPackets()
    {
        var (engine, rig) = Start(fakeClock: false, flowCapacity: 16 * 1024);
        var table = Table();
        rig.Install(table);

        // 4096 flows: the first pass creates them, later passes find them.
        var datagrams = Enumerable.Range(0, 4096).Select(i => Datagram((ushort)(1024 + i), table)).ToArray();
        var pump = new Pump(_outside, _inside, datagrams);

        pump.Until(10_000);
        var start = await AllocatedOnEngineAsync(engine);
        pump.Until(10_000);
        var after10k = await AllocatedOnEngineAsync(engine);
        pump.Until(100_000);
        var after100k = await AllocatedOnEngineAsync(engine);

        var for10k = after10k - start;
        var for100k = after100k - after10k;
        Assert.True(
            for100k <= for10k + (16 * 1024),
            $"engine thread allocated {for10k} bytes for 10k datagrams but {for100k} bytes for 100k: something allocates per packet");
        Assert.Equal(4096, rig.Snapshot.FlowsCreated);
        Assert.Equal(0, rig.Snapshot.TotalDrops);
    }

    private static async Task<long> AllocatedOnEngineAsync(EpollEngine engine) =>
        await EpollEngineTests.OnEngineAsync(engine, GC.GetAllocatedBytesForCurrentThread);

    /// <summary>
    /// Sends batches of 64 while keeping at most a window in flight, so loopback buffers never overflow; when the
    /// sink goes quiet with a full window (a datagram was lost) the window resets.
    /// </summary>
    private sealed class Pump(UdpTunnelSocket generator, UdpTunnelSocket sink, PacketBuffer[] datagrams)
    {
        private const int Window = 512;
        private readonly PacketBuffer[] _in = [.. Enumerable.Range(0, PacketPort.MaxBatch).Select(_ => PacketBuffer.CreateUnpooled())];
        private int _next;

        public void Until(long count)
        {
            var clock = Stopwatch.StartNew();
            long received = 0;
            long inFlight = 0;
            while (received < count)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the data plane stopped forwarding");
                if (inFlight < Window)
                {
                    var sent = generator.Send(datagrams.AsSpan(_next, PacketPort.MaxBatch));
                    _next = (_next + PacketPort.MaxBatch) % datagrams.Length;
                    inFlight += sent;
                }

                if (sink.WaitReadable(inFlight >= Window ? 200 : 0))
                {
                    var n = sink.Receive(_in);
                    received += n;
                    inFlight -= n;
                }
                else if (inFlight >= Window)
                {
                    inFlight = 0;
                }
            }

            while (sink.WaitReadable(0) && sink.Receive(_in) > 0)
            {
            }
        }
    }
}
