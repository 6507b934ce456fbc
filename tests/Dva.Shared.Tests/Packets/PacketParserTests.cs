using System.Buffers.Binary;
using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Packets;

public class PacketParserTests
{
    [Fact]
    public void TryParse_TcpSynIpv4_ReadsEveryField()
    {
        var info = ParseOk(GoldenFrames.TcpSynIpv4);

        Assert.Equal(PacketConstants.EtherTypeIpv4, info.EtherType);
        Assert.False(info.HasVlan);
        Assert.Equal(14, info.L3Offset);
        Assert.Equal(4, info.IpVersion);
        Assert.Equal(20, info.IpHeaderLength);
        Assert.Equal(52, info.IpPacketLength);
        Assert.Equal(26, info.SourceAddressOffset);
        Assert.Equal(30, info.DestinationAddressOffset);
        Assert.Equal(Parse("192.0.2.1"), info.Source);
        Assert.Equal(Parse("198.51.100.2"), info.Destination);
        Assert.Equal(0xC0000201u, info.Source.V4);
        Assert.Equal(PacketConstants.ProtocolTcp, info.Protocol);
        Assert.Equal(64, info.HopLimit);
        Assert.False(info.IsFragment);
        Assert.Equal(0x1234u, info.FragmentId);
        Assert.Equal(34, info.L4Offset);
        Assert.True(info.HasPorts);
        Assert.Equal(50000, info.SrcPort);
        Assert.Equal(80, info.DstPort);
        Assert.Equal(0x01020304u, info.TcpSequence);
        Assert.Equal(0u, info.TcpAcknowledgment);
        Assert.Equal(TcpFlags.Syn, info.TcpFlags);
        Assert.Equal(28, info.TcpHeaderLength);
        Assert.Equal(54, info.TcpOptionsOffset);
        Assert.Equal(54, info.TcpMssOptionOffset);
        Assert.Equal(62, info.PayloadOffset);
        Assert.Equal(4, info.PayloadLength);
        Assert.False(info.IsIcmpError);
        Assert.Equal("192.0.2.1", info.Source.ToIPAddress().ToString());
    }

    [Fact]
    public void TryParse_VlanTaggedFrame_RecordsTciAndShiftsOffsets()
    {
        var info = ParseOk(GoldenFrames.TcpSynIpv4Vlan);

        Assert.True(info.HasVlan);
        Assert.Equal(0x2064, info.VlanTci);
        Assert.Equal(0x064, info.VlanId);
        Assert.Equal(PacketConstants.EtherTypeIpv4, info.EtherType);
        Assert.Equal(18, info.L3Offset);
        Assert.Equal(38, info.L4Offset);
        Assert.Equal(58, info.TcpMssOptionOffset);
        Assert.Equal(80, info.DstPort);
    }

    [Fact]
    public void TryParse_EthernetPadding_IsExcludedFromPayload()
    {
        byte[] padded = [.. GoldenFrames.EchoRequestIpv4, .. new byte[12]];

        var info = ParseOk(padded);

        Assert.Equal(20, info.PayloadLength);
        Assert.Equal(48, info.IpPacketLength);
    }

    [Fact]
    public void TryParse_Ipv4WithOptions_FindsUdpAfterOptions()
    {
        var info = ParseOk(GoldenFrames.UdpIpv4Options);

        Assert.Equal(24, info.IpHeaderLength);
        Assert.Equal(38, info.L4Offset);
        Assert.Equal(5353, info.SrcPort);
        Assert.Equal(53, info.DstPort);
        Assert.Equal(13, info.UdpLength);
        Assert.Equal(46, info.PayloadOffset);
        Assert.Equal(5, info.PayloadLength);
        Assert.True(Checksum.VerifyIpv4Header(GoldenFrames.UdpIpv4Options, info));
    }

    [Fact]
    public void TryParse_UdpIpv6WithExtensionHeaders_StopsAtUdp()
    {
        var info = ParseOk(GoldenFrames.UdpIpv6Ext);

        Assert.Equal(6, info.IpVersion);
        Assert.Equal(PacketConstants.EtherTypeIpv6, info.EtherType);
        Assert.Equal(22, info.SourceAddressOffset);
        Assert.Equal(38, info.DestinationAddressOffset);
        Assert.Equal(Parse("2001:db8::1"), info.Source);
        Assert.Equal(Parse("2001:db8:1::2"), info.Destination);
        Assert.Equal(PacketConstants.ProtocolUdp, info.Protocol);
        Assert.Equal(56, info.IpHeaderLength);
        Assert.Equal(70, info.L4Offset);
        Assert.Equal(40000, info.SrcPort);
        Assert.Equal(53, info.DstPort);
        Assert.Equal(6, info.PayloadLength);
        Assert.False(info.IsFragment);
        Assert.Equal(-1, info.FragmentHeaderOffset);
    }

