using System.Net;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Tests.Io;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Node.Tests.Engine;

public class EpollEngineTests
{
    private const byte Quit = 0xEE;
    private const byte Last = 0xAA;

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    [Fact]
    public async Task Post_FromTestThread_RunsOnNamedEngineThread()
    {
        using var engine = new EpollEngine(new BufferPool(128), id: 7);
        engine.Start();

        var name = await OnEngineAsync(engine, () => Thread.CurrentThread.Name);

        Assert.Equal("dva-engine-7", name);
    }

    [Fact]
    public void Register_UdpEcho_EveryDatagramReturnsToItsSender()
    {
        using var port = UdpTunnelSocket.Open(AnyLoopback);
        using var client = UdpTunnelSocket.Open(AnyLoopback);
        using var engine = new EpollEngine(new BufferPool(256));
        engine.Register(port, batch =>
        {
            for (var i = 0; i < batch.Count; i++)
            {
                batch.Send(i, batch.Port);
            }
        });
        engine.Start();
        var payloads = Enumerable.Range(0, 200).Select(i => PortHelpers.Pattern(i, 40 + i)).ToArray();

        foreach (var chunk in payloads.Chunk(50))
        {
            Assert.Equal(chunk.Length, client.Send(chunk.Select(p => PortHelpers.Frame(p, port.LocalEndPoint)).ToArray()));
        }

        var echoed = PortHelpers.ReceiveMatching(client, payloads.Length);

        Assert.Equal(payloads, echoed.Select(e => e.Frame));
        Assert.All(echoed, e => Assert.Equal(PacketAddress.FromEndPoint(port.LocalEndPoint), e.Peer));
    }

    [Fact]
    public void Register_RelayToSendOnlyPort_SinkReceivesFromRelayAddressAndNoBufferLeaks()
    {
        using var rig = new RelayRig(new BufferPool(256));
        rig.Start(batch =>
        {
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Peer = rig.SinkAddress;
                batch.Send(i, rig.Output);
            }
        });

        rig.Generate(64, 100);
        var relayed = PortHelpers.ReceiveMatching(rig.Sink, 64);

