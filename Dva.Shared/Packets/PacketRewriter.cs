using System.Buffers.Binary;
using static Dva.Shared.Packets.PacketConstants;

namespace Dva.Shared.Packets;

/// <summary>
/// In-place rewrites for NAT, MSS clamping and forwarding, each fixing the affected checksums with the
/// RFC 1624 incremental update (cost independent of packet size). The frame must be the one
/// <paramref name="info"/> was parsed from. Transport checksums are only fixed when the transport
/// header was parsed, i.e. never for fragments: NAT works on reassembled datagrams (DESIGN.md §3).
/// An IPv4 UDP checksum of zero means "none" and stays zero.
/// <para>
/// <c>partialChecksum</c>: the frame's transport checksum is left to the device (virtio_net_hdr NEEDS_CSUM, a GSO
/// super-frame): its field holds only the folded pseudo-header sum, not complemented, and the device adds the segment
/// to it. Then, as Linux's <c>inet_proto_csum_replace4(..., pseudohdr: true)</c> does under CHECKSUM_PARTIAL, an address
/// change updates that sum (addresses are in the pseudo header) and a port change leaves it alone (ports are in the
/// segment the device sums); the IPv4 header checksum is complete either way and is updated as usual.
/// </para>
/// </summary>
public static class PacketRewriter
{
    private const int Ipv4ChecksumOffset = 10;
    private const int Ipv4TtlOffset = 8;
    private const int Ipv6HopLimitOffset = 7;
    private const int TcpChecksumOffset = 16;
    private const int IcmpIdOffset = 4;

    public static RewriteError SetSourceAddress(Span<byte> frame, in PacketInfo info, IpAddr address, bool partialChecksum = false) =>
        SetAddress(frame, info, address, info.SourceAddressOffset, partialChecksum);

    public static RewriteError SetDestinationAddress(Span<byte> frame, in PacketInfo info, IpAddr address, bool partialChecksum = false) =>
        SetAddress(frame, info, address, info.DestinationAddressOffset, partialChecksum);

    public static RewriteError SetIpv4Source(Span<byte> frame, in PacketInfo info, uint address) =>
        SetSourceAddress(frame, info, IpAddr.FromV4(address));

    public static RewriteError SetIpv4Destination(Span<byte> frame, in PacketInfo info, uint address) =>
        SetDestinationAddress(frame, info, IpAddr.FromV4(address));

    public static RewriteError SetIpv6Source(Span<byte> frame, in PacketInfo info, UInt128 address) =>
        SetSourceAddress(frame, info, IpAddr.FromV6(address));

    public static RewriteError SetIpv6Destination(Span<byte> frame, in PacketInfo info, UInt128 address) =>
        SetDestinationAddress(frame, info, IpAddr.FromV6(address));

    private static RewriteError SetAddress(Span<byte> frame, in PacketInfo info, IpAddr address, int offset, bool partialChecksum)
    {
        if (info.IpVersion == 0)
        {
            return address.IsV6 ? RewriteError.NotIpv6 : RewriteError.NotIpv4;
        }

        if (address.Version != info.IpVersion)
        {
            return RewriteError.AddressFamilyMismatch;
        }

        int l4ChecksumOffset = info.Protocol == ProtocolIcmp ? -1 : Checksum.TransportChecksumOffset(info);
        Span<byte> l4Checksum = l4ChecksumOffset < 0 ? default : frame.Slice(info.L4Offset + l4ChecksumOffset, 2);
        bool isZeroUdp = !partialChecksum && info.Protocol == ProtocolUdp && !l4Checksum.IsEmpty && BinaryPrimitives.ReadUInt16BigEndian(l4Checksum) == 0;

        if (info.IpVersion == 4)
        {
            Span<byte> field = frame.Slice(offset, 4);
            uint oldValue = BinaryPrimitives.ReadUInt32BigEndian(field);
            uint newValue = address.V4;
            BinaryPrimitives.WriteUInt32BigEndian(field, newValue);
            Span<byte> ipChecksum = frame.Slice(info.L3Offset + Ipv4ChecksumOffset, 2);
            BinaryPrimitives.WriteUInt16BigEndian(ipChecksum, Checksum.Update(BinaryPrimitives.ReadUInt16BigEndian(ipChecksum), oldValue, newValue));
            if (!l4Checksum.IsEmpty && !isZeroUdp)
            {
                UpdateTransportChecksum(l4Checksum, info.Protocol, oldValue, newValue, partialChecksum);
            }
        }
        else
        {
            Span<byte> field = frame.Slice(offset, 16);
            UInt128 oldValue = BinaryPrimitives.ReadUInt128BigEndian(field);
            BinaryPrimitives.WriteUInt128BigEndian(field, address.Value);
            if (!l4Checksum.IsEmpty && !isZeroUdp)
            {
                UpdateTransportChecksum(l4Checksum, info.Protocol, oldValue, address.Value, partialChecksum);
            }
        }

        return RewriteError.None;
    }

