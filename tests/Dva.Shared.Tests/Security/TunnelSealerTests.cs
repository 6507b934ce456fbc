using System.Buffers.Binary;
using System.Security.Cryptography;
using Dva.Shared.Security;
using Dva.Shared.Tests.Wire;
using Dva.Shared.Wire;
using static Dva.Shared.Tests.Security.SecureFixtures;

namespace Dva.Shared.Tests.Security;

public class TunnelSealerTests
{
    // Sealed by an independent implementation (Python 'cryptography', AESGCM / ChaCha20Poly1305) from the
    // golden secure DISPATCH (docs/protocol.md §5), key 00..1f, nonce 00000001 0000000000000102.
    private const string AesSealedSecureDispatch =
        "1c0050010000000000000102000041ff00102000" + "ce0467fd066ded5504a58bc8de577f4b66a6" + "75ad868c8c64312f15478437e12e8a85";

    private const string ChaChaSealedSecureDispatch =
        "1c0050010000000000000102000041ff00102000" + "1f0d1d390f67be053e3057f91991819968027" + "d086e43d0eb70914e9e2cecf5198582";

    // The same DISPATCH with S only (FLAGS 8): payload in the clear, TAG = AES-GCM(empty plaintext, AD = bytes 0..37).
    private const string AesAuthenticatedDispatch =
        "180050010000000000000102000041ff00102000000002000000000a02000000000b08004500" + "d9a3f56a117266eac227b4162feb3cce";

    [Fact]
    public void Seal_GoldenSecureDispatchAes_MatchesIndependentImplementation()
    {
        var datagram = GoldenVectors.Bytes(GoldenVectors.SecureDispatch);
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(0x102));

        Assert.Equal(SecureError.None, sealer.Seal(datagram, out var seq));

