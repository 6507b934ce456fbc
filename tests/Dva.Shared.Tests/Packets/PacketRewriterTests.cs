using System.Buffers.Binary;
using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Packets;

public class PacketRewriterTests
{
    // Bytes other than the rewritten field and the checksums must be untouched.
    private static void AssertOnlyChanged(byte[] before, byte[] after, params (int Offset, int Length)[] allowed)
    {
        Assert.Equal(before.Length, after.Length);
        for (int i = 0; i < before.Length; i++)
        {
            if (!allowed.Any(range => i >= range.Offset && i < range.Offset + range.Length))
            {
                Assert.True(before[i] == after[i], $"byte {i} changed");
            }
        }
    }

    [Fact]
    public void SetIpv4Source_TcpSyn_WritesAddressAndKeepsBothChecksumsValid()
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;
        byte[] before = (byte[])frame.Clone();
        var info = ParseOk(frame);

        Assert.Equal(RewriteError.None, PacketRewriter.SetIpv4Source(frame, info, 0xCB007105));

        Assert.Equal(new byte[] { 203, 0, 113, 5 }, frame[26..30]);
        ReferenceChecksum.AssertValid(frame);
        AssertOnlyChanged(before, frame, (24, 2), (26, 4), (50, 2));
    }

    [Fact]
    public void SetDestinationAddressAndPort_UdpWithIpOptions_KeepsChecksumsValid()
    {
        byte[] frame = GoldenFrames.UdpIpv4Options;
        var info = ParseOk(frame);

        Assert.Equal(RewriteError.None, PacketRewriter.SetIpv4Destination(frame, info, 0xC0000263));
        Assert.Equal(RewriteError.None, PacketRewriter.SetDestinationPort(frame, info, 5300));
        Assert.Equal(RewriteError.None, PacketRewriter.SetSourcePort(frame, info, 1));

        var after = ParseOk(frame);
        Assert.Equal(Parse("192.0.2.99"), after.Destination);
        Assert.Equal(5300, after.DstPort);
        Assert.Equal(1, after.SrcPort);
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void SetIpv4Source_UdpWithoutChecksum_LeavesItZero()
    {
        byte[] frame = GoldenFrames.UdpIpv4Options;
        frame[44] = frame[45] = 0;
        var info = ParseOk(frame);

        PacketRewriter.SetIpv4Source(frame, info, 0x0A000001);
        PacketRewriter.SetSourcePort(frame, info, 999);

        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(44)));
        Assert.True(ReferenceChecksum.Ipv4HeaderValid(frame, 14));
    }

    [Theory]
    [InlineData(nameof(GoldenFrames.UdpIpv6Ext))]
    [InlineData(nameof(GoldenFrames.TcpIpv6Big))]
    [InlineData(nameof(GoldenFrames.EchoRequestIpv6))]
    public void SetIpv6Addresses_KeepTransportChecksumValid(string name)
    {
        byte[] frame = (byte[])typeof(GoldenFrames).GetProperty(name)!.GetValue(null)!;
        var info = ParseOk(frame);
        IpAddr source = Parse("2001:db8:aaaa::5");
        IpAddr destination = Parse("2001:db8:bbbb::ffff:1");

        Assert.Equal(RewriteError.None, PacketRewriter.SetIpv6Source(frame, info, source.Value));
        Assert.Equal(RewriteError.None, PacketRewriter.SetIpv6Destination(frame, info, destination.Value));

        var after = ParseOk(frame);
        Assert.Equal(source, after.Source);
        Assert.Equal(destination, after.Destination);
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void SetSourceAddress_OtherFamily_IsRefusedAndLeavesFrame()
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;
        byte[] before = (byte[])frame.Clone();
        var info = ParseOk(frame);

        Assert.Equal(RewriteError.AddressFamilyMismatch, PacketRewriter.SetSourceAddress(frame, info, Parse("2001:db8::9")));
        Assert.Equal(before, frame);
    }

    [Fact]
    public void SetSourcePort_Fragment_IsRefused()
    {
        byte[] frame = GoldenFrames.FragmentFirstIpv4;
        var info = ParseOk(frame);

        Assert.Equal(RewriteError.NoPorts, PacketRewriter.SetSourcePort(frame, info, 1));
    }

    [Theory]
    [InlineData(nameof(GoldenFrames.EchoRequestIpv4))]
    [InlineData(nameof(GoldenFrames.EchoRequestIpv6))]
    public void SetIcmpEchoId_KeepsChecksumValid(string name)
    {
        byte[] frame = (byte[])typeof(GoldenFrames).GetProperty(name)!.GetValue(null)!;
        var info = ParseOk(frame);

        Assert.Equal(RewriteError.None, PacketRewriter.SetIcmpEchoId(frame, info, 0xABCD));

        Assert.Equal(0xABCD, ParseOk(frame).IcmpId);
        ReferenceChecksum.AssertValid(frame);
    }

    [Theory]
    [InlineData(nameof(GoldenFrames.TcpSynIpv4), 56)]
    [InlineData(nameof(GoldenFrames.TcpSynIpv4OddMss), 57)]
    public void ClampMss_SynAboveMaximum_LowersItAndFixesChecksum(string name, int valueOffset)
    {
        byte[] frame = (byte[])typeof(GoldenFrames).GetProperty(name)!.GetValue(null)!;
        var info = ParseOk(frame);

        Assert.Equal(RewriteError.None, PacketRewriter.ClampMss(frame, info, 1360, out bool clamped));

        Assert.True(clamped);
        Assert.Equal(1360, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(valueOffset)));
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void ClampMss_SynAlreadyBelowMaximum_LeavesFrame()
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;
        byte[] before = (byte[])frame.Clone();

        Assert.Equal(RewriteError.None, PacketRewriter.ClampMss(frame, ParseOk(frame), 1460, out bool clamped));

        Assert.False(clamped);
        Assert.Equal(before, frame);
    }

    [Fact]
    public void ClampMss_NonSynAndNonTcp_AreRefused()
    {
        byte[] data = GoldenFrames.TcpIpv6Big;
        byte[] udp = GoldenFrames.UdpIpv6Ext;

        Assert.Equal(RewriteError.NotTcpSyn, PacketRewriter.ClampMss(data, ParseOk(data), 1200, out _));
        Assert.Equal(RewriteError.NotTcp, PacketRewriter.ClampMss(udp, ParseOk(udp), 1200, out _));
    }

    [Fact]
    public void DecrementHopLimit_Ipv4_LowersTtlAndFixesHeaderChecksum()
    {
        byte[] frame = GoldenFrames.EchoRequestIpv4;

        Assert.Equal(RewriteError.None, PacketRewriter.DecrementHopLimit(frame, ParseOk(frame)));

        Assert.Equal(56, frame[22]);
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void DecrementHopLimit_Ipv6_LowersHopLimit()
    {
        byte[] frame = GoldenFrames.EchoRequestIpv6;

        Assert.Equal(RewriteError.None, PacketRewriter.DecrementHopLimit(frame, ParseOk(frame)));

        Assert.Equal(63, ParseOk(frame).HopLimit);
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void DecrementHopLimit_TtlOne_ReportsExceededAndLeavesFrame()
    {
        byte[] frame = GoldenFrames.EchoRequestIpv4;
        frame[22] = 1;
        Checksum.WriteIpv4Header(frame.AsSpan(14, 20));
        byte[] before = (byte[])frame.Clone();

        Assert.Equal(RewriteError.HopLimitExceeded, PacketRewriter.DecrementHopLimit(frame, ParseOk(frame)));
        Assert.Equal(before, frame);
    }

    // ---- checksum left to the device (NEEDS_CSUM, a GSO super-frame): the field holds the pseudo-header sum ----

    /// <summary>The folded pseudo-header sum (not complemented), from the frame's addresses, summed the naive way.</summary>
    private static ushort PseudoHeaderSum(byte[] frame, in PacketInfo info)
    {
        var length = info.IpPacketLength - info.IpHeaderLength;
        var addressLength = info.IpVersion == 4 ? 4 : 16;
        var pseudo = new List<byte>();
        pseudo.AddRange(frame.AsSpan(info.SourceAddressOffset, addressLength).ToArray());
        pseudo.AddRange(frame.AsSpan(info.DestinationAddressOffset, addressLength).ToArray());
        pseudo.AddRange(new byte[] { 0, 0, (byte)(length >> 8), (byte)length, 0, 0, 0, info.Protocol });
        return ReferenceChecksum.Sum([.. pseudo]);
    }

    /// <summary>The frame as a host with checksum offload hands it over: the transport field holds the pseudo-header sum.</summary>
    private static byte[] AsPartial(byte[] frame, out PacketInfo info, out int field)
    {
        info = ParseOk(frame);
        field = info.L4Offset + Checksum.TransportChecksumOffset(info);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(field), PseudoHeaderSum(frame, info));
        return frame;
    }

    /// <summary>What the device does: sum the segment from the transport header (the field included) and store the complement.</summary>
    private static void FinishLikeTheDevice(byte[] frame, in PacketInfo info, int field)
    {
        var segment = frame[info.L4Offset..(info.L3Offset + info.IpPacketLength)];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(field), (ushort)~ReferenceChecksum.Sum(segment));
    }

    [Fact]
    public void SetIpv4SourceAndPort_PartialChecksum_FieldIsTheNewPseudoHeaderSum()
    {
        var frame = AsPartial(GoldenFrames.TcpSynIpv4, out var info, out var field);
        var before = (byte[])frame.Clone();

        Assert.Equal(RewriteError.None, PacketRewriter.SetSourceAddress(frame, info, Parse("203.0.113.5"), partialChecksum: true));
        Assert.Equal(RewriteError.None, PacketRewriter.SetSourcePort(frame, info, 40000, partialChecksum: true));

        // The address moved the pseudo-header sum; the port did not touch the field (the device sums the port itself).
        Assert.Equal(PseudoHeaderSum(frame, info), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(field)));
        Assert.NotEqual(BinaryPrimitives.ReadUInt16BigEndian(before.AsSpan(field)), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(field)));
        AssertOnlyChanged(before, frame, (24, 2), (26, 4), (34, 2), (field, 2));
        Assert.True(ReferenceChecksum.Ipv4HeaderValid(frame, info.L3Offset));
        FinishLikeTheDevice(frame, info, field);
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void SetDestinationPortOnly_PartialChecksum_LeavesTheFieldAlone()
    {
        var frame = AsPartial(GoldenFrames.UdpIpv4Options, out var info, out var field);
        var before = (byte[])frame.Clone();

        Assert.Equal(RewriteError.None, PacketRewriter.SetDestinationPort(frame, info, 5353, partialChecksum: true));

        AssertOnlyChanged(before, frame, (info.L4Offset + 2, 2));
        FinishLikeTheDevice(frame, info, field);
        ReferenceChecksum.AssertValid(frame);
    }

    [Fact]
    public void SetIpv6Addresses_PartialChecksum_FinishedSegmentIsValid()
    {
        var frame = AsPartial(GoldenFrames.TcpIpv6Big, out var info, out var field);

        Assert.Equal(RewriteError.None, PacketRewriter.SetSourceAddress(frame, info, Parse("2001:db8:ffff::7"), partialChecksum: true));
        Assert.Equal(RewriteError.None, PacketRewriter.SetDestinationAddress(frame, info, Parse("2001:db8:1::99"), partialChecksum: true));
        Assert.Equal(RewriteError.None, PacketRewriter.SetDestinationPort(frame, info, 8443, partialChecksum: true));

        Assert.Equal(PseudoHeaderSum(frame, info), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(field)));
        FinishLikeTheDevice(frame, info, field);
        ReferenceChecksum.AssertValid(frame);
    }
}
