using BenchmarkDotNet.Attributes;
using Dva.Shared.Wire;

namespace Dva.Benchmarks;

/// <summary>
/// Per-packet cost of the tunnel header: what a DP pays to accept a DISPATCH, and what a dispatcher pays
/// to encapsulate a minimum-size frame. Both must stay allocation-free.
/// </summary>
[MemoryDiagnoser]
public class WireBenchmarks
{
    private const int Headroom = 128;
    private const int FrameLength = 64;

    private static readonly TunnelFields DispatchFields = new()
    {
        DNode = 5, HNode = 1, Type = TunnelType.Dispatch, Era = 1, Ttl = TunnelFields.InitialTtl, SNode = 1, IfId = 2,
    };

    private readonly byte[] _buffer = new byte[Headroom + FrameLength + TunnelLayout.TagLength];
    private byte[] _datagram = [];

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_buffer.AsSpan(Headroom, FrameLength));
        TunnelWriter.TryWriteInFront(_buffer, Headroom, FrameLength, DispatchFields, default, out var start, out var length);
        _datagram = _buffer.AsSpan(start, length).ToArray();
    }

    [Benchmark]
    public int ReadDispatch()
    {
        var error = TunnelHeader.TryRead(_datagram, out var header);
        return (int)error + header.InnerOffset;
    }

    [Benchmark]
    public int WriteDispatchInFrontOf64ByteFrame()
    {
        TunnelWriter.TryWriteInFront(_buffer, Headroom, FrameLength, DispatchFields, default, out var start, out var length);
        return start + length;
    }
}