        Assert.Equal(0x102UL, seq);
        Assert.Equal(AesSealedSecureDispatch, Convert.ToHexStringLower(datagram));
    }

    [Fact]
    public void Seal_GoldenSecureDispatchAes_EqualsAesGcmOverHandComputedSpans()
    {
        var plain = GoldenVectors.Bytes(GoldenVectors.SecureDispatch);
        var datagram = plain.ToArray();
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(0x102));

        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        // By hand from the documented layout: nonce = HNODE 1 as 4 bytes ‖ SEQ; AAD = L1 ‖ SEQ ‖ L2 = bytes 0..19;
        // payload = VLAN TCI ‖ frame = bytes 20..37; TAG = bytes 38..53.
        byte[] nonce = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01, 0x02];
        var aad = plain[..20];
        var ciphertext = new byte[18];
        var tag = new byte[16];
        using (var aes = new AesGcm(CountingKeyBytes, 16))
        {
            aes.Encrypt(nonce, plain.AsSpan(20, 18), ciphertext, tag, aad);
        }

        Assert.Equal(Convert.ToHexString(aad), Convert.ToHexString(datagram, 0, 20));
        Assert.Equal(Convert.ToHexString(ciphertext), Convert.ToHexString(datagram, 20, 18));
        Assert.Equal(Convert.ToHexString(tag), Convert.ToHexString(datagram, 38, 16));
    }

    [Fact]
    public void Seal_GoldenSecureDispatchChaCha_MatchesIndependentImplementation()
    {
        Assert.True(ChaCha20Poly1305.IsSupported, "this platform's OpenSSL has ChaCha20-Poly1305");
        var datagram = GoldenVectors.Bytes(GoldenVectors.SecureDispatch);
        using var sealer = new TunnelSealer(Ring(CountingKey(AeadAlgorithm.ChaCha20Poly1305)), new TunnelSequence(0x102));

        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        Assert.Equal(ChaChaSealedSecureDispatch, Convert.ToHexStringLower(datagram));
    }

    [Fact]
    public void Seal_AuthenticatedOnly_LeavesPayloadClearAndTagsWholeDatagram()
    {
        var datagram = GoldenVectors.Bytes(GoldenVectors.SecureDispatch);
        datagram[0] = 0x18; // S without E
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(0x102));

        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        Assert.Equal(AesAuthenticatedDispatch, Convert.ToHexStringLower(datagram));
    }

    [Fact]
    public void Seal_SendPhaseOne_SetsKeyPhaseFlag()
    {
        var datagram = GoldenVectors.Bytes(GoldenVectors.SecureDispatch);
        using var sealer = new TunnelSealer(Ring(CountingKey(), phase: 1), new TunnelSequence(7));

        Assert.Equal(SecureError.None, sealer.Seal(datagram, out _));

        Assert.Equal(0x1e, datagram[0]);
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.True(header.Flags.HasFlag(TunnelFlags.KeyPhase));
    }

    [Fact]
    public void Seal_ManyPackets_SeqIncreasesByOneAndIsWrittenOnTheWire()
    {
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(1000));

        for (var i = 0UL; i < 5; i++)
        {
            var datagram = Datagram();
            Assert.Equal(SecureError.None, sealer.Seal(datagram, out var seq));
            Assert.Equal(1000 + i, seq);
            Assert.Equal(1000 + i, BinaryPrimitives.ReadUInt64BigEndian(datagram.AsSpan(4)));
        }
    }

    [Fact]
    public void Seal_TwoSealersSharingASequence_NeverReuseASeq()
    {
        var ring = Ring(CountingKey());
        var sequence = new TunnelSequence(1);
        using var a = new TunnelSealer(ring, sequence);
        using var b = new TunnelSealer(ring, sequence);
        var seen = new HashSet<ulong>();

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(SecureError.None, (i % 2 == 0 ? a : b).Seal(Datagram(), out var seq));
            Assert.True(seen.Add(seq));
        }
    }

    [Fact]
    public void Seal_PlainDatagram_NotSecure()
    {
        var datagram = GoldenVectors.Bytes(GoldenVectors.Dispatch);
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(1));

        Assert.Equal(SecureError.NotSecure, sealer.Seal(datagram, out _));
        Assert.Equal(GoldenVectors.Dispatch.Replace(" ", "", StringComparison.Ordinal), Convert.ToHexStringLower(datagram));
    }

    [Fact]
    public void Seal_NoKeyForSendPhase_NoSendKey()
    {
        using var sealer = new TunnelSealer(new TunnelKeyRing(), new TunnelSequence(1));

        Assert.Equal(SecureError.NoSendKey, sealer.Seal(Datagram(), out _));
    }

    [Fact]
    public void Seal_TruncatedDatagram_BadHeader()
    {
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(1));

        Assert.Equal(SecureError.BadHeader, sealer.Seal(Datagram().AsSpan(0, 30), out _));
    }

    [Fact]
    public void Seal_EncryptedControl_Refused()
    {
        var buffer = new byte[128];
        var fields = GoldenVectors.ControlFields with { Flags = TunnelFlags.Secure | TunnelFlags.Encrypted };
        Assert.Equal(WireError.None, ControlProbe.TryWrite(buffer, fields, GoldenVectors.ControlProbeValue, out var length));
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(1));

        Assert.Equal(SecureError.EncryptedControl, sealer.Seal(buffer.AsSpan(0, length), out _));
    }

    [Fact]
    public void Seal_SequenceUsedUp_SequenceExhaustedAndStaysSo()
    {
        using var sealer = new TunnelSealer(Ring(CountingKey()), new TunnelSequence(ulong.MaxValue - 1));

        Assert.Equal(SecureError.None, sealer.Seal(Datagram(), out _));
        Assert.Equal(SecureError.SequenceExhausted, sealer.Seal(Datagram(), out _));
        Assert.Equal(SecureError.SequenceExhausted, sealer.Seal(Datagram(), out _));
    }

    [Fact]
    public void StartingNow_FakeClock_UnixNanoseconds()
    {
        var time = new FixedTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        var sequence = TunnelSequence.StartingNow(time);

        Assert.Equal(1_767_225_600_000_000_000UL, sequence.Peek);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
