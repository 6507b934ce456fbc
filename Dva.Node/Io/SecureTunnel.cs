using Dva.Node.Agent;
using Dva.Shared.Security;
using Dva.Shared.Wire;

namespace Dva.Node.Io;

/// <summary>
/// Secure mode of one tunnel socket (DESIGN.md §2; docs/protocol.md, "Secure mode in detail"), the one place where
/// both roles' datagrams are sealed and opened. The roles build and read plain datagrams only: on receive, an
/// authentic secure datagram is opened and turned into its plain form in place (SEQ and TAG cut off, FLAGS.S/E/K
/// cleared), so the role's own checks (DNODE, HNODE a peer sending from its endpoint) still run; on send, a plain
/// datagram grows SEQ into the buffer's headroom and the TAG into its tailroom and is sealed. Anything else is a
/// counted drop with its reason. Engine thread only (the AEAD instances are per thread); the key ring, replay
/// windows and SEQ counter are the node's.
/// </summary>
/// <remarks>
/// Doing it here rather than in each role keeps one copy of the code and leaves the roles' per-packet paths exactly as
/// they are in plain mode; the cost is a 4-byte move of L1 each way (the AEAD dominates: docs/benchmarks.md).
/// </remarks>
internal sealed class SecureTunnel : IDisposable
{
    private const int Growth = TunnelLayout.SeqLength;
    private const byte SecureFlagBits = (byte)(TunnelFlags.Secure | TunnelFlags.Encrypted | TunnelFlags.KeyPhase);

    private readonly TunnelSealer _sealer;
    private readonly TunnelOpener _opener;
    private readonly CounterBlock _counters;
    private readonly PacketBuffer[] _sealed = new PacketBuffer[PacketPort.MaxBatch];

    public SecureTunnel(TunnelSecurityMode mode, TunnelKeyRing keys, ReplayGuard replay, TunnelSequence sequence, CounterBlock counters)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(replay);
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(counters);
        if (mode == TunnelSecurityMode.Plain)
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "a plain tunnel needs no secure layer");
        }

        Mode = mode;
        Keys = keys;
        _sealer = new TunnelSealer(keys, sequence);
        _opener = new TunnelOpener(keys, replay);
        _counters = counters;
    }

    public TunnelSecurityMode Mode { get; }

    public TunnelKeyRing Keys { get; }

    /// <summary>
    /// Opens the <paramref name="count"/> received datagrams at the front of <paramref name="buffers"/>; the ones
    /// that pass (now plain) are moved to the front and counted, the rest are counted drops. Returns how many passed.
    /// </summary>
    public int OpenReceived(Span<PacketBuffer> buffers, int count)
    {
        var kept = 0;
        for (var i = 0; i < count; i++)
        {
            if (TryOpen(buffers[i]) is { } drop)
            {
                _counters.Drop(drop);
                continue;
            }

            _counters.Count(TunnelCounter.Opened);
            if (i != kept)
            {
                (buffers[kept], buffers[i]) = (buffers[i], buffers[kept]);
            }

            kept++;
        }

        return kept;
    }

    /// <summary>
    /// Seals every datagram of <paramref name="buffers"/> it can and hands the sealed ones to <paramref name="send"/> in
    /// batches of at most <see cref="PacketPort.MaxBatch"/>; the others are counted drops (the caller releases every
    /// buffer afterwards, sent or not). Returns how many the socket took.
    /// </summary>
    public int SealAndSend<TState>(ReadOnlySpan<PacketBuffer> buffers, TState state, SendSealed<TState> send)
    {
        var taken = 0;
        var n = 0;
        foreach (var buffer in buffers)
        {
            if (TrySeal(buffer) is { } drop)
            {
                _counters.Drop(drop);
                continue;
            }

            _counters.Count(TunnelCounter.Sealed);
            _sealed[n++] = buffer;
            if (n == _sealed.Length)
            {
                taken += send(state, _sealed.AsSpan(0, n));
                n = 0;
            }
        }

        if (n > 0)
        {
            taken += send(state, _sealed.AsSpan(0, n));
        }

        Array.Clear(_sealed);
        return taken;
    }

    /// <summary>Opens one received datagram and leaves its plain form in <paramref name="buffer"/>; null when it may be used.</summary>
    internal DropReason? TryOpen(PacketBuffer buffer)
    {
        var datagram = buffer.Frame;
        if (TunnelHeader.TryRead(datagram, out var header) != WireError.None)
        {
            // The role reads the header again and counts the exact wire error.
            return null;
        }

        if (!header.IsSecure)
        {
            return DropReason.PlainInSecureMode;
        }

        var error = _opener.Open(datagram, header, out _);
        if (error != SecureError.None)
        {
            return error switch
            {
                SecureError.UnknownKeyPhase => DropReason.UnknownKeyPhase,
                SecureError.Replayed => DropReason.Replayed,
                SecureError.TooOld => DropReason.ReplayTooOld,
                SecureError.BadHeader => DropReason.WireOther,
                _ => DropReason.BadTag,
            };
        }

        // L1 moves up over SEQ and loses S/E/K: the plain datagram the roles expect, without copying the frame.
        datagram[..TunnelLayout.L1Length].CopyTo(datagram[Growth..]);
        datagram[Growth] &= unchecked((byte)~SecureFlagBits);
        var plainLength = datagram.Length - Growth - TunnelLayout.TagLength;
        _ = buffer.TryTrimFront(Growth);
        _ = buffer.SetFrameLength(plainLength);
        return null;
    }

    /// <summary>Turns the plain datagram in <paramref name="buffer"/> into a sealed one in place; null when it may be sent.</summary>
    internal DropReason? TrySeal(PacketBuffer buffer)
    {
        var plainLength = buffer.FrameLength;
        if (plainLength < TunnelLayout.L1Length + TunnelLayout.L2FixedLength)
        {
            return DropReason.WireTruncated;
        }

        if (!buffer.TryPrepend(Growth, out _))
        {
            return DropReason.SealFailed;
        }

        if (!buffer.SetFrameLength(Growth + plainLength + TunnelLayout.TagLength))
        {
            _ = buffer.TryTrimFront(Growth);
            return DropReason.SealFailed;
        }

        var datagram = buffer.Frame;
        datagram.Slice(Growth, TunnelLayout.L1Length).CopyTo(datagram);
        var flags = (byte)TunnelFlags.Secure;
        var type = datagram[TunnelLayout.L1Length + TunnelLayout.SeqLength] >> 4;
        if (Mode == TunnelSecurityMode.Encrypted && type != (int)TunnelType.Control)
        {
            // CONTROL probes stay readable: a receiver checks their payload before opening (docs/protocol.md).
            flags |= (byte)TunnelFlags.Encrypted;
        }

        datagram[0] = (byte)((datagram[0] & ~SecureFlagBits) | flags);
        return _sealer.Seal(datagram, out _) switch
        {
            SecureError.None => null,
            SecureError.NoSendKey => DropReason.NoSendKey,
            _ => DropReason.SealFailed,
        };
    }

    public void Dispose()
    {
        _sealer.Dispose();
        _opener.Dispose();
    }
}

/// <summary>Sends a batch of sealed datagrams; returns how many the socket took.</summary>
internal delegate int SendSealed<TState>(TState state, ReadOnlySpan<PacketBuffer> sealedBuffers);
