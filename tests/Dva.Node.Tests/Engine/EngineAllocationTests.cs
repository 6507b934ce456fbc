using System.Diagnostics;
using System.Net;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Tests.Io;

namespace Dva.Node.Tests.Engine;

public class EngineAllocationTests
{
    [Fact]
    public async Task EngineLoop_100kDatagramsEchoedToSink_AllocatesNoMoreThanFor10k()
    {
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        using var input = UdpTunnelSocket.Open(loopback);
        using var sink = UdpTunnelSocket.Open(loopback);
        using var generator = UdpTunnelSocket.Open(loopback);
        using var engine = new EpollEngine(new BufferPool(1024));
        var sinkAddress = PacketAddress.FromEndPoint(sink.LocalEndPoint);
        long handled = 0;
        engine.Register(input, batch =>
        {
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Peer = sinkAddress;
                batch.Send(i, input);
            }

            Volatile.Write(ref handled, handled + batch.Count);
        });
        engine.Start();
        var pump = new Pump(generator, sink, input.LocalEndPoint);

        pump.Until(() => Volatile.Read(ref handled) >= 10_000);
        var start = await AllocatedOnEngineAsync(engine);
        var first = Volatile.Read(ref handled);
        pump.Until(() => Volatile.Read(ref handled) >= first + 10_000);
        var after10k = await AllocatedOnEngineAsync(engine);
        var second = Volatile.Read(ref handled);
        pump.Until(() => Volatile.Read(ref handled) >= second + 100_000);
        var after100k = await AllocatedOnEngineAsync(engine);

        var for10k = after10k - start;
        var for100k = after100k - after10k;
        Assert.True(
            for100k <= for10k + 16 * 1024,
            $"engine thread allocated {for10k} bytes for 10k datagrams but {for100k} bytes for 100k: something allocates per packet");
    }

    private static async Task<long> AllocatedOnEngineAsync(EpollEngine engine) =>
        await EpollEngineTests.OnEngineAsync(engine, GC.GetAllocatedBytesForCurrentThread);

    /// <summary>
    /// Sends in batches of 64 while keeping at most a window in flight, so loopback buffers never
    /// overflow; a lost datagram only shrinks the window until the sink goes quiet, then it resets.
    /// </summary>
    private sealed class Pump
    {
        private const int Window = 512;
        private readonly UdpTunnelSocket _generator;
        private readonly UdpTunnelSocket _sink;
        private readonly PacketBuffer[] _out;
        private readonly PacketBuffer[] _in;
        private long _inFlight;

        public Pump(UdpTunnelSocket generator, UdpTunnelSocket sink, IPEndPoint target)
        {
            _generator = generator;
            _sink = sink;
            _out = [.. Enumerable.Range(0, PacketPort.MaxBatch).Select(i => PortHelpers.Frame(PortHelpers.Pattern(i, 64 + i), target))];
            _in = [.. Enumerable.Range(0, PacketPort.MaxBatch).Select(_ => PacketBuffer.CreateUnpooled())];
        }

        public void Until(Func<bool> done)
        {
            var clock = Stopwatch.StartNew();
            while (!done())
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the engine stopped forwarding");
                if (_inFlight < Window)
                {
                    _inFlight += _generator.Send(_out);
                }

                if (_sink.WaitReadable(_inFlight >= Window ? 200 : 0))
                {
                    _inFlight -= _sink.Receive(_in);
                }
                else if (_inFlight >= Window)
                {
                    _inFlight = 0;
                }
            }

            while (_sink.WaitReadable(0) && _sink.Receive(_in) > 0)
            {
            }

            _inFlight = 0;
        }
    }
}
