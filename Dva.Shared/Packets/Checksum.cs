using System.Buffers.Binary;

namespace Dva.Shared.Packets;

/// <summary>
/// Internet checksum (RFC 1071) helpers. A "sum" is an unfolded ones-complement accumulator; fold it
/// with <see cref="Fold"/> and complement it to get the field value. Chained sums must feed even-length
/// pieces except the last, because an odd byte is padded with zero.
/// </summary>
public static class Checksum
{
    private const int Ipv4ChecksumOffset = 10;

    /// <summary>Adds data as big-endian 16-bit words to an unfolded sum.</summary>
    public static ulong Add(ReadOnlySpan<byte> data, ulong sum = 0)
    {
        // Summing 32-bit big-endian words into 64 bits and folding later gives the same ones-complement
        // result as 16-bit words (end-around carry is associative), with half the iterations.
        while (data.Length >= 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data);
            data = data[4..];
        }

        if (data.Length >= 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data);
            data = data[2..];
        }

        if (data.Length == 1)
        {
            sum += (uint)data[0] << 8;
        }

        return sum;
    }

    /// <summary>Folds an unfolded sum into 16 bits with end-around carry (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum field value for data (whose checksum field the caller zeroed or excluded).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, ulong sum = 0) => (ushort)~Fold(Add(data, sum));

    /// <summary>True when data, including its checksum field, sums to 0xFFFF.</summary>
    public static bool Verify(ReadOnlySpan<byte> data, ulong sum = 0) => Fold(Add(data, sum)) == 0xFFFF;

    /// <summary>IPv4 header checksum, computed as if the checksum field were zero.</summary>
    public static ushort ComputeIpv4Header(ReadOnlySpan<byte> header)
    {
        if (header.Length < PacketConstants.Ipv4MinHeaderLength)
        {
            return 0;
        }

        ulong sum = Add(header[..Ipv4ChecksumOffset]);
        return Compute(header[(Ipv4ChecksumOffset + 2)..], sum);
    }

    /// <summary>Writes the IPv4 header checksum in place (header = IHL × 4 bytes).</summary>
    public static void WriteIpv4Header(Span<byte> header)
    {
        if (header.Length >= PacketConstants.Ipv4MinHeaderLength)
        {
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4ChecksumOffset..], ComputeIpv4Header(header));
        }
    }

    /// <summary>True when the IPv4 header (IHL × 4 bytes) carries a valid checksum.</summary>
    public static bool VerifyIpv4Header(ReadOnlySpan<byte> header) =>
        header.Length >= PacketConstants.Ipv4MinHeaderLength && Verify(header);

    /// <summary>True when the IPv4 header of a parsed frame carries a valid checksum.</summary>
    public static bool VerifyIpv4Header(ReadOnlySpan<byte> frame, in PacketInfo info) =>
        info.IpVersion == 4 && VerifyIpv4Header(frame.Slice(info.L3Offset, info.IpHeaderLength));

    /// <summary>Unfolded sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768).</summary>
    public static ulong PseudoHeaderV4(ReadOnlySpan<byte> source4, ReadOnlySpan<byte> destination4, byte protocol, int length) =>
        Add(source4) + Add(destination4) + protocol + (uint)length;

    /// <summary>Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1).</summary>
    public static ulong PseudoHeaderV6(ReadOnlySpan<byte> source16, ReadOnlySpan<byte> destination16, byte nextHeader, int length) =>
        Add(source16) + Add(destination16) + nextHeader + (uint)length;

    /// <summary>Unfolded pseudo-header sum for a parsed IPv4/IPv6 packet and an upper-layer length.</summary>
    public static ulong PseudoHeader(ReadOnlySpan<byte> frame, in PacketInfo info, int upperLayerLength)
    {
        int addressLength = info.IpVersion == 4 ? 4 : 16;
        ReadOnlySpan<byte> source = frame.Slice(info.SourceAddressOffset, addressLength);
        ReadOnlySpan<byte> destination = frame.Slice(info.DestinationAddressOffset, addressLength);
        return info.IpVersion == 4
            ? PseudoHeaderV4(source, destination, info.Protocol, upperLayerLength)
            : PseudoHeaderV6(source, destination, info.Protocol, upperLayerLength);
    }

    /// <summary>
    /// Computes the TCP/UDP/ICMPv6 (pseudo-header) or ICMPv4 (no pseudo-header) checksum of a parsed,
    /// non-fragment packet and writes it in place. Returns false when the packet has no such header.
    /// </summary>
    public static bool WriteTransport(Span<byte> frame, in PacketInfo info)
    {
        int checksumOffset = TransportChecksumOffset(info);
        if (checksumOffset < 0)
        {
            return false;
        }

        int length = info.IpPacketLength - info.IpHeaderLength;
        Span<byte> segment = frame.Slice(info.L4Offset, length);
        segment[checksumOffset] = 0;
        segment[checksumOffset + 1] = 0;
        ushort value = Compute(segment, TransportPseudoHeader(frame, info, length));
        if (value == 0 && info.Protocol == PacketConstants.ProtocolUdp)
        {
            value = 0xFFFF; // RFC 768: a computed zero is sent as all ones; zero means "no checksum".
        }

        BinaryPrimitives.WriteUInt16BigEndian(segment[checksumOffset..], value);
        return true;
    }

    /// <summary>True when the TCP/UDP/ICMP/ICMPv6 checksum of a parsed, non-fragment packet is valid (an IPv4 UDP zero checksum counts as valid).</summary>
    public static bool VerifyTransport(ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        int checksumOffset = TransportChecksumOffset(info);
        if (checksumOffset < 0)
        {
            return false;
        }

        int length = info.IpPacketLength - info.IpHeaderLength;
        ReadOnlySpan<byte> segment = frame.Slice(info.L4Offset, length);
        if (info.Protocol == PacketConstants.ProtocolUdp && info.IpVersion == 4
            && BinaryPrimitives.ReadUInt16BigEndian(segment[checksumOffset..]) == 0)
        {
            return true;
        }

        return Verify(segment, TransportPseudoHeader(frame, info, length));
    }

    // ICMPv4 is the one upper layer whose checksum covers no pseudo-header.
    private static ulong TransportPseudoHeader(ReadOnlySpan<byte> frame, in PacketInfo info, int length) =>
        info.Protocol == PacketConstants.ProtocolIcmp ? 0 : PseudoHeader(frame, info, length);

    /// <summary>Offset of the checksum field within the upper-layer header, or -1.</summary>
    public static int TransportChecksumOffset(in PacketInfo info)
    {
        if (!info.HasTransportHeader)
        {
            return -1;
        }

        return info.Protocol switch
        {
            PacketConstants.ProtocolTcp => 16,
            PacketConstants.ProtocolUdp => 6,
            PacketConstants.ProtocolIcmp or PacketConstants.ProtocolIcmpv6 => 2,
            _ => -1,
        };
    }

    /// <summary>RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one changed 16-bit field.</summary>
    public static ushort Update(ushort checksum, ushort oldValue, ushort newValue)
    {
        ulong sum = (ushort)~checksum + (ulong)(ushort)~oldValue + newValue;
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for a changed 32-bit field (e.g. an IPv4 address).</summary>
    public static ushort Update(ushort checksum, uint oldValue, uint newValue)
    {
        ulong sum = (ushort)~checksum
            + (ulong)(ushort)~(oldValue >> 16) + (ushort)~oldValue
            + (newValue >> 16) + (newValue & 0xFFFF);
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for a changed 128-bit field (an IPv6 address).</summary>
    public static ushort Update(ushort checksum, UInt128 oldValue, UInt128 newValue)
    {
        ulong sum = (ushort)~checksum;
        for (int shift = 0; shift < 128; shift += 16)
        {
            sum += (ushort)~(ushort)(oldValue >> shift);
            sum += (ushort)(newValue >> shift);
        }

        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for an even-length changed field given as old and new bytes (equal lengths).</summary>
    public static ushort Update(ushort checksum, ReadOnlySpan<byte> oldBytes, ReadOnlySpan<byte> newBytes)
    {
        // ~m summed word by word equals (0xFFFF × words) - sum(m), kept non-negative by adding first.
        ulong sum = (ushort)~checksum;
        int words = oldBytes.Length / 2;
        sum += 0xFFFFUL * (ulong)words;
        sum -= Fold(Add(oldBytes[..(words * 2)]));
        sum += Add(newBytes[..Math.Min(newBytes.Length, words * 2)]);
        return (ushort)~Fold(sum);
    }
}
