using System.Net;
using Dva.Shared.Packets;

namespace Dva.Shared.Tests.Packets;

/// <summary>
/// A deliberately naive Internet checksum (RFC 1071: 16-bit words, end-around carry) used to check the
/// production code, which sums 32-bit words. Pseudo-headers are built as explicit byte arrays.
/// </summary>
internal static class ReferenceChecksum
{
    public static ushort Sum(byte[] data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            int word = data[i] << 8;
            if (i + 1 < data.Length)
            {
                word |= data[i + 1];
            }

            sum += (uint)word;
            while (sum > 0xFFFF)
            {
                sum = (sum & 0xFFFF) + (sum >> 16);
            }
        }

        return (ushort)sum;
    }

    public static bool Ipv4HeaderValid(byte[] frame, int l3)
    {
        int headerLength = (frame[l3] & 0x0F) * 4;
        return Sum(frame[l3..(l3 + headerLength)]) == 0xFFFF;
    }

    /// <summary>Verifies the transport checksum of an unfragmented packet, with the addresses read at fixed IP header offsets.</summary>
    public static bool TransportValid(byte[] frame, int l3, int l4, int l4Length, byte protocol)
    {
        bool v4 = frame[l3] >> 4 == 4;
        byte[] segment = frame[l4..(l4 + l4Length)];
        if (v4 && protocol == PacketConstants.ProtocolIcmp)
        {
            return Sum(segment) == 0xFFFF;
        }

        var pseudo = new List<byte>();
        if (v4)
        {
            pseudo.AddRange(frame[(l3 + 12)..(l3 + 20)]);
            pseudo.AddRange([0, protocol, (byte)(l4Length >> 8), (byte)l4Length]);
        }
        else
        {
            pseudo.AddRange(frame[(l3 + 8)..(l3 + 40)]);
            pseudo.AddRange([(byte)(l4Length >> 24), (byte)(l4Length >> 16), (byte)(l4Length >> 8), (byte)l4Length, 0, 0, 0, protocol]);
        }

        pseudo.AddRange(segment);
        return Sum([.. pseudo]) == 0xFFFF;
    }

    /// <summary>Checks every checksum of a parsed frame the naive way (IPv4 header and transport).</summary>
    public static void AssertValid(byte[] frame)
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out PacketInfo info));
        if (info.IpVersion == 4)
        {
            Assert.True(Ipv4HeaderValid(frame, info.L3Offset), "IPv4 header checksum");
        }

        if (info.HasTransportHeader)
        {
            Assert.True(TransportValid(frame, info.L3Offset, info.L4Offset, info.IpPacketLength - info.IpHeaderLength, info.Protocol), "transport checksum");
        }
    }
}

internal static class TestAddresses
{
    public static IpAddr Parse(string text) => IpAddr.From(IPAddress.Parse(text));

    public static PacketInfo ParseOk(byte[] frame)
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out PacketInfo info));
        return info;
    }
}
