using System.Buffers.Binary;
using Dva.Node.Traffic;
using Dva.Shared.Packets;

namespace Dva.Node.Tests.Functional;

public class TrafficFramesTests
{
    private static readonly byte[] ClientMac = [0x02, 0xC1, 0, 0, 0, 1];
    private static readonly byte[] GatewayMac = [0x02, 0, 0, 0, 0, 1];

    [Fact]
    public void TcpFlow_EveryStep_ValidChecksumsAndSequenceNumbersThatFollowOnEachOther()
    {
        var spec = new FlowSpec(7, PacketConstants.ProtocolTcp, 0xC000020A, 20001, 0xC633640A, 80, Segments: 2, PayloadLength: 100);
        var buffer = new byte[2048];
        var next = new Dictionary<FlowDirection, uint>();

        Assert.Equal(10, spec.StepCount);
        for (var i = 0; i < spec.StepCount; i++)
        {
            var step = spec.Step(i);
            var length = TrafficFrames.Write(buffer, spec, step, i, ClientMac, GatewayMac);
            var frame = buffer.AsSpan(0, length);
            Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out var info));
            Assert.True(Checksum.VerifyIpv4Header(frame[14..34]));
            Assert.True(Checksum.VerifyTransport(frame, info));
            Assert.Equal(step.Flags, info.TcpFlags);
            Assert.Equal(step.PayloadLength, info.PayloadLength);
            if (next.TryGetValue(step.Direction, out var expected))
            {
                Assert.Equal(expected, info.TcpSequence);
            }

            var consumed = (uint)step.PayloadLength + ((step.Flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0 ? 1u : 0u);
            next[step.Direction] = info.TcpSequence + consumed;
            var other = step.Direction == FlowDirection.ClientToServer ? FlowDirection.ServerToClient : FlowDirection.ClientToServer;
            if ((step.Flags & TcpFlags.Ack) != 0 && next.TryGetValue(other, out var acked))
            {
                Assert.Equal(acked, info.TcpAcknowledgment);
            }
        }
    }

    [Fact]
    public void Pattern_DependsOnFlowAndStep()
    {
        var a = new byte[32];
        var b = new byte[32];
        var c = new byte[32];
        TrafficFrames.Pattern(a, 1, 3);
        TrafficFrames.Pattern(b, 2, 3);
        TrafficFrames.Pattern(c, 1, 4);

        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Syn_CarriesMssOption()
    {
        var spec = new FlowSpec(1, PacketConstants.ProtocolTcp, 0xC000020A, 20001, 0xC633640A, 80, 1, 10);
        var buffer = new byte[2048];
        var length = TrafficFrames.Write(buffer, spec, spec.Step(0), 0, ClientMac, GatewayMac);

        Assert.Equal(ParseError.None, PacketParser.TryParse(buffer.AsSpan(0, length), out var info));
        Assert.Equal(TrafficFrames.SentMss, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(info.TcpMssOptionOffset + 2)));
    }
}
