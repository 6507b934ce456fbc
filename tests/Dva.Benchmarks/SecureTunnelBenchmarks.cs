using BenchmarkDotNet.Attributes;
using Dva.Shared.Security;
using Dva.Shared.Wire;

namespace Dva.Benchmarks;

/// <summary>
/// What secure mode costs per packet (docs/protocol.md, "Secure mode in detail"): a plain DISPATCH read against
/// seal + read + open of the same DISPATCH, encrypted (S+E) or only authenticated (S), for a minimum and a full
/// frame, with each AEAD. Sealing then opening in place restores the plaintext, so the buffer is reused as is.
/// Figures and the command: docs/protocol.md, "Secure mode in detail".
/// </summary>
[MemoryDiagnoser]
public class SecureTunnelBenchmarks : IDisposable
{
    private const int Headroom = 128;

    private byte[] _plain = [];
    private byte[] _encrypted = [];
    private byte[] _authenticated = [];
    private TunnelSealer _sealer = null!;
    private TunnelOpener _opener = null!;

    [Params(64, 1500)]
    public int FrameLength { get; set; }

    [Params(AeadAlgorithm.Aes256Gcm, AeadAlgorithm.ChaCha20Poly1305)]
    public AeadAlgorithm Algorithm { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var ring = new TunnelKeyRing();
        ring.Install(0, TunnelKey.Generate(Algorithm));
        ring.UseForSending(0);
        _sealer = new TunnelSealer(ring, new TunnelSequence(1));
        _opener = new TunnelOpener(ring, new ReplayGuard());
        _plain = Datagram(TunnelFlags.None);
        _encrypted = Datagram(TunnelFlags.Secure | TunnelFlags.Encrypted);
        _authenticated = Datagram(TunnelFlags.Secure);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _sealer?.Dispose();
        _opener?.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true)]
    public int PlainRead()
    {
        var error = TunnelHeader.TryRead(_plain, out var header);
        return (int)error + header.InnerOffset;
    }

    [Benchmark]
    public int SealOpenEncrypted() => SealOpen(_encrypted);

    [Benchmark]
    public int SealOpenAuthenticated() => SealOpen(_authenticated);

    private int SealOpen(byte[] datagram)
    {
        var sealedResult = _sealer.Seal(datagram, out _);
        TunnelHeader.TryRead(datagram, out var header);
        var opened = _opener.Open(datagram, header, out var after);
        return (int)sealedResult + (int)opened + after.InnerOffset;
    }

    private byte[] Datagram(TunnelFlags flags)
    {
        var buffer = new byte[Headroom + FrameLength + TunnelLayout.TagLength];
        new Random(1).NextBytes(buffer.AsSpan(Headroom, FrameLength));
        var fields = new TunnelFields
        {
            Flags = flags, DNode = 5, HNode = 1, Type = TunnelType.Dispatch, Era = 1, Ttl = TunnelFields.InitialTtl, SNode = 1, IfId = 2,
        };
        TunnelWriter.TryWriteInFront(buffer, Headroom, FrameLength, fields, default, out var start, out var length);
        return buffer.AsSpan(start, length).ToArray();
    }
}
