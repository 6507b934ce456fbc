using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Packets;

// Expected frames come from make_frames.py, so byte equality also proves the checksums.
public class PacketBuilderTests
{
    private static readonly byte[] MacA = [2, 0, 0, 0, 0, 1];
    private static readonly byte[] MacB = [2, 0, 0, 0, 0, 2];
    private readonly byte[] _buffer = new byte[2048];

    private byte[] Built(int length)
    {
        Assert.True(length > 0, "builder refused");
        return _buffer[..length];
    }

    [Fact]
    public void WriteEthernet_UntaggedAndTagged_WritesExactHeaders()
    {
        Assert.Equal(Convert.FromHexString("0200000000020200000000010800"), Built(PacketBuilder.WriteEthernet(_buffer, MacB, MacA, 0x0800)));
        Assert.Equal(Convert.FromHexString("020000000002020000000001810020640800"), Built(PacketBuilder.WriteEthernet(_buffer, MacB, MacA, 0x0800, 0x2064)));
    }

    [Fact]
    public void ArpRequest_WritesBroadcastWhoHas()
    {
        Assert.Equal(GoldenFrames.ArpRequest, Built(PacketBuilder.ArpRequest(_buffer, MacA, 0xC0000201, 0xC0000202)));
    }

    [Fact]
    public void ArpReply_FromFieldsAndFromParsedRequest_WritesTheSameReply()
    {
        byte[] request = GoldenFrames.ArpRequest;

        Assert.Equal(GoldenFrames.ArpReply, Built(PacketBuilder.ArpReply(_buffer, MacB, 0xC0000202, MacA, 0xC0000201)));
        Assert.Equal(GoldenFrames.ArpReply, Built(PacketBuilder.ArpReply(_buffer, request, ParseOk(request), MacB)));
    }

    [Fact]
    public void Icmpv4EchoReply_SwapsEndpointsAndKeepsIdSequenceData()
    {
        byte[] request = GoldenFrames.EchoRequestIpv4;

        Assert.Equal(GoldenFrames.EchoReplyIpv4, Built(PacketBuilder.Icmpv4EchoReply(_buffer, request, ParseOk(request))));
    }

    [Fact]
    public void Icmpv6EchoReply_SwapsEndpointsAndKeepsVlan()
    {
        byte[] request = GoldenFrames.EchoRequestIpv6;

        Assert.Equal(GoldenFrames.EchoReplyIpv6, Built(PacketBuilder.Icmpv6EchoReply(_buffer, request, ParseOk(request))));
    }

    [Fact]
    public void Icmpv4DestinationUnreachable_FragmentationNeeded_QuotesHeaderAndEightBytes()
    {
        byte[] request = GoldenFrames.TcpSynIpv4;

        byte[] error = Built(PacketBuilder.Icmpv4DestinationUnreachable(_buffer, request, ParseOk(request), 4, 1400, Parse("203.0.113.254").V4));

        Assert.Equal(GoldenFrames.IcmpFragNeededIpv4, error);
        ReferenceChecksum.AssertValid(error);
    }

    [Fact]
    public void Icmpv6PacketTooBig_QuotesAsMuchAsFitsIn1280()
    {
        byte[] request = GoldenFrames.TcpIpv6Big;

        byte[] error = Built(PacketBuilder.Icmpv6PacketTooBig(_buffer, request, ParseOk(request), 1280, Parse("2001:db8:ffff::1").Value));

        Assert.Equal(14 + 1280, error.Length);
        Assert.Equal(GoldenFrames.PacketTooBigIpv6, error);
        ReferenceChecksum.AssertValid(error);
    }

    [Fact]
    public void Icmpv6PacketTooBig_SmallPacket_QuotesItWhole()
    {
        byte[] request = GoldenFrames.UdpIpv6Ext;
        var info = ParseOk(request);

        byte[] error = Built(PacketBuilder.Icmpv6PacketTooBig(_buffer, request, info, 1280, 1));

        Assert.Equal(14 + 40 + 8 + info.IpPacketLength, error.Length);
        Assert.Equal(request[14..], error[62..]);
        ReferenceChecksum.AssertValid(error);
    }

    [Fact]
    public void TcpRst_ForSynWithoutAck_AcknowledgesSynAndPayload()
    {
        byte[] request = GoldenFrames.TcpSynIpv4;

        Assert.Equal(GoldenFrames.RstForSynIpv4, Built(PacketBuilder.TcpRst(_buffer, request, ParseOk(request))));
    }

    [Fact]
    public void TcpRst_ForIpv6SegmentWithAck_UsesItsAckAsSequence()
    {
        byte[] request = GoldenFrames.TcpIpv6Big;

        Assert.Equal(GoldenFrames.RstForDataIpv6, Built(PacketBuilder.TcpRst(_buffer, request, ParseOk(request))));
    }

    [Fact]
    public void TcpRst_ForARst_IsNotBuilt()
    {
        byte[] rst = GoldenFrames.RstForSynIpv4;

        Assert.Equal(0, PacketBuilder.TcpRst(_buffer, rst, ParseOk(rst)));
    }

    [Fact]
    public void IcmpError_AboutAnIcmpError_IsNotBuilt()
    {
        byte[] v4 = GoldenFrames.IcmpFragNeededIpv4;
        byte[] v6 = GoldenFrames.PacketTooBigIpv6;

        Assert.Equal(0, PacketBuilder.Icmpv4DestinationUnreachable(_buffer, v4, ParseOk(v4), 1, 0, 1));
        Assert.Equal(0, PacketBuilder.Icmpv6PacketTooBig(_buffer, v6, ParseOk(v6), 1280, 1));
    }

    [Fact]
    public void Builders_BufferTooSmall_ReturnZero()
    {
        byte[] syn = GoldenFrames.TcpSynIpv4;
        byte[] ping = GoldenFrames.EchoRequestIpv4;
        byte[] small = new byte[41];

        Assert.Equal(0, PacketBuilder.TcpRst(small, syn, ParseOk(syn)));
        Assert.Equal(0, PacketBuilder.Icmpv4EchoReply(small, ping, ParseOk(ping)));
        Assert.Equal(0, PacketBuilder.ArpRequest(small, MacA, 1, 2));
        Assert.Equal(0, PacketBuilder.WriteEthernet(small.AsSpan(0, 13), MacA, MacB, 0x0800));
    }
}
