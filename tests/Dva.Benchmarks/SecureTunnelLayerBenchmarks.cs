using BenchmarkDotNet.Attributes;
using Dva.Node.Agent;
using Dva.Node.Io;
using Dva.Shared.Security;
using Dva.Shared.Wire;

namespace Dva.Benchmarks;

/// <summary>
/// What the node's secure layer (<see cref="SecureTunnel"/>, in the tunnel socket) adds per datagram on top of the
/// codec measured by <see cref="SecureTunnelBenchmarks"/>: plain → sealed in the buffer's head- and tailroom, then
/// opened back to the plain datagram, as one node sends and another receives. Plain mode does neither (its cost is
/// the header read alone). Figures: docs/benchmarks.md, "Secure tunnel".
/// </summary>
[MemoryDiagnoser]
public class SecureTunnelLayerBenchmarks : IDisposable
{
    private PacketBuffer _buffer = null!;
    private SecureTunnel _sender = null!;
    private SecureTunnel _receiver = null!;

    [Params(64, 1500)]
    public int FrameLength { get; set; }

    [Params(TunnelSecurityMode.Authenticated, TunnelSecurityMode.Encrypted)]
    public TunnelSecurityMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var keys = new TunnelKeyRing();
        keys.Install(0, TunnelKey.Generate());
        var counters = new NodeCounters();
        _sender = new SecureTunnel(Mode, keys, new ReplayGuard(), new TunnelSequence(1), counters.CreateBlock());
        _receiver = new SecureTunnel(Mode, keys, new ReplayGuard(), new TunnelSequence(1), counters.CreateBlock());
        _buffer = PacketBuffer.CreateUnpooled();
        var frame = new byte[FrameLength];
        new Random(1).NextBytes(frame);
        _buffer.TrySetFrame(frame);
        var fields = new TunnelFields { DNode = 5, HNode = 1, Type = TunnelType.Dispatch, Era = 1, Ttl = TunnelFields.InitialTtl, SNode = 1, IfId = 2 };
        var headerLength = TunnelLayout.HeaderLength(TunnelFlags.None, 0);
        _buffer.TryPrepend(headerLength, out _);
        TunnelWriter.TryWriteInFront(_buffer.Frame, headerLength, FrameLength, fields, [], out _, out _);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _sender?.Dispose();
        _receiver?.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true)]
    public int PlainRead() => (int)TunnelHeader.TryRead(_buffer.Frame, out _);

    /// <summary>Seal then open in place: the buffer is the plain datagram again afterwards (each seal takes a new SEQ).</summary>
    [Benchmark]
    public int SealThenOpen()
    {
        var sealedDrop = _sender.TrySeal(_buffer);
        var openedDrop = _receiver.TryOpen(_buffer);
        return (sealedDrop is null ? 0 : 1) + (openedDrop is null ? 0 : 2);
    }
}