    [Fact]
    public void TryParse_IcmpFragmentationNeeded_ExposesQuotedTcpFlow()
    {
        var info = ParseOk(GoldenFrames.IcmpFragNeededIpv4);

        Assert.True(info.IsIcmpError);
        Assert.Equal(3, info.IcmpType);
        Assert.Equal(4, info.IcmpCode);
        QuotedPacket inner = info.Inner;
        Assert.Equal(4, inner.IpVersion);
        Assert.Equal(42, inner.L3Offset);
        Assert.Equal(28, inner.Length);
        Assert.Equal(54, inner.SourceAddressOffset);
        Assert.Equal(Parse("192.0.2.1"), inner.Source);
        Assert.Equal(Parse("198.51.100.2"), inner.Destination);
        Assert.Equal(PacketConstants.ProtocolTcp, inner.Protocol);
        Assert.Equal(62, inner.L4Offset);
        Assert.True(inner.HasPorts);
        Assert.Equal(50000, inner.SrcPort);
        Assert.Equal(80, inner.DstPort);
        Assert.False(inner.IsFragment);
    }

    [Fact]
    public void TryParse_IcmpQuoteCutAfterPorts_IsTolerated()
    {
        var info = ParseOk(GoldenFrames.IcmpShortQuoteIpv4);

        Assert.True(info.IsIcmpError);
        Assert.Equal(24, info.Inner.Length);
        Assert.True(info.Inner.HasPorts);
        Assert.Equal(80, info.Inner.DstPort);
    }

    [Fact]
    public void TryParse_Icmpv6PacketTooBig_ExposesQuotedTcpFlow()
    {
        var info = ParseOk(GoldenFrames.PacketTooBigIpv6);

        Assert.True(info.IsIcmpError);
        Assert.Equal(2, info.IcmpType);
        Assert.Equal(PacketConstants.ProtocolIcmpv6, info.Protocol);
        Assert.Equal(6, info.Inner.IpVersion);
        Assert.Equal(Parse("2001:db8::1"), info.Inner.Source);
        Assert.Equal(Parse("2001:db8:1::2"), info.Inner.Destination);
        Assert.Equal(443, info.Inner.SrcPort);
        Assert.Equal(55000, info.Inner.DstPort);
        Assert.Equal(1232, info.Inner.Length);
    }

    [Fact]
    public void TryParse_EchoRequests_ReadIdentifierAndSequence()
    {
        var v4 = ParseOk(GoldenFrames.EchoRequestIpv4);
        var v6 = ParseOk(GoldenFrames.EchoRequestIpv6);

        Assert.True(v4.IsIcmpEcho);
        Assert.Equal(8, v4.IcmpType);
        Assert.Equal(0x4242, v4.IcmpId);
        Assert.Equal(7, v4.IcmpSequence);
        Assert.Equal(57, v4.HopLimit);
        Assert.True(v6.IsIcmpEcho);
        Assert.Equal(128, v6.IcmpType);
        Assert.Equal(0x0101, v6.IcmpId);
        Assert.Equal(3, v6.IcmpSequence);
        Assert.Equal(5, v6.VlanTci);
        Assert.False(v6.HasPorts);
    }