    public static RewriteError SetSourcePort(Span<byte> frame, in PacketInfo info, ushort port, bool partialChecksum = false) =>
        SetPort(frame, info, port, 0, partialChecksum);

    public static RewriteError SetDestinationPort(Span<byte> frame, in PacketInfo info, ushort port, bool partialChecksum = false) =>
        SetPort(frame, info, port, 2, partialChecksum);

    // SCTP is excluded: its CRC32c cannot be updated incrementally.
    private static RewriteError SetPort(Span<byte> frame, in PacketInfo info, ushort port, int fieldOffset, bool partialChecksum)
    {
        if (!info.HasTransportHeader || info.Protocol is not (ProtocolTcp or ProtocolUdp))
        {
            return RewriteError.NoPorts;
        }

        if (partialChecksum)
        {
            // The device sums the ports with the segment; the pseudo-header sum in the field does not hold them.
            BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(info.L4Offset + fieldOffset, 2), port);
            return RewriteError.None;
        }

        return SetTransportWord(frame, info, fieldOffset, port);
    }

    /// <summary>Rewrites the ICMP/ICMPv6 echo identifier (the "port" of ICMP NAT).</summary>
    public static RewriteError SetIcmpEchoId(Span<byte> frame, in PacketInfo info, ushort identifier)
    {
        if (!info.IsIcmpEcho)
        {
            return RewriteError.NotIcmpEcho;
        }

        return SetTransportWord(frame, info, IcmpIdOffset, identifier);
    }

    private static RewriteError SetTransportWord(Span<byte> frame, in PacketInfo info, int fieldOffset, ushort value)
    {
        Span<byte> field = frame.Slice(info.L4Offset + fieldOffset, 2);
        ushort oldValue = BinaryPrimitives.ReadUInt16BigEndian(field);
        BinaryPrimitives.WriteUInt16BigEndian(field, value);
        Span<byte> l4Checksum = frame.Slice(info.L4Offset + Checksum.TransportChecksumOffset(info), 2);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(l4Checksum);
        if (!(info.Protocol == ProtocolUdp && checksum == 0))
        {
            WriteTransportChecksum(l4Checksum, info.Protocol, Checksum.Update(checksum, oldValue, value));
        }

        return RewriteError.None;
    }

    /// <summary>
    /// Lowers the MSS option of a TCP SYN (or SYN-ACK) to at most <paramref name="maximum"/>, so peers
    /// behind a smaller tunnel MTU never send segments that need fragmenting. <paramref name="clamped"/>
    /// tells whether the value changed (an MSS already at or below the maximum is left alone).
    /// </summary>
    /// <remarks>With <paramref name="partialChecksum"/> the checksum is the device's to finish and the option is in what it sums: the field is left alone.</remarks>
    public static RewriteError ClampMss(Span<byte> frame, in PacketInfo info, ushort maximum, out bool clamped, bool partialChecksum = false)
    {
        clamped = false;
        if (info.Protocol != ProtocolTcp || !info.HasTransportHeader)
        {
            return RewriteError.NotTcp;
        }

        if ((info.TcpFlags & TcpFlags.Syn) == 0)
        {
            return RewriteError.NotTcpSyn;
        }

        if (info.TcpMssOptionOffset < 0)
        {
            return RewriteError.NoMssOption;
        }

        int valueOffset = info.TcpMssOptionOffset + 2;
        Span<byte> field = frame.Slice(valueOffset, 2);
        ushort oldValue = BinaryPrimitives.ReadUInt16BigEndian(field);
        if (oldValue <= maximum)
        {
            return RewriteError.None;
        }

        BinaryPrimitives.WriteUInt16BigEndian(field, maximum);
        clamped = true;
        if (partialChecksum)
        {
            return RewriteError.None;
        }

        Span<byte> l4Checksum = frame.Slice(info.L4Offset + TcpChecksumOffset, 2);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(l4Checksum);

        // After a single NOP the value straddles two checksum words; the ones-complement sum is
        // byte-order independent, so the byte-swapped values carry the same change.
        bool misaligned = ((valueOffset - info.L4Offset) & 1) != 0;
        checksum = misaligned
            ? Checksum.Update(checksum, BinaryPrimitives.ReverseEndianness(oldValue), BinaryPrimitives.ReverseEndianness(maximum))
            : Checksum.Update(checksum, oldValue, maximum);
        BinaryPrimitives.WriteUInt16BigEndian(l4Checksum, checksum);
        clamped = true;
        return RewriteError.None;
    }

    /// <summary>
    /// Decrements the IPv4 TTL (fixing the header checksum) or the IPv6 hop limit. A packet arriving
    /// with 1 or 0 is left unchanged and reported as <see cref="RewriteError.HopLimitExceeded"/>: the
    /// caller drops it and may answer with time exceeded.
    /// </summary>
    public static RewriteError DecrementHopLimit(Span<byte> frame, in PacketInfo info)
    {
        if (info.IpVersion == 0)
        {
            return RewriteError.NotIpv4;
        }

        if (info.HopLimit <= 1)
        {
            return RewriteError.HopLimitExceeded;
        }

        if (info.IpVersion == 6)
        {
            frame[info.L3Offset + Ipv6HopLimitOffset]--;
            return RewriteError.None;
        }

        // TTL shares a checksum word with the protocol byte.
        Span<byte> word = frame.Slice(info.L3Offset + Ipv4TtlOffset, 2);
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(word);
        ushort newWord = (ushort)(oldWord - 0x0100);
        BinaryPrimitives.WriteUInt16BigEndian(word, newWord);
        Span<byte> ipChecksum = frame.Slice(info.L3Offset + Ipv4ChecksumOffset, 2);
        BinaryPrimitives.WriteUInt16BigEndian(ipChecksum, Checksum.Update(BinaryPrimitives.ReadUInt16BigEndian(ipChecksum), oldWord, newWord));
        return RewriteError.None;
    }

    // A full checksum is updated by RFC 1624; a partial one (the pseudo-header sum, not complemented) by the same
    // arithmetic on its complement, i.e. sum' = sum + ~old + new.
    private static void UpdateTransportChecksum(Span<byte> field, byte protocol, uint oldValue, uint newValue, bool partialChecksum)
    {
        var current = BinaryPrimitives.ReadUInt16BigEndian(field);
        if (partialChecksum)
        {
            BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~Checksum.Update((ushort)~current, oldValue, newValue));
        }
        else
        {
            WriteTransportChecksum(field, protocol, Checksum.Update(current, oldValue, newValue));
        }
    }

    private static void UpdateTransportChecksum(Span<byte> field, byte protocol, UInt128 oldValue, UInt128 newValue, bool partialChecksum)
    {
        var current = BinaryPrimitives.ReadUInt16BigEndian(field);
        if (partialChecksum)
        {
            BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~Checksum.Update((ushort)~current, oldValue, newValue));
        }
        else
        {
            WriteTransportChecksum(field, protocol, Checksum.Update(current, oldValue, newValue));
        }
    }

    private static void WriteTransportChecksum(Span<byte> field, byte protocol, ushort value)
    {
        if (value == 0 && protocol == ProtocolUdp)
        {
            value = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(field, value);
    }
}
