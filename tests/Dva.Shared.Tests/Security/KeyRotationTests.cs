using Dva.Shared.Security;
using static Dva.Shared.Tests.Security.SecureFixtures;

namespace Dva.Shared.Tests.Security;

public class KeyRotationTests
{
    [Fact]
    public void Rotation_UnderAStreamOfPackets_LosesNone()
    {
        // Two nodes, each with its own ring (as delivered by the manager); node 1 streams to node 5, with packets
        // in flight (sealed, not yet opened) at every step of the rotation.
        var first = TunnelKey.Generate();
        var second = TunnelKey.Generate(AeadAlgorithm.ChaCha20Poly1305);
        var senderRing = Ring(first, phase: 0);
        var receiverRing = Ring(first, phase: 0);
        using var sealer = new TunnelSealer(senderRing, new TunnelSequence(1));
        using var opener = new TunnelOpener(receiverRing, new ReplayGuard());
        var inFlight = new Queue<byte[]>();
        var sent = 0;
        var delivered = 0;

        void Send(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var d = Datagram(80, encrypted: true, fill: (byte)sent);
                Assert.Equal(SecureError.None, sealer.Seal(d, out _));
                inFlight.Enqueue(d);
                sent++;
            }
        }

        void Deliver(int count)
        {
            for (var i = 0; i < count && inFlight.Count > 0; i++)
            {
                Assert.Equal(SecureError.None, ReadAndOpen(opener, inFlight.Dequeue()));
                delivered++;
            }
        }

        Send(50);
        Deliver(20);

        // 1. The manager delivers the new key as the other phase: the receiver first, the sender after it (order does not matter).
        receiverRing.Install(1, second);
        Send(10);
        senderRing.Install(1, second);
        Send(10);
        Deliver(25);

        // 2. Every node has it: senders switch. Old-phase packets are still in flight and must open.
        Assert.True(senderRing.UseForSending(1));
        Assert.True(receiverRing.UseForSending(1));
        Send(50);
        Deliver(200);

        // 3. After the grace period the old phase is retired; the stream goes on under the new key.
        Assert.True(receiverRing.Retire(0));
        Assert.True(senderRing.Retire(0));
        Send(30);
        Deliver(200);

        Assert.Equal(150, sent);
        Assert.Equal(sent, delivered);
    }

    [Fact]
    public void Rotation_OldPhaseRetired_LatePacketUnknownKeyPhase()
    {
        var ring = Ring(TunnelKey.Generate(), phase: 0);
        using var sealer = new TunnelSealer(ring, new TunnelSequence(1));
        using var opener = new TunnelOpener(ring, new ReplayGuard());
        var late = Datagram();
        Assert.Equal(SecureError.None, sealer.Seal(late, out _));

        ring.Install(1, TunnelKey.Generate());
        Assert.True(ring.UseForSending(1));
        Assert.True(ring.Retire(0));

        Assert.Equal(SecureError.UnknownKeyPhase, ReadAndOpen(opener, late));
    }

    [Fact]
    public void UseForSending_PhaseWithoutKey_RefusedAndUnchanged()
    {
        var ring = Ring(TunnelKey.Generate(), phase: 0);

        Assert.False(ring.UseForSending(1));
        Assert.Equal(0, ring.SendPhase);
    }

    [Fact]
    public void Retire_SendPhase_Refused()
    {
        var key = TunnelKey.Generate();
        var ring = Ring(key, phase: 0);

        Assert.False(ring.Retire(0));
        Assert.Same(key, ring.KeyOf(0));
    }

    [Fact]
    public void Generate_TwoKeys_DifferentMaterialAndIdsAndFullLength()
    {
        var a = TunnelKey.Generate();
        var b = TunnelKey.Generate();

        Assert.Equal(TunnelKey.Length, a.Material.Length);
        Assert.False(a.Material.SequenceEqual(b.Material));
        Assert.NotEqual(a.Id, b.Id);
    }

    [Fact]
    public void ToString_Key_DoesNotShowMaterial()
    {
        var key = new TunnelKey(0xabc, AeadAlgorithm.Aes256Gcm, CountingKeyBytes);

        Assert.Equal("key 00000abc (Aes256Gcm)", key.ToString());
    }

    [Fact]
    public void Constructor_ShortMaterial_Throws()
    {
        Assert.Throws<ArgumentException>(() => new TunnelKey(1, AeadAlgorithm.Aes256Gcm, new byte[16]));
    }
}
