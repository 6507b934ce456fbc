using System.Buffers.Binary;
using Dva.Shared.Security;
using Dva.Shared.Tests.Wire;
using Dva.Shared.Wire;
using static Dva.Shared.Tests.Security.SecureFixtures;

namespace Dva.Shared.Tests.Security;

public class TunnelOpenerTests
{
    public static TheoryData<AeadAlgorithm, bool> Modes => new()
    {
        { AeadAlgorithm.Aes256Gcm, true },
        { AeadAlgorithm.Aes256Gcm, false },
        { AeadAlgorithm.ChaCha20Poly1305, true },
        { AeadAlgorithm.ChaCha20Poly1305, false },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Open_SealedDatagram_RestoresPlaintextAndHeader(AeadAlgorithm algorithm, bool encrypted)
    {
        var ring = Ring(CountingKey(algorithm));
        using var sealer = new TunnelSealer(ring, new TunnelSequence(42));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var original = Datagram(200, encrypted, vlanTci: 100);
        var datagram = original.ToArray();
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));
        Assert.Equal(encrypted, !datagram.AsSpan(20, 202).SequenceEqual(original.AsSpan(20, 202)));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));

        var error = opener.Open(datagram, header, out var opened);

        Assert.Equal(SecureError.None, error);
        Assert.Equal(100, opened.VlanTci);
        Assert.Equal(42UL, opened.Seq);
        Assert.True(datagram.AsSpan(20, 202).SequenceEqual(original.AsSpan(20, 202)));
    }

    [Fact]
    public void Open_GoldenCiphertextFromIndependentImplementation_Accepted()
    {
        // The AES known answer of TunnelSealerTests, opened back into the golden secure DISPATCH.
        var datagram = Convert.FromHexString("1c0050010000000000000102000041ff00102000ce0467fd066ded5504a58bc8de577f4b66a675ad868c8c64312f15478437e12e8a85");
        using var opener = new TunnelOpener(Ring(CountingKey()), new ReplayGuard());

        Assert.Equal(SecureError.None, ReadAndOpen(opener, datagram));

        var expected = GoldenVectors.Bytes(GoldenVectors.SecureDispatchHeader + " " + GoldenVectors.Frame);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(datagram, 0, 38));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Open_EveryByteFlipped_Rejected(AeadAlgorithm algorithm, bool encrypted)
    {
        var ring = Ring(CountingKey(algorithm));
        using var sealer = new TunnelSealer(ring, new TunnelSequence(9));
        var sealedDatagram = Datagram(64, encrypted);
        Assert.Equal(SecureError.None, sealer.Seal(sealedDatagram, out _));

        for (var position = 0; position < sealedDatagram.Length; position++)
        {
            foreach (var mask in new byte[] { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff })
            {
                using var opener = new TunnelOpener(ring, new ReplayGuard());
                var modified = sealedDatagram.ToArray();
                modified[position] ^= mask;

                var error = ReadAndOpen(opener, modified);

                // Bytes the reader cannot accept stop there; K flipped names a phase without a key; all else fails the tag.
                var expected = position == 0 && mask == TunnelSealer.KeyPhaseBit
                    ? SecureError.UnknownKeyPhase
                    : SecureError.BadTag;
                Assert.True(error == expected || error == SecureError.BadHeader, $"byte {position} ^ {mask:x2}: {error}");
                if (position >= 20)
                {
                    Assert.Equal(SecureError.BadTag, error);
                }
            }
        }
    }

    [Fact]
    public void Open_ForgedTag_BadTagAndWindowUnchanged()
    {
        var ring = Ring(CountingKey());
        using var sealer = new TunnelSealer(ring, new TunnelSequence(500));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var genuine = Datagram();
        Assert.Equal(SecureError.None, sealer.Seal(genuine, out _));
        var forged = genuine.ToArray();
        new Random(1).NextBytes(forged.AsSpan(forged.Length - 16));

        Assert.Equal(SecureError.BadTag, ReadAndOpen(opener, forged));
        Assert.Equal(SecureError.None, ReadAndOpen(opener, genuine));
    }

    [Fact]
    public void Open_ForgedWithoutKey_BadTag()
    {
        using var opener = new TunnelOpener(Ring(CountingKey()), new ReplayGuard());
        var forged = Datagram(64, encrypted: false);
        BinaryPrimitives.WriteUInt64BigEndian(forged.AsSpan(4), 77);

        Assert.Equal(SecureError.BadTag, ReadAndOpen(opener, forged));
    }

    [Fact]
    public void Open_SameDatagramTwice_Replayed()
    {
        var ring = Ring(CountingKey());
        using var sealer = new TunnelSealer(ring, new TunnelSequence(3));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var datagram = Datagram(64, encrypted: false);
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));
        var copy = datagram.ToArray();

        Assert.Equal(SecureError.None, ReadAndOpen(opener, datagram));
        Assert.Equal(SecureError.Replayed, ReadAndOpen(opener, copy));
    }

    [Fact]
    public void Open_ReplayedOnAnotherThreadsOpener_Replayed()
    {
        var ring = Ring(CountingKey());
        var guard = new ReplayGuard();
        using var sealer = new TunnelSealer(ring, new TunnelSequence(3));
        using var first = new TunnelOpener(ring, guard);
        using var second = new TunnelOpener(ring, guard);
        var datagram = Datagram();
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));
        var copy = datagram.ToArray();

        Assert.Equal(SecureError.None, ReadAndOpen(first, datagram));
        Assert.Equal(SecureError.Replayed, ReadAndOpen(second, copy));
    }

    [Fact]
    public void Open_SeqBehindWindow_TooOld()
    {
        var ring = Ring(CountingKey());
        using var oldSealer = new TunnelSealer(ring, new TunnelSequence(10_000));
        using var newSealer = new TunnelSealer(ring, new TunnelSequence(10_000 + ReplayGuard.WindowSize));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var old = Datagram();
        var fresh = Datagram();
        Assert.Equal(SecureError.None, oldSealer.Seal(old, out _));
        Assert.Equal(SecureError.None, newSealer.Seal(fresh, out _));

        Assert.Equal(SecureError.None, ReadAndOpen(opener, fresh));
        Assert.Equal(SecureError.TooOld, ReadAndOpen(opener, old));
    }

    [Fact]
    public void Open_ReorderedWithinWindow_AllAcceptedOnce()
    {
        var ring = Ring(CountingKey());
        using var sealer = new TunnelSealer(ring, new TunnelSequence(1));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var packets = Enumerable.Range(0, 1100).Select(i =>
        {
            var d = Datagram(64, encrypted: false);
            Assert.Equal(SecureError.None, sealer.Seal(d, out _));
            return d;
        }).ToArray();

        // Newest first: each older packet is at most 1099 behind the highest seen (window ≥ 1024).
        foreach (var packet in packets.Reverse())
        {
            Assert.Equal(SecureError.None, ReadAndOpen(opener, packet.ToArray()));
        }

        Assert.All(packets, p => Assert.Equal(SecureError.Replayed, ReadAndOpen(opener, p)));
    }

    [Fact]
    public void Open_WindowsAreKeptPerSender()
    {
        var ring = Ring(CountingKey());
        using var sealer = new TunnelSealer(ring, new TunnelSequence(5));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var fromOne = Datagram(hnode: 1);
        Assert.Equal(SecureError.None, sealer.Seal(fromOne, out _));
        var fromTwo = Datagram(hnode: 2);
        Assert.Equal(SecureError.None, new TunnelSealer(ring, new TunnelSequence(5)).Seal(fromTwo, out _));

        Assert.Equal(SecureError.None, ReadAndOpen(opener, fromOne));
        Assert.Equal(SecureError.None, ReadAndOpen(opener, fromTwo));
    }

    [Fact]
    public void Open_WrongKeySamePhase_BadTag()
    {
        using var sealer = new TunnelSealer(Ring(TunnelKey.Generate()), new TunnelSequence(1));
        using var opener = new TunnelOpener(Ring(TunnelKey.Generate()), new ReplayGuard());
        var datagram = Datagram();
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        Assert.Equal(SecureError.BadTag, ReadAndOpen(opener, datagram));
    }

    [Fact]
    public void Open_PhaseWithoutKey_UnknownKeyPhase()
    {
        var key = CountingKey();
        using var sealer = new TunnelSealer(Ring(key, phase: 1), new TunnelSequence(1));
        using var opener = new TunnelOpener(Ring(key, phase: 0), new ReplayGuard());
        var datagram = Datagram();
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        Assert.Equal(SecureError.UnknownKeyPhase, ReadAndOpen(opener, datagram));
    }

    [Fact]
    public void Open_PlainDatagram_NotSecure()
    {
        using var opener = new TunnelOpener(Ring(CountingKey()), new ReplayGuard());

        Assert.Equal(SecureError.NotSecure, ReadAndOpen(opener, GoldenVectors.Bytes(GoldenVectors.Dispatch)));
    }

    [Fact]
    public void Open_SpanNotTheOneTheHeaderWasReadFrom_BadHeader()
    {
        var ring = Ring(CountingKey());
        using var sealer = new TunnelSealer(ring, new TunnelSequence(1));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var datagram = Datagram();
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));

        Assert.Equal(SecureError.BadHeader, opener.Open(datagram.AsSpan(0, datagram.Length - 1), header, out _));
    }

    [Fact]
    public void Open_SecureControlProbeAuthenticated_ProbeReadable()
    {
        var buffer = new byte[128];
        var fields = GoldenVectors.ControlFields with { Flags = TunnelFlags.Secure };
        Assert.Equal(WireError.None, ControlProbe.TryWrite(buffer, fields, GoldenVectors.ControlProbeValue, out var length));
        var ring = Ring(CountingKey());
        using var sealer = new TunnelSealer(ring, new TunnelSequence(1));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var datagram = buffer.AsSpan(0, length).ToArray();
        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        Assert.Equal(SecureError.None, ReadAndOpen(opener, datagram));
        Assert.Equal(WireError.None, ControlProbe.TryRead(datagram, out _, out var probe));
        Assert.Equal(GoldenVectors.ControlProbeValue, probe);
    }
}
