using Dva.Node.Agent;
using Dva.Shared.Contracts;
using Dva.Shared.Security;

namespace Dva.Node.Tests.Keys;

public class KeyUpdatesTests
{
    private static readonly Guid s_dva = Guid.NewGuid();

    [Fact]
    public void Apply_ThreeRotationSteps_RingEndsOnTheNewKeyAndAckNamesKeysById()
    {
        var ring = new TunnelKeyRing();
        Assert.Null(KeyUpdates.Apply(ring, Update(1, Key(0, 10), send: 0)));

        Assert.Null(KeyUpdates.Apply(ring, Update(2, Key(1, 11))));
        Assert.Equal(0, ring.SendPhase);
        Assert.Null(KeyUpdates.Apply(ring, Update(3, null, send: 1)));
        Assert.Null(KeyUpdates.Apply(ring, Update(4, null, retire: 0)));

        var ack = KeyUpdates.Ack(ring, Update(4, null, retire: 0), 7, null);
        Assert.Equal((true, 1, 0u, 11u, (ushort)7, 4L), (ack.Applied, ack.SendPhase, ack.Phase0KeyId, ack.Phase1KeyId, ack.NodeId, ack.Sequence));
    }

    [Fact]
    public void Apply_KeyForTheSendPhaseInUse_RefusedAndRingUnchanged()
    {
        var ring = new TunnelKeyRing();
        Assert.Null(KeyUpdates.Apply(ring, Update(1, Key(0, 10), send: 0)));

        var error = KeyUpdates.Apply(ring, Update(2, Key(0, 12)));

        Assert.Contains("send phase", error, StringComparison.Ordinal);
        Assert.Equal(10u, ring.KeyOf(0)!.Id);
    }

    [Theory]
    [InlineData(2, "aes-gcm", 32)]
    [InlineData(1, "des", 32)]
    [InlineData(1, "aes-gcm", 16)]
    public void Apply_BadKey_RefusedWithReason(int phase, string cipher, int length)
    {
        var ring = new TunnelKeyRing();

        var error = KeyUpdates.Apply(ring, Update(1, new TunnelKeyMaterial(phase, 5, cipher, new byte[length])));

        Assert.NotNull(error);
        Assert.Null(ring.KeyOf(0));
        Assert.Null(ring.KeyOf(1));
    }

    [Fact]
    public void Apply_SendWithPhaseWithoutKeyOrRetireTheSendPhase_Refused()
    {
        var ring = new TunnelKeyRing();
        Assert.Null(KeyUpdates.Apply(ring, Update(1, Key(0, 10), send: 0)));

        Assert.NotNull(KeyUpdates.Apply(ring, Update(2, null, send: 1)));
        Assert.NotNull(KeyUpdates.Apply(ring, Update(3, null, retire: 0)));
        Assert.Equal(0, ring.SendPhase);
        Assert.NotNull(ring.KeyOf(0));
    }

    [Fact]
    public void TunnelKeyMaterial_ToString_NeverShowsTheKeyBytes()
    {
        var material = new byte[32];
        material.AsSpan().Fill(0xAB);

        var text = new TunnelKeyMaterial(1, 0x2a, "aes-gcm", material).ToString();

        Assert.DoesNotContain("AB", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("171", text, StringComparison.Ordinal);
        Assert.Contains("0000002a", text, StringComparison.Ordinal);
    }

    private static TunnelKeyMaterial Key(int phase, uint id) => new(phase, id, "aes-gcm", TunnelKey.Generate().Material.ToArray());

    private static KeyUpdate Update(long sequence, TunnelKeyMaterial? key, int? send = null, int? retire = null) => new(s_dva, sequence, key, send, retire);
}