    [Fact]
    public void TryParse_ArpRequest_ReadsOperationAndAddresses()
    {
        byte[] frame = GoldenFrames.ArpRequest;
        var info = ParseOk(frame);

        Assert.True(info.IsArp);
        Assert.False(info.IsIp);
        Assert.Equal(1, info.ArpOperation);
        Assert.Equal(0xC0000201u, info.ArpSenderIp);
        Assert.Equal(0xC0000202u, info.ArpTargetIp);
        Assert.Equal(22, info.ArpSenderMacOffset);
        Assert.Equal(32, info.ArpTargetMacOffset);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 1 }, frame[22..28]);
    }

    [Fact]
    public void TryParse_Ipv4Fragments_ReportOffsetsAndLeaveL4Alone()
    {
        var first = ParseOk(GoldenFrames.FragmentFirstIpv4);
        var second = ParseOk(GoldenFrames.FragmentSecondIpv4);

        Assert.True(first.IsFragment);
        Assert.True(first.MoreFragments);
        Assert.Equal(0, first.FragmentOffset);
        Assert.Equal(0xBEEFu, first.FragmentId);
        Assert.False(first.HasTransportHeader);
        Assert.Equal(0, first.SrcPort);
        Assert.Equal(34, first.L4Offset);
        Assert.Equal(1480, first.PayloadLength);
        Assert.True(second.IsFragment);
        Assert.False(second.MoreFragments);
        Assert.Equal(1480, second.FragmentOffset);
        Assert.Equal(0xBEEFu, second.FragmentId);
        Assert.Equal(PacketConstants.ProtocolUdp, second.Protocol);
    }

    [Fact]
    public void TryParse_Ipv6Fragments_ReadFragmentHeader()
    {
        var first = ParseOk(GoldenFrames.FragmentFirstIpv6);
        var second = ParseOk(GoldenFrames.FragmentSecondIpv6);

        Assert.True(first.IsFragment);
        Assert.True(first.MoreFragments);
        Assert.Equal(54, first.FragmentHeaderOffset);
        Assert.Equal(0xDEADBEEFu, first.FragmentId);
        Assert.Equal(0, first.FragmentOffset);
        Assert.Equal(PacketConstants.ProtocolUdp, first.Protocol);
        Assert.Equal(62, first.L4Offset);
        Assert.Equal(1232, first.PayloadLength);
        Assert.True(second.IsFragment);
        Assert.False(second.MoreFragments);
        Assert.Equal(1232, second.FragmentOffset);
        Assert.Equal(0xDEADBEEFu, second.FragmentId);
    }

    [Fact]
    public void TryParse_Ipv6AtomicFragment_IsParsedAsWholeDatagram()
    {
        // RFC 6946: offset 0 and M = 0 is not a fragment; the UDP header behind it is read.
        byte[] udp = GoldenFrames.UdpIpv6Ext[70..];
        byte[] fragmentHeader = [17, 0, 0, 0, 0, 0, 0, 9];
        byte[] frame = [.. GoldenFrames.UdpIpv6Ext[..54], .. fragmentHeader, .. udp];
        frame[20] = 44;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), (ushort)(fragmentHeader.Length + udp.Length));

        var info = ParseOk(frame);

        Assert.False(info.IsFragment);
        Assert.Equal(54, info.FragmentHeaderOffset);
        Assert.Equal(40000, info.SrcPort);
    }

    [Fact]
    public void TryParse_MssBehindOneNop_LocatesTheOption()
    {
        var info = ParseOk(GoldenFrames.TcpSynIpv4OddMss);

        Assert.Equal(54, info.TcpOptionsOffset);
        Assert.Equal(55, info.TcpMssOptionOffset);
    }

    [Fact]
    public void TryParse_MalformedTcpOptions_AcceptsWithoutMss()
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;
        // NOP NOP, an option whose length runs past the header, then what looks like an MSS.
        byte[] options = [1, 1, 0xFE, 0x20, 2, 4, 0x05, 0xB4];
        options.CopyTo(frame, 54);
        var info = ParseOk(frame);

        Assert.Equal(-1, info.TcpMssOptionOffset);
    }

    [Fact]
    public void TryParse_UnknownEtherType_IsAcceptedAtLayerTwo()
    {
        byte[] frame = [.. GoldenFrames.TcpSynIpv4[..12], 0x88, 0xCC, 1, 2, 3];

        var info = ParseOk(frame);

        Assert.Equal(0x88CC, info.EtherType);
        Assert.False(info.IsIp);
        Assert.False(info.IsArp);
        Assert.Equal(-1, info.L4Offset);
    }

    [Theory]
    [InlineData(0x8100)]
    [InlineData(0x88A8)]
    public void TryParse_SecondTag_IsRejected(int innerTpid)
    {
        byte[] frame = GoldenFrames.TcpSynIpv4Vlan;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)innerTpid);

        Assert.Equal(ParseError.StackedVlanUnsupported, PacketParser.TryParse(frame, out _));
    }

    [Theory]
    [InlineData(14, 0x65, ParseError.Ipv4BadVersion)]
    [InlineData(14, 0x44, ParseError.Ipv4BadHeaderLength)]
    [InlineData(14, 0x4F, ParseError.Ipv4Truncated)]
    [InlineData(16, 0x00, ParseError.Ipv4TotalLengthTooSmall)]
    public void TryParse_BadIpv4Header_NamesTheReason(int offset, byte value, ParseError expected)
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;
        frame[offset] = value;
        if (offset == 16)
        {
            frame[17] = 19;
        }

        Assert.Equal(expected, PacketParser.TryParse(frame, out _));
    }

    [Fact]
    public void TryParse_NineExtensionHeaders_IsRejected()
    {
        byte[] ip = GoldenFrames.UdpIpv6Ext[14..54];
        var extensions = new List<byte>();
        for (int i = 0; i < 9; i++)
        {
            extensions.AddRange([60, 0, 1, 4, 0, 0, 0, 0]);
        }

        extensions.AddRange(new byte[8]);
        ip[6] = 60;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)extensions.Count);
        byte[] frame = [.. GoldenFrames.UdpIpv6Ext[..14], .. ip, .. extensions];

        Assert.Equal(ParseError.Ipv6TooManyExtensionHeaders, PacketParser.TryParse(frame, out _));
    }

    [Fact]
    public void TryParse_IcmpQuotingOtherFamily_IsRejected()
    {
        byte[] frame = GoldenFrames.IcmpFragNeededIpv4;
        frame[42] = 0x65;

        Assert.Equal(ParseError.IcmpQuoteBadVersion, PacketParser.TryParse(frame, out _));
    }

    [Fact]
    public void TryParse_BadArpFormat_IsRejected()
    {
        byte[] frame = GoldenFrames.ArpRequest;
        frame[18] = 8; // hardware address length 8

        Assert.Equal(ParseError.ArpUnsupportedFormat, PacketParser.TryParse(frame, out _));
    }
}
