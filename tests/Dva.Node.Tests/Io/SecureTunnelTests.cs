using System.Buffers.Binary;
using System.Net;
using Dva.Node.Agent;
using Dva.Node.Io;
using Dva.Shared.Security;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Io;

/// <summary>
/// The tunnel socket's secure layer: what one role seals, another opens to exactly the plain datagram it was, and
/// every forged, modified, replayed, wrong-key or plain datagram is dropped and counted under its reason.
/// </summary>
public sealed class SecureTunnelTests : IDisposable
{
    private const ushort Dispatcher = 100;
    private const ushort DataPlane = 7;

    private static readonly TunnelKey s_key0 = new(0x1111, AeadAlgorithm.Aes256Gcm, Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly TunnelKey s_key1 = new(0x2222, AeadAlgorithm.Aes256Gcm, Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());

    private readonly NodeCounters _senderCounters = new();
    private readonly NodeCounters _receiverCounters = new();
    private readonly TunnelKeyRing _senderKeys = new();
    private readonly TunnelKeyRing _receiverKeys = new();
    private readonly SecureTunnel _sender;
    private readonly SecureTunnel _receiver;

    public SecureTunnelTests()
    {
        _senderKeys.Install(0, s_key0);
        _receiverKeys.Install(0, s_key0);
        _sender = new SecureTunnel(TunnelSecurityMode.Encrypted, _senderKeys, new ReplayGuard(), new TunnelSequence(1000), _senderCounters.CreateBlock());
        _receiver = new SecureTunnel(TunnelSecurityMode.Encrypted, _receiverKeys, new ReplayGuard(), new TunnelSequence(5000), _receiverCounters.CreateBlock());
    }

    public void Dispose()
    {
        _sender.Dispose();
        _receiver.Dispose();
    }

    [Fact]
    public void TrySeal_Dispatch_WireHasSeqTagAndEncryptedFrame_AndOpensToTheOriginalBytes()
    {
        var buffer = PlainDispatch(out var plain);

        Assert.Null(_sender.TrySeal(buffer));
        var wire = buffer.Frame.ToArray();

        Assert.Equal(plain.Length + TunnelLayout.SeqLength + TunnelLayout.TagLength, wire.Length);
        Assert.Equal(0x10 | (int)(TunnelFlags.Secure | TunnelFlags.Encrypted), wire[0]);
        Assert.Equal(plain.AsSpan(1, 3).ToArray(), wire[1..4]);
        Assert.Equal(1000UL, BinaryPrimitives.ReadUInt64BigEndian(wire.AsSpan(4)));
        Assert.Equal(plain[4..12], wire[12..20]);
        Assert.NotEqual(plain[12..], wire[20..^16]);

        Assert.Null(_receiver.TryOpen(buffer));
        Assert.Equal(plain, buffer.Frame.ToArray());
    }

    [Fact]
    public void TrySeal_AuthenticatedMode_FrameStaysReadable_AndOpensToTheOriginalBytes()
    {
        using var sender = new SecureTunnel(TunnelSecurityMode.Authenticated, _senderKeys, new ReplayGuard(), new TunnelSequence(1), _senderCounters.CreateBlock());
        var buffer = PlainDispatch(out var plain);

        Assert.Null(sender.TrySeal(buffer));

        Assert.Equal(0x10 | (int)TunnelFlags.Secure, buffer.Frame[0]);
        Assert.Equal(plain[4..], buffer.Frame[12..^16].ToArray());
        Assert.Null(_receiver.TryOpen(buffer));
        Assert.Equal(plain, buffer.Frame.ToArray());
    }

    [Fact]
    public void TrySeal_ControlProbeInEncryptedMode_OnlyAuthenticated()
    {
        var buffer = PacketBuffer.CreateUnpooled();
        var fields = new TunnelFields { DNode = DataPlane, HNode = Dispatcher, Type = TunnelType.Control, Ttl = 1 };
        var payload = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        Write(buffer, fields, payload);
        var plain = buffer.Frame.ToArray();

        Assert.Null(_sender.TrySeal(buffer));

        Assert.Equal(0x10 | (int)TunnelFlags.Secure, buffer.Frame[0]);
        Assert.Null(_receiver.TryOpen(buffer));
        Assert.Equal(plain, buffer.Frame.ToArray());
    }

    [Fact]
    public void TryOpen_ForgedTag_DroppedAsBadTag()
    {
        var buffer = SealedDispatch();
        buffer.Frame[^1] ^= 0xFF;

        Assert.Equal(DropReason.BadTag, _receiver.TryOpen(buffer));
    }

    [Theory]
    [InlineData(2)]   // DNODE/HNODE in L1 (associated data)
    [InlineData(8)]   // SEQ (nonce and associated data)
    [InlineData(15)]  // TTL in L2 (associated data)
    [InlineData(40)]  // inner frame (ciphertext)
    public void TryOpen_ModifiedByte_DroppedAsBadTag(int offset)
    {
        var buffer = SealedDispatch();
        buffer.Frame[offset] ^= 0x01;

        Assert.Equal(DropReason.BadTag, _receiver.TryOpen(buffer));
    }

    [Fact]
    public void TryOpen_SameDatagramTwice_SecondDroppedAsReplayed()
    {
        var buffer = SealedDispatch();
        var copy = Copy(buffer);

        Assert.Null(_receiver.TryOpen(buffer));
        Assert.Equal(DropReason.Replayed, _receiver.TryOpen(copy));
    }

    [Fact]
    public void TryOpen_SealedWithAnotherKeyInTheSamePhase_DroppedAsBadTag()
    {
        var stranger = new TunnelKeyRing();
        stranger.Install(0, TunnelKey.Generate());
        using var foreign = new SecureTunnel(TunnelSecurityMode.Encrypted, stranger, new ReplayGuard(), new TunnelSequence(1), _senderCounters.CreateBlock());
        var buffer = PlainDispatch(out _);
        Assert.Null(foreign.TrySeal(buffer));

        Assert.Equal(DropReason.BadTag, _receiver.TryOpen(buffer));
    }

    [Fact]
    public void TryOpen_PhaseWithoutKey_DroppedAsUnknownKeyPhase()
    {
        _senderKeys.Install(1, s_key1);
        Assert.True(_senderKeys.UseForSending(1));
        var buffer = SealedDispatch();

        Assert.Equal(DropReason.UnknownKeyPhase, _receiver.TryOpen(buffer));
    }

    [Fact]
    public void TryOpen_PlainDatagramInSecureMode_DroppedAsPlainInSecureMode()
    {
        var buffer = PlainDispatch(out _);

        Assert.Equal(DropReason.PlainInSecureMode, _receiver.TryOpen(buffer));
    }

    [Fact]
    public void TrySeal_NoKeyForTheSendPhase_DroppedAsNoSendKey()
    {
        using var keyless = new SecureTunnel(TunnelSecurityMode.Encrypted, new TunnelKeyRing(), new ReplayGuard(), new TunnelSequence(1), _senderCounters.CreateBlock());

        Assert.Equal(DropReason.NoSendKey, keyless.TrySeal(PlainDispatch(out _)));
    }

    [Fact]
    public void TrySeal_NoTailroomForTheTag_DroppedAsSealFailed()
    {
        var buffer = PacketBuffer.CreateUnpooled(frameSize: 100);
        Write(buffer, Fields(), new byte[100]);

        Assert.Equal(DropReason.SealFailed, _sender.TrySeal(buffer));
    }

    [Fact]
    public void Rotation_InstallThenSwitchThenRetire_PacketsOfBothPhasesOpenUntilTheOldIsRetired()
    {
        var beforeRotation = SealedDispatch();
        _receiverKeys.Install(1, s_key1);
        _senderKeys.Install(1, s_key1);
        var inFlightOld = SealedDispatch();
        Assert.True(_senderKeys.UseForSending(1));
        Assert.True(_receiverKeys.UseForSending(1));
        var afterSwitch = SealedDispatch();

        Assert.Equal(0, beforeRotation.Frame[0] & (int)TunnelFlags.KeyPhase);
        Assert.Equal((int)TunnelFlags.KeyPhase, afterSwitch.Frame[0] & (int)TunnelFlags.KeyPhase);
        Assert.Null(_receiver.TryOpen(beforeRotation));
        Assert.Null(_receiver.TryOpen(afterSwitch));
        Assert.Null(_receiver.TryOpen(inFlightOld));

        Assert.True(_receiverKeys.Retire(0));
        var laggard = new TunnelKeyRing();
        laggard.Install(0, s_key0);
        using var oldSender = new SecureTunnel(TunnelSecurityMode.Encrypted, laggard, new ReplayGuard(), new TunnelSequence(9000), _senderCounters.CreateBlock());
        var buffer = PlainDispatch(out _);
        Assert.Null(oldSender.TrySeal(buffer));
        Assert.Equal(DropReason.UnknownKeyPhase, _receiver.TryOpen(buffer));
    }

    [Fact]
    public void OpenReceived_MixedBatch_AuthenticOnesMovedToTheFront_OthersCountedByReason()
    {
        var good1 = SealedDispatch();
        var plain = PlainDispatch(out _);
        var good2 = SealedDispatch();
        var replay = Copy(good2);
        var forged = SealedDispatch();
        forged.Frame[^3] ^= 0x10;
        var batch = new[] { good1, plain, good2, replay, forged };

        var kept = _receiver.OpenReceived(batch, batch.Length);

        Assert.Equal(2, kept);
        Assert.Same(good1, batch[0]);
        Assert.Same(good2, batch[1]);
        var s = _receiverCounters.Snapshot();
        Assert.Equal(2, s.Tunnel(TunnelCounter.Opened));
        Assert.Equal(1, s.Drop(DropReason.PlainInSecureMode));
        Assert.Equal(1, s.Drop(DropReason.Replayed));
        Assert.Equal(1, s.Drop(DropReason.BadTag));
    }

    [Fact]
    public void UdpTunnelSocket_WithSecurity_SealsOnSendAndOpensOnReceive()
    {
        using var receiver = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        using var sender = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        sender.Security = _sender;
        receiver.Security = _receiver;
        var buffer = PlainDispatch(out var plain);
        buffer.Peer = PacketAddress.FromEndPoint(receiver.LocalEndPoint);
        var slots = new[] { PacketBuffer.CreateUnpooled() };

        Assert.Equal(1, sender.Send([buffer]));
        Assert.True(receiver.WaitReadable(10_000));
        var n = receiver.Receive(slots);

        Assert.Equal(1, n);
        Assert.Equal(plain, slots[0].Frame.ToArray());
        Assert.Equal(plain.Length + 24, receiver.Counters.ReceivedBytes);
        Assert.Equal(1, _senderCounters.Snapshot().Tunnel(TunnelCounter.Sealed));
        Assert.Equal(1, _receiverCounters.Snapshot().Tunnel(TunnelCounter.Opened));
    }

    private static TunnelFields Fields() => new()
    {
        DNode = DataPlane,
        HNode = Dispatcher,
        SNode = Dispatcher,
        Type = TunnelType.Dispatch,
        Ttl = TunnelFields.InitialTtl,
        IfId = 1,
        VlanTci = 0x0064,
    };

    private static PacketBuffer PlainDispatch(out byte[] plain)
    {
        var buffer = PacketBuffer.CreateUnpooled();
        var frame = Enumerable.Range(0, 74).Select(i => (byte)(i * 7)).ToArray();
        Write(buffer, Fields(), frame);
        plain = buffer.Frame.ToArray();
        return buffer;
    }

    private PacketBuffer SealedDispatch()
    {
        var buffer = PlainDispatch(out _);
        Assert.Null(_sender.TrySeal(buffer));
        return buffer;
    }

    private static PacketBuffer Copy(PacketBuffer buffer)
    {
        var copy = PacketBuffer.CreateUnpooled();
        Assert.True(copy.TrySetFrame(buffer.Frame));
        return copy;
    }

    /// <summary>A plain datagram as a role leaves it: frame at the headroom, header written in front.</summary>
    private static void Write(PacketBuffer buffer, in TunnelFields fields, byte[] inner)
    {
        Assert.True(buffer.TrySetFrame(inner));
        var headerLength = TunnelLayout.HeaderLength(fields.Flags, 0);
        Assert.True(buffer.TryPrepend(headerLength, out _));
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer.Frame, headerLength, inner.Length, fields, [], out _, out _));
    }
}
