using System.Buffers.Binary;
using System.Net;
using Dva.Shared.Packets;

namespace Dva.Node.Tests.DataPlane;

/// <summary>Hand-made Ethernet frames with valid checksums, as a dispatcher would carry them (untagged).</summary>
internal static class TestFrames
{
    public static readonly byte[] ClientMac = [0x02, 0xAA, 0, 0, 0, 0x01];
    public static readonly byte[] SharedMacOutside = [0x02, 0, 0, 0, 0, 0x01];

    public static byte[] Udp(string source, ushort sourcePort, string destination, ushort destinationPort, int payload = 16, byte ttl = 64) =>
        Ip(source, destination, PacketConstants.ProtocolUdp, ttl, l4 =>
        {
            var udp = new byte[8 + payload];
            BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), destinationPort);
            BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
            for (var i = 8; i < udp.Length; i++)
            {
                udp[i] = (byte)i;
            }

            return udp;
        });

    public static byte[] Tcp(string source, ushort sourcePort, string destination, ushort destinationPort, TcpFlags flags, byte ttl = 64) =>
        Ip(source, destination, PacketConstants.ProtocolTcp, ttl, _ =>
        {
            var tcp = new byte[20];
            BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), destinationPort);
            BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 1000);
            tcp[12] = 5 << 4;
            tcp[13] = (byte)flags;
            BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535);
            return tcp;
        });

    public static byte[] EchoRequest(string source, string destination, ushort id = 7, ushort sequence = 1, byte ttl = 64)
    {
        var v6 = IPAddress.Parse(source).AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        return Ip(source, destination, v6 ? PacketConstants.ProtocolIcmpv6 : PacketConstants.ProtocolIcmp, ttl, _ =>
        {
            var icmp = new byte[8 + 12];
            icmp[0] = (byte)(v6 ? 128 : 8);
            BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), id);
            BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), sequence);
            "dva ping ..."u8.CopyTo(icmp.AsSpan(8));
            return icmp;
        });
    }

    public static byte[] ArpRequest(byte[] senderMac, string senderIp, string targetIp)
    {
        var frame = new byte[42];
        var length = PacketBuilder.ArpRequest(frame, senderMac, V4(senderIp), V4(targetIp));
        Assert.Equal(42, length);
        return frame;
    }

    /// <summary>ICMPv6 neighbour solicitation for <paramref name="target"/> with a source link-layer address option.</summary>
    public static byte[] NeighbourSolicitation(byte[] senderMac, string source, string target) =>
        Ip(source, "ff02::1:ff00:1", PacketConstants.ProtocolIcmpv6, 255, _ =>
        {
            var message = new byte[24 + 8];
            message[0] = 135;
            IPAddress.Parse(target).GetAddressBytes().CopyTo(message, 8);
            message[24] = 1;
            message[25] = 1;
            senderMac.CopyTo(message, 26);
            return message;
        });

    public static uint V4(string address) => BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(address).GetAddressBytes());

    public static PacketInfo Parse(ReadOnlySpan<byte> frame)
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out var info));
        return info;
    }

    private static byte[] Ip(string source, string destination, byte protocol, byte ttl, Func<int, byte[]> upper)
    {
        var src = IPAddress.Parse(source).GetAddressBytes();
        var dst = IPAddress.Parse(destination).GetAddressBytes();
        var v6 = src.Length == 16;
        var ipHeader = v6 ? 40 : 20;
        var l4 = upper(ipHeader);
        var frame = new byte[14 + ipHeader + l4.Length];
        SharedMacOutside.CopyTo(frame, 0);
        ClientMac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), v6 ? PacketConstants.EtherTypeIpv6 : PacketConstants.EtherTypeIpv4);
        var ip = frame.AsSpan(14);
        if (v6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4.Length);
            ip[6] = protocol;
            ip[7] = ttl;
            src.CopyTo(ip[8..]);
            dst.CopyTo(ip[24..]);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4.Length));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
            ip[6] = 0x40; // DF
            ip[8] = ttl;
            ip[9] = protocol;
            src.CopyTo(ip[12..]);
            dst.CopyTo(ip[16..]);
            Checksum.WriteIpv4Header(ip[..20]);
        }

        l4.CopyTo(ip[ipHeader..]);
        var info = Parse(frame);
        Assert.True(Checksum.WriteTransport(frame, info));
        return frame;
    }
}
