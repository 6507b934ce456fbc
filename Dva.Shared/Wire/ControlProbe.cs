using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>Kind of a CONTROL payload.</summary>
public enum ControlKind : byte
{
    /// <summary>A probe: the receiver answers with a reply carrying the same sequence and timestamp.</summary>
    Probe = 0,

    /// <summary>The answer to a probe.</summary>
    Reply = 1,
}

/// <summary>
/// Payload of a CONTROL packet (TYPE 3), right after the VLAN TCI word (which is 0). A node probes a
/// peer's tunnel endpoint with it; the reply echoes <see cref="Sequence"/> and <see cref="Timestamp"/>
/// unchanged, so the prober computes the round trip from its own clock and the peer needs no clock at all.
/// </summary>
public readonly record struct ControlProbe(ControlKind Kind, uint Sequence, ulong Timestamp)
{
    /*
      0       8       16                              48
     +-------+-------+-------------------------------+
     | KIND  |  RSV  |          SEQUENCE (32)        |
     +-------+-------+-------------------------------+---------------+
     |                     TIMESTAMP (64)                            |
     +---------------------------------------------------------------+
     KIND: 0 probe, 1 reply. RSV: 0. TIMESTAMP: the prober's clock, opaque to the peer.
    */

    /// <summary>Length of the payload on the wire.</summary>
    public const int Length = 14;

    private const int KindOffset = 0;
    private const int ReservedOffset = 1;
    private const int SequenceOffset = 2;
    private const int TimestampOffset = 6;

    /// <summary>The reply a peer sends back for this probe.</summary>
    public ControlProbe ToReply() => this with { Kind = ControlKind.Reply };

    /// <summary>Reads and validates a whole CONTROL datagram: header, then payload.</summary>
    public static WireError TryRead(ReadOnlySpan<byte> datagram, out TunnelHeader header, out ControlProbe probe)
    {
        probe = default;
        var error = TunnelHeader.TryRead(datagram, out header);
        return error != WireError.None ? error : TryReadPayload(datagram, header, out probe);
    }

    /// <summary>Reads the payload of a CONTROL datagram whose header was already accepted.</summary>
    public static WireError TryReadPayload(ReadOnlySpan<byte> datagram, in TunnelHeader header, out ControlProbe probe)
    {
        probe = default;
        if (header.Type != TunnelType.Control)
        {
            return WireError.UnknownType;
        }

        if (header.InnerLength < Length || datagram.Length < header.InnerOffset + Length)
        {
            return WireError.Truncated;
        }

        if (header.InnerLength > Length)
        {
            return WireError.ControlLengthMismatch;
        }

        var payload = datagram.Slice(header.InnerOffset, Length);
        if (payload[ReservedOffset] != 0)
        {
            return WireError.ReservedBitSet;
        }

        if (payload[KindOffset] > (byte)ControlKind.Reply)
        {
            return WireError.UnknownControlKind;
        }

        probe = new ControlProbe(
            (ControlKind)payload[KindOffset],
            BinaryPrimitives.ReadUInt32BigEndian(payload[SequenceOffset..]),
            BinaryPrimitives.ReadUInt64BigEndian(payload[TimestampOffset..]));
        return WireError.None;
    }

    /// <summary>
    /// Writes a whole CONTROL datagram at the start of <paramref name="buffer"/>: header for
    /// <paramref name="fields"/> (TYPE must be CONTROL, no nids), payload, and TAG room in secure mode.
    /// </summary>
    public static WireError TryWrite(Span<byte> buffer, in TunnelFields fields, in ControlProbe probe, out int datagramLength)
    {
        datagramLength = 0;
        if (fields.Type != TunnelType.Control)
        {
            return WireError.UnknownType;
        }

        if (probe.Kind > ControlKind.Reply)
        {
            return WireError.UnknownControlKind;
        }

        var payloadOffset = TunnelLayout.HeaderLength(fields.Flags, 0);
        if (buffer.Length < payloadOffset + Length)
        {
            return WireError.NoRoom;
        }

        var payload = buffer.Slice(payloadOffset, Length);
        payload[KindOffset] = (byte)probe.Kind;
        payload[ReservedOffset] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(payload[SequenceOffset..], probe.Sequence);
        BinaryPrimitives.WriteUInt64BigEndian(payload[TimestampOffset..], probe.Timestamp);
        return TunnelWriter.TryWriteInFront(buffer, payloadOffset, Length, fields, default, out _, out datagramLength);
    }
}