        Assert.Equal(Enumerable.Range(0, 64).Select(i => PortHelpers.Pattern(i, 100)), relayed.Select(r => r.Frame));
        Assert.All(relayed, r => Assert.Equal(PacketAddress.FromEndPoint(rig.Output.LocalEndPoint), r.Peer));
        rig.Engine.Dispose();
        Assert.Equal(rig.Pool.Created, rig.Pool.Available);
        Assert.Equal(0, rig.Pool.DoubleReturns);
    }

    [Fact]
    public void Send_TenFullBatchesInOneTurn_EveryPacketReachesTheSink()
    {
        using var rig = new RelayRig(new BufferPool(1024));
        rig.Start(batch =>
        {
            // Each packet fans out to ten copies: 640 sends, ten early flushes of a full batch in one turn.
            for (var i = 0; i < batch.Count; i++)
            {
                for (var copy = 0; copy < 10 && rig.Pool.TryRent(out var buffer); copy++)
                {
                    buffer.TrySetFrame(batch[i].Frame);
                    buffer.Peer = rig.SinkAddress;
                    rig.Engine.Send(rig.Output, buffer);
                }
            }
        });

        rig.Generate(64, 80);
        var received = PortHelpers.ReceiveMatching(rig.Sink, 640);

        Assert.Equal(640, received.Count);
        Assert.Equal(0, rig.Engine.HandlerFaults);
    }

    /// <summary>
    /// A port with a poll interval: a burst wakes the engine, which finds several datagrams and polls the port; after the
    /// burst it goes back to epoll and sleeps (its turns stop), and the next burst wakes it again. Every datagram arrives
    /// in order. If the engine never went back to epoll it would spin at the poll interval; if it did not re-arm
    /// readiness the second burst would never arrive.
    /// </summary>
    [Fact]
    public void PollInterval_BurstsAndPauses_EveryDatagramRelayedAndTheIdleEngineSleeps()
    {
        using var rig = new RelayRig(new BufferPool(512));
        var polledWhileHandling = StartPolledRelay(rig, TimeSpan.FromMilliseconds(2));

        for (var burst = 0; burst < 3; burst++)
        {
            // Built first, then sent back to back: the engine's first read finds many waiting and polls for the rest.
            var chunks = Enumerable.Range(0, 6)
                .Select(chunk => Enumerable.Range(0, 50).Select(i => PortHelpers.Frame(PortHelpers.Pattern((burst * 1000) + (chunk * 50) + i, 64), rig.Input.LocalEndPoint)).ToArray())
                .ToArray();
            foreach (var chunk in chunks)
            {
                rig.Generator.Send(chunk);
            }

            var relayed = PortHelpers.ReceiveMatching(rig.Sink, 300);
            Assert.Equal(Enumerable.Range(0, 300).Select(i => PortHelpers.Pattern((burst * 1000) + i, 64)), relayed.Select(r => r.Frame));

            Thread.Sleep(50);
            var turns = rig.Engine.Turns;
            Thread.Sleep(300);
            Assert.InRange(rig.Engine.Turns - turns, 0, 20);
            Assert.Equal(0, rig.Engine.PollingPorts);
        }

        Assert.Equal(1, polledWhileHandling());
    }

    /// <summary>One datagram at a time, each relayed before the next is sent: every wakeup reads one, so the port is never polled.</summary>
    [Fact]
    public void PollInterval_SparseTraffic_NeverPolled()
    {
        using var rig = new RelayRig(new BufferPool(128));
        var polledWhileHandling = StartPolledRelay(rig, TimeSpan.FromMicroseconds(200));

        for (var i = 0; i < 20; i++)
        {
            rig.Generator.Send([PortHelpers.Frame(PortHelpers.Pattern(i, 64), rig.Input.LocalEndPoint)]);
            Assert.Equal(PortHelpers.Pattern(i, 64), PortHelpers.ReceiveMatching(rig.Sink, 1)[0].Frame);
        }

        Assert.Equal(0, polledWhileHandling());
        Assert.Equal(0, rig.Engine.PollingPorts);
    }

    /// <summary>
    /// Three polled ports; the first to be polled is unregistered by its own handler while the other two have datagrams
    /// waiting. Unregistering reorders the polling set under the engine's poll loop; both other ports must still be read
    /// in that same turn, not one poll interval (here two seconds) later.
    /// </summary>
    [Fact]
    public void PollInterval_HandlerUnregistersItsPolledPort_TheOtherPolledPortsAreReadInThatTurn()
    {
        var pool = new BufferPool(256);
        using var engine = new EpollEngine(pool);
        using var generator = UdpTunnelSocket.Open(AnyLoopback);
        UdpTunnelSocket[] ports = [UdpTunnelSocket.Open(AnyLoopback), UdpTunnelSocket.Open(AnyLoopback), UdpTunnelSocket.Open(AnyLoopback)];
        var reads = new List<(int Port, byte Mark, long Turn)>[] { [], [], [] };
        try
        {
            for (var p = 0; p < ports.Length; p++)
            {
                var index = p;
                ports[p].PollInterval = TimeSpan.FromSeconds(2);
                engine.Register(ports[p], batch =>
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        lock (reads)
                        {
                            reads[index].Add((index, batch[i].Frame[0], engine.Turns));
                        }

                        if (batch[i].Frame[0] == Quit)
                        {
                            engine.Unregister(ports[index]);
                        }
                    }
                });
            }

            engine.Start();

            // Each step's datagrams are sent while the engine is held in a posted action, so its next turn finds them all
            // waiting (a read of two or more starts polling). Port 0 is polled first, so it is first in the polling set;
            // then ports 1 and 2 join it (port 0 read again, so that two empty reads do not send it back to epoll).
            WhileEngineHeld(() => Send(0, 3));
            WaitFor(() => Count(0) == 3 && engine.PollingPorts == 1, "port 0 polled");
            WhileEngineHeld(() =>
            {
                Send(0, 1);
                Send(1, 3);
                Send(2, 3);
            });
            WaitFor(() => Count(0) == 4 && Count(1) == 3 && Count(2) == 3 && engine.PollingPorts == 3, "all three ports polled");

            // Polled ports raise no wakeup: the three datagrams are read together at the next poll.
            WhileEngineHeld(() => generator.Send([Datagram(1, Last), Datagram(2, Last), Datagram(0, Quit)]));
            WaitFor(() => Count(1) == 4 && Count(2) == 4 && Count(0) == 5, "the last datagrams read");

            lock (reads)
            {
                var quitTurn = reads[0][^1].Turn;
                Assert.Equal([(1, Last, quitTurn), (2, Last, quitTurn)], [reads[1][^1], reads[2][^1]]);
            }

            Assert.Equal(2, engine.PollingPorts);
        }
        finally
        {
            engine.Dispose();
            foreach (var port in ports)
            {
                port.Dispose();
            }
        }

        void Send(int port, int count) => generator.Send([.. Enumerable.Range(0, count).Select(_ => Datagram(port, 1))]);

        void WhileEngineHeld(Action send)
        {
            using var entered = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();
            using var left = new ManualResetEventSlim();
            engine.Post(() =>
            {
                entered.Set();
                release.Wait(PortHelpers.Timeout);
                left.Set();
            });
            Assert.True(entered.Wait(PortHelpers.Timeout), "the engine did not run a posted action");
            send();
            release.Set();
            Assert.True(left.Wait(PortHelpers.Timeout), "the engine did not leave the posted action");
        }

        PacketBuffer Datagram(int port, byte mark) => PortHelpers.Frame([mark, .. new byte[63]], ports[port].LocalEndPoint);

        int Count(int port)
        {
            lock (reads)
            {
                return reads[port].Count;
            }
        }

        static void WaitFor(Func<bool> condition, string what)
        {
            var deadline = DateTime.UtcNow + PortHelpers.Timeout;
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for: {what}");
                Thread.Sleep(1);
            }
        }
    }

    [Fact]
    public async Task Send_ToPortOfNoEngine_RejectedAndCounted()
    {
        var pool = new BufferPool(8);
        using var stray = UdpTunnelSocket.Open(AnyLoopback);
        using var engine = new EpollEngine(pool);
        engine.Start();

        var accepted = await OnEngineAsync(engine, () => pool.TryRent(out var buffer) && engine.Send(stray, buffer));

        Assert.False(accepted);
        Assert.Equal(1, engine.SendRejected);
    }

    [Fact]
    public async Task AddTimer_TestClockAdvanced_FiresOncePerPeriodOnEngineThread()
    {
        var clock = new FakeTimeProvider();
        using var engine = new EpollEngine(new BufferPool(8), clock, id: 41);
        var fired = 0;
        string? thread = null;
        var firstFire = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.AddTimer(TimeSpan.FromSeconds(1), () =>
        {
            fired++;
            thread = Thread.CurrentThread.Name;
            firstFire.TrySetResult();
        });
        engine.Start();

        clock.Advance(TimeSpan.FromMilliseconds(999));
        var before = await OnEngineAsync(engine, () => fired);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        engine.Wake();
        await firstFire.Task.WaitAsync(PortHelpers.Timeout);
        var after = await OnEngineAsync(engine, () => fired);

        Assert.Equal(0, before);
        Assert.Equal(1, after);
        Assert.Equal("dva-engine-41", thread);
    }

    [Fact]
    public async Task AddTimer_Cancelled_NeverFires()
    {
        var clock = new FakeTimeProvider();
        using var engine = new EpollEngine(new BufferPool(8), clock);
        var fired = 0;
        var timer = engine.AddTimer(TimeSpan.FromSeconds(1), () => fired++);
        engine.Start();

        timer.Cancel();
        clock.Advance(TimeSpan.FromSeconds(5));
        var count = await OnEngineAsync(engine, () => fired);

        Assert.Equal(0, count);
    }

    [Fact]
    public async Task Handler_Throws_CountedAndLoopKeepsServing()
    {
        using var port = UdpTunnelSocket.Open(AnyLoopback);
        using var client = UdpTunnelSocket.Open(AnyLoopback);
        using var engine = new EpollEngine(new BufferPool(256));
        var calls = 0;
        engine.Register(port, batch =>
        {
            if (++calls == 1)
            {
                throw new InvalidOperationException("handler bug");
            }

            batch.Send(0, batch.Port);
        });
        engine.Start();

        client.Send([PortHelpers.Frame([1], port.LocalEndPoint)]);
        await WaitUntilAsync(engine, () => engine.HandlerFaults == 1);
        client.Send([PortHelpers.Frame([2], port.LocalEndPoint)]);
        var echoed = PortHelpers.ReceiveMatching(client, 1);

        Assert.Equal(new byte[] { 2 }, echoed[0].Frame);
        Assert.IsType<InvalidOperationException>(engine.LastFault);
    }

    [Fact]
    public void Register_WhileRunningFromOtherThread_ThrowsPointingToPost()
    {
        using var port = UdpTunnelSocket.Open(AnyLoopback);
        using var engine = new EpollEngine(new BufferPool(8));
        engine.Start();

        var error = Assert.Throws<InvalidOperationException>(() => engine.Register(port, _ => { }));

        Assert.Contains("Post", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stop_IdleEngine_ReturnsAndDisposeIsIdempotent()
    {
        var engine = new EpollEngine(new BufferPool(8));
        engine.Start();

        engine.Stop();
        engine.Dispose();
        engine.Dispose();

        Assert.False(engine.IsEngineThread);
    }

    internal static async Task<T> OnEngineAsync<T>(EpollEngine engine, Func<T> work)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Post(() => result.SetResult(work()));
        return await result.Task.WaitAsync(PortHelpers.Timeout);
    }

    private static async Task WaitUntilAsync(EpollEngine engine, Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(PortHelpers.Timeout);
        while (!await OnEngineAsync(engine, condition))
        {
            timeout.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }

    /// <summary>generator → input (engine, handler) → output (send-only) → sink, all on loopback.</summary>
    /// <summary>
    /// Starts <paramref name="rig"/> relaying its input (with <paramref name="interval"/> as its poll interval) to the
    /// sink; the result reads the most ports the engine was polling while the handler ran.
    /// </summary>
    private static Func<int> StartPolledRelay(RelayRig rig, TimeSpan interval)
    {
        rig.Input.PollInterval = interval;
        var polledWhileHandling = 0;
        rig.Start(batch =>
        {
            Volatile.Write(ref polledWhileHandling, Math.Max(polledWhileHandling, rig.Engine.PollingPorts));
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Peer = rig.SinkAddress;
                batch.Send(i, rig.Output);
            }
        });
        return () => Volatile.Read(ref polledWhileHandling);
    }

    private sealed class RelayRig : IDisposable
    {
        public RelayRig(BufferPool pool)
        {
            Pool = pool;
            Engine = new EpollEngine(pool);
            SinkAddress = PacketAddress.FromEndPoint(Sink.LocalEndPoint);
        }

        public BufferPool Pool { get; }

        public EpollEngine Engine { get; }

        public UdpTunnelSocket Input { get; } = UdpTunnelSocket.Open(AnyLoopback);

        public UdpTunnelSocket Output { get; } = UdpTunnelSocket.Open(AnyLoopback);

        public UdpTunnelSocket Sink { get; } = UdpTunnelSocket.Open(AnyLoopback);

        public UdpTunnelSocket Generator { get; } = UdpTunnelSocket.Open(AnyLoopback);

        public PacketAddress SinkAddress { get; }

        public void Start(PacketBatchHandler handler)
        {
            Engine.Register(Input, handler);
            Engine.RegisterSendOnly(Output);
            Engine.Start();
        }

        public void Generate(int count, int length) =>
            Generator.Send([.. Enumerable.Range(0, count).Select(i => PortHelpers.Frame(PortHelpers.Pattern(i, length), Input.LocalEndPoint))]);

        public void Dispose()
        {
            Engine.Dispose();
            Input.Dispose();
            Output.Dispose();
            Sink.Dispose();
            Generator.Dispose();
        }
    }
}
