using System.Buffers.Binary;
using Dva.Shared.Packets;

namespace Dva.Node.Traffic;

/// <summary>Which way a segment travels: client host → server host, or back.</summary>
internal enum FlowDirection : byte
{
    ClientToServer,
    ServerToClient,
}

/// <summary>One segment of a generated flow, fully determined by the flow and the step index.</summary>
internal readonly record struct FlowStep(FlowDirection Direction, TcpFlags Flags, uint Seq, uint Ack, int PayloadLength);

/// <summary>
/// Builds the frames of the traffic generator: Ethernet + IPv4 + TCP (with an MSS option on SYNs) or UDP,
/// with valid checksums and a payload pattern that depends on the flow and the step, so a frame delivered
/// to the wrong flow or the wrong point of a flow is caught byte by byte.
/// </summary>
internal static class TrafficFrames
{
    public const byte SentTtl = 64;
    public const ushort SentMss = 1460;
    private const int MssOptionLength = 4;

    /// <summary>Writes the frame of <paramref name="step"/>; returns its length.</summary>
    public static int Write(Span<byte> frame, in FlowSpec flow, in FlowStep step, int stepIndex, ReadOnlySpan<byte> sourceMac, ReadOnlySpan<byte> destinationMac)
    {
        var forward = step.Direction == FlowDirection.ClientToServer;
        var (srcIp, srcPort, dstIp, dstPort) = forward
            ? (flow.ClientIp, flow.ClientPort, flow.ServerIp, flow.ServerPort)
            : (flow.ServerIp, flow.ServerPort, flow.ClientIp, flow.ClientPort);
        var tcp = flow.Protocol == PacketConstants.ProtocolTcp;
        var syn = (step.Flags & TcpFlags.Syn) != 0;
        var l4Header = tcp ? PacketConstants.TcpMinHeaderLength + (syn ? MssOptionLength : 0) : PacketConstants.UdpHeaderLength;
        var ipLength = PacketConstants.Ipv4MinHeaderLength + l4Header + step.PayloadLength;
        var length = PacketConstants.EthernetHeaderLength + ipLength;
        if (frame.Length < length)
        {
            return 0;
        }

        frame = frame[..length];
        PacketBuilder.WriteEthernet(frame, destinationMac, sourceMac, PacketConstants.EtherTypeIpv4);
        var ip = frame[PacketConstants.EthernetHeaderLength..];
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)stepIndex);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF: the path MTU is discovered, never fragmented.
        ip[8] = SentTtl;
        ip[9] = flow.Protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], srcIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dstIp);
        Checksum.WriteIpv4Header(ip[..PacketConstants.Ipv4MinHeaderLength]);

        var l4 = ip[PacketConstants.Ipv4MinHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(l4, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], dstPort);
        if (tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], step.Seq);
            BinaryPrimitives.WriteUInt32BigEndian(l4[8..], step.Ack);
            l4[12] = (byte)((l4Header / 4) << 4);
            l4[13] = (byte)step.Flags;
            BinaryPrimitives.WriteUInt16BigEndian(l4[14..], 65535);
            BinaryPrimitives.WriteUInt32BigEndian(l4[16..], 0);
            if (syn)
            {
                l4[20] = 2;
                l4[21] = MssOptionLength;
                BinaryPrimitives.WriteUInt16BigEndian(l4[22..], SentMss);
            }
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)(l4Header + step.PayloadLength));
            BinaryPrimitives.WriteUInt16BigEndian(l4[6..], 0);
        }

        Pattern(l4.Slice(l4Header, step.PayloadLength), flow.Id, stepIndex);
        if (PacketParser.TryParse(frame, out var info) != ParseError.None || !Checksum.WriteTransport(frame, info))
        {
            return 0;
        }

        return length;
    }

    /// <summary>The payload of step <paramref name="step"/> of flow <paramref name="flowId"/>.</summary>
    public static void Pattern(Span<byte> payload, long flowId, int step)
    {
        var seed = (int)(flowId * 31) + (step * 17);
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(seed + (i * 7));
        }
    }
}

/// <summary>The addresses and shape of one generated flow.</summary>
internal readonly record struct FlowSpec(long Id, byte Protocol, uint ClientIp, ushort ClientPort, uint ServerIp, ushort ServerPort, int Segments, int PayloadLength)
{
    private uint ClientIsn => (uint)(Id * 2654435761L);

    private uint ServerIsn => (uint)(Id * 40503L) ^ 0x5A5A5A5Au;

    /// <summary>TCP: SYN, SYN-ACK, ACK, K data segments each way, FIN, FIN-ACK, ACK. UDP: K request/response pairs.</summary>
    public int StepCount => Protocol == PacketConstants.ProtocolTcp ? 6 + (2 * Segments) : 2 * Segments;

    public FlowStep Step(int index)
    {
        const FlowDirection c = FlowDirection.ClientToServer;
        const FlowDirection s = FlowDirection.ServerToClient;
        var l = PayloadLength;
        if (Protocol != PacketConstants.ProtocolTcp)
        {
            return new FlowStep(index % 2 == 0 ? c : s, 0, 0, 0, l);
        }

        var k = Segments;
        var ci = ClientIsn + 1;
        var si = ServerIsn + 1;
        switch (index)
        {
            case 0: return new FlowStep(c, TcpFlags.Syn, ClientIsn, 0, 0);
            case 1: return new FlowStep(s, TcpFlags.Syn | TcpFlags.Ack, ServerIsn, ci, 0);
            case 2: return new FlowStep(c, TcpFlags.Ack, ci, si, 0);
        }

        var data = index - 3;
        if (data < 2 * k)
        {
            var n = (uint)(data / 2);
            return data % 2 == 0
                ? new FlowStep(c, TcpFlags.Psh | TcpFlags.Ack, ci + (n * (uint)l), si + (n * (uint)l), l)
                : new FlowStep(s, TcpFlags.Psh | TcpFlags.Ack, si + (n * (uint)l), ci + ((n + 1) * (uint)l), l);
        }

        var cEnd = ci + ((uint)k * (uint)l);
        var sEnd = si + ((uint)k * (uint)l);
        return (data - (2 * k)) switch
        {
            0 => new FlowStep(c, TcpFlags.Fin | TcpFlags.Ack, cEnd, sEnd, 0),
            1 => new FlowStep(s, TcpFlags.Fin | TcpFlags.Ack, sEnd, cEnd + 1, 0),
            _ => new FlowStep(c, TcpFlags.Ack, cEnd + 1, sEnd + 1, 0),
        };
    }
}
