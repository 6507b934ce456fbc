using System.Buffers.Binary;
using Dva.Shared.Packets;

namespace Dva.Node.Dispatcher;

/// <summary>Why an IP packet too big for an MTU cannot be cut into fragments here.</summary>
internal enum FragmentRefusal
{
    None,

    /// <summary>IPv4 with DF set, or IPv6 (only its source fragments): the sender must send smaller packets.</summary>
    DontFragment,

    /// <summary>IPv4 with options: which options each fragment repeats is not worked out here.</summary>
    Options,

    /// <summary>Not an IPv4 packet whose total length fits the frame.</summary>
    Malformed,
}

/// <summary>
/// Cuts the IPv4 packet in an Ethernet frame into fragments that fit an MTU, as a router does on a smaller link
/// (RFC 791, RFC 1812 §5.2.6). Each fragment is a whole frame with the packet's Ethernet header (its 802.1Q tag
/// included). It keeps the identification, and its offset continues the packet's own (a fragment is cut further).
/// MF is set on every fragment but the last, which keeps the packet's own MF. Total length and header checksum are
/// written anew. The data of every fragment but the last is a multiple of 8 bytes.
/// </summary>
internal static class Ipv4Fragmenter
{
    private const int HeaderLength = 20;
    private const ushort DontFragment = 0x4000;
    private const ushort MoreFragments = 0x2000;
    private const ushort OffsetMask = 0x1FFF;

    /// <summary>Whether the packet after the <paramref name="l2Length"/>-byte Ethernet header may be cut here.</summary>
    public static FragmentRefusal Check(ReadOnlySpan<byte> frame, int l2Length)
    {
        if (frame.Length < l2Length + HeaderLength || frame[l2Length] >> 4 != 4)
        {
            return frame.Length > l2Length && frame[l2Length] >> 4 == 6 ? FragmentRefusal.DontFragment : FragmentRefusal.Malformed;
        }

        var ip = frame[l2Length..];
        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if ((ip[0] & 0x0F) < 5 || totalLength < HeaderLength || totalLength > ip.Length)
        {
            return FragmentRefusal.Malformed;
        }

        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & DontFragment) != 0)
        {
            return FragmentRefusal.DontFragment;
        }

        return (ip[0] & 0x0F) != 5 ? FragmentRefusal.Options : FragmentRefusal.None;
    }

    /// <summary>The data bytes each fragment but the last carries for <paramref name="mtu"/>: MTU less the header, down to 8s.</summary>
    public static int Chunk(int mtu) => (mtu - HeaderLength) & ~7;

    /// <summary>How many fragments the packet (checked by <see cref="Check"/>) becomes with <paramref name="chunk"/>.</summary>
    public static int Count(ReadOnlySpan<byte> frame, int l2Length, int chunk)
    {
        var data = BinaryPrimitives.ReadUInt16BigEndian(frame[(l2Length + 2)..]) - HeaderLength;
        return Math.Max(1, (data + chunk - 1) / chunk);
    }

    /// <summary>Writes fragment <paramref name="index"/> as a frame into <paramref name="destination"/>; returns its length.</summary>
    public static int Write(ReadOnlySpan<byte> frame, int l2Length, int chunk, int index, Span<byte> destination)
    {
        var ip = frame[l2Length..];
        var data = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) - HeaderLength;
        var offset = index * chunk;
        var length = Math.Min(chunk, data - offset);
        var field = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        var last = offset + length >= data;
        var more = !last || (field & MoreFragments) != 0;

        frame[..(l2Length + HeaderLength)].CopyTo(destination);
        var header = destination.Slice(l2Length, HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(HeaderLength + length));
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], (ushort)((more ? MoreFragments : 0) | ((field & OffsetMask) + (offset / 8))));
        Checksum.WriteIpv4Header(header);
        ip.Slice(HeaderLength + offset, length).CopyTo(destination[(l2Length + HeaderLength)..]);
        return l2Length + HeaderLength + length;
    }
}
