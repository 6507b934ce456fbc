using System.Buffers.Binary;
using Dva.Node.Io;
using Dva.Node.Tests.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Io;

/// <summary>
/// Splitting a TCP super-frame too long for one tunnel datagram into two, byte by byte, as GSO would have cut it; finishing
/// a checksum left to the device; a source without offloads finishing its frames' checksums.
/// </summary>
public class FrameOffloadTests
{
    private const int Gso = 1000;

    /// <summary>A TCP super-frame of <paramref name="segments"/> × 1000 payload bytes with the checksum left to the device.</summary>
    private static byte[] SuperFrame(string source, string destination, int segments, TcpFlags flags)
    {
        var small = TestFrames.Tcp(source, 40000, destination, 5201, flags);
        var frame = new byte[small.Length + (segments * Gso)];
        small.CopyTo(frame, 0);
        for (var i = small.Length; i < frame.Length; i++)
        {
            frame[i] = (byte)((i * 7) + (i >> 8));
        }

        var v6 = frame[12] == 0x86;
        if (v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), (ushort)(frame.Length - 14 - 40));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(frame.Length - 14));
            Checksum.WriteIpv4Header(frame.AsSpan(14, 20));
        }

        var info = TestFrames.Parse(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(info.L4Offset + 16), PseudoSum(frame, info));
        return frame;
    }

    private static ushort PseudoSum(byte[] frame, in PacketInfo info)
    {
        var length = info.IpPacketLength - info.IpHeaderLength;
        return info.IpVersion == 4
            ? Checksum.Fold(Checksum.PseudoHeaderV4(frame.AsSpan(info.SourceAddressOffset, 4), frame.AsSpan(info.DestinationAddressOffset, 4), 6, length))
            : Checksum.Fold(Checksum.PseudoHeaderV6(frame.AsSpan(info.SourceAddressOffset, 16), frame.AsSpan(info.DestinationAddressOffset, 16), 6, length));
    }

    [Fact]
    public void TrySplitTcp_Ipv4_TwoSuperFramesAtAMultipleOfGsoSizeWithTheirOwnHeaders()
    {
        var frame = SuperFrame("192.0.2.10", "198.51.100.11", 5, TcpFlags.Ack | TcpFlags.Psh | TcpFlags.Fin | TcpFlags.Cwr);
        var original = (byte[])frame.Clone();
        var info = TestFrames.Parse(frame);
        var second = new byte[8000];
        var offload = new TunnelOffload(Gso, GsoType.TcpV4, NeedsChecksum: true, Ecn: true);

        Assert.True(FrameOffload.TrySplitTcp(frame, info, offload, maxFrameLength: 54 + 3500, second, out var firstLength, out var secondLength));

        Assert.Equal((54 + 3000, 54 + 2000), (firstLength, secondLength));
        var first = frame[..firstLength];
        var rest = second[..secondLength];

        // First: 3 segments, length 3040, id unchanged, FIN and PSH off (CWR kept), pseudo-header sum of 3020 TCP bytes.
        var one = TestFrames.Parse(first);
        Assert.Equal((20 + 20 + 3000, 0x1234, 1000u, TcpFlags.Ack | TcpFlags.Cwr), (one.IpPacketLength, Id(first), one.TcpSequence, one.TcpFlags));
        Assert.True(Checksum.VerifyIpv4Header(first, one));
        Assert.Equal(PseudoSum(first, one), BinaryPrimitives.ReadUInt16BigEndian(first.AsSpan(one.L4Offset + 16)));
        Assert.Equal(original.AsSpan(54, 3000).ToArray(), first[54..]);

        // Second: 2 segments, id + 3 (GSO numbers each segment), seq + 3000, CWR off, FIN and PSH kept.
        var two = TestFrames.Parse(rest);
        Assert.Equal((20 + 20 + 2000, 0x1234 + 3, 4000u, TcpFlags.Ack | TcpFlags.Psh | TcpFlags.Fin), (two.IpPacketLength, Id(rest), two.TcpSequence, two.TcpFlags));
        Assert.True(Checksum.VerifyIpv4Header(rest, two));
        Assert.Equal(PseudoSum(rest, two), BinaryPrimitives.ReadUInt16BigEndian(rest.AsSpan(two.L4Offset + 16)));
        Assert.Equal(original.AsSpan(54 + 3000).ToArray(), rest[54..]);

        // Everything else in the headers is the original's.
        Assert.Equal(original[..16], first[..16]);
        Assert.Equal(original[..16], rest[..16]);
        Assert.Equal(original[20..24], rest[20..24]);
        Assert.Equal(original[26..(54 - 16)], rest[26..(54 - 16)]);
    }

    [Fact]
    public void TrySplitTcp_Ipv6_PayloadLengthAndSequenceOfEachPart()
    {
        var frame = SuperFrame("2001:db8::10", "2001:db8:1::11", 4, TcpFlags.Ack | TcpFlags.Psh);
        var original = (byte[])frame.Clone();
        var info = TestFrames.Parse(frame);
        var second = new byte[8000];

        Assert.True(FrameOffload.TrySplitTcp(frame, info, new TunnelOffload(Gso, GsoType.TcpV6, NeedsChecksum: true), 74 + 2999, second, out var firstLength, out var secondLength));

        Assert.Equal((74 + 2000, 74 + 2000), (firstLength, secondLength));
        var one = TestFrames.Parse(frame.AsSpan(0, firstLength));
        var two = TestFrames.Parse(second.AsSpan(0, secondLength));
        Assert.Equal((40 + 20 + 2000, 1000u, TcpFlags.Ack), (one.IpPacketLength, one.TcpSequence, one.TcpFlags));
        Assert.Equal((40 + 20 + 2000, 3000u, TcpFlags.Ack | TcpFlags.Psh), (two.IpPacketLength, two.TcpSequence, two.TcpFlags));
        Assert.Equal(PseudoSum(second, two), BinaryPrimitives.ReadUInt16BigEndian(second.AsSpan(two.L4Offset + 16)));
        Assert.Equal(original.AsSpan(74 + 2000).ToArray(), second.AsSpan(74, 2000).ToArray());
    }

    [Theory]
    [InlineData(GsoType.UdpL4, 54 + 3500)]   // only TCP is split
    [InlineData(GsoType.TcpV4, 54 + 999)]    // not even one segment fits
    [InlineData(GsoType.TcpV4, 54 + 2500)]   // two segments fit, the other three do not
    public void TrySplitTcp_CannotSplit_FalseAndFrameUnchanged(GsoType type, int maxFrameLength)
    {
        var frame = SuperFrame("192.0.2.10", "198.51.100.11", 5, TcpFlags.Ack);
        var original = (byte[])frame.Clone();
        var info = TestFrames.Parse(frame);

        Assert.False(FrameOffload.TrySplitTcp(frame, info, new TunnelOffload(Gso, type, NeedsChecksum: true), maxFrameLength, new byte[8000], out _, out _));
        Assert.Equal(original, frame);
    }

    [Theory]
    [InlineData("192.0.2.10", "198.51.100.11")]
    [InlineData("2001:db8::10", "2001:db8:1::11")]
    public void TryFinishChecksum_ChecksumLeftToDevice_FinishedInPlaceAndOffloadCleared(string source, string destination)
    {
        var frame = SuperFrame(source, destination, 1, TcpFlags.Ack | TcpFlags.Psh);
        var finished = (byte[])frame.Clone();
        Assert.True(Checksum.WriteTransport(finished, TestFrames.Parse(finished)));
        var buffer = PortHelpers.Frame(frame);
        buffer.Offload = FrameOffload.ChecksumLeftToDevice;

        Assert.True(FrameOffload.TryFinishChecksum(buffer));

        Assert.Equal(finished, buffer.Frame.ToArray());
        Assert.True(Checksum.VerifyTransport(buffer.Frame, TestFrames.Parse(buffer.Frame.ToArray())));
        Assert.False(buffer.Offload.IsPresent);
    }

    [Fact]
    public void TryFinishChecksum_SuperFrameOrNoTransportChecksum_FalseFrameUnchangedOffloadCleared()
    {
        var superFrame = SuperFrame("192.0.2.10", "198.51.100.11", 1, TcpFlags.Ack);
        var gso = PortHelpers.Frame(superFrame);
        gso.Offload = new TunnelOffload(Gso, GsoType.TcpV4, NeedsChecksum: true);
        var echo = TestFrames.EchoRequest("192.0.2.10", "198.51.100.11");
        var icmp = PortHelpers.Frame(echo);
        icmp.Offload = FrameOffload.ChecksumLeftToDevice;

        Assert.False(FrameOffload.TryFinishChecksum(gso));
        Assert.False(FrameOffload.TryFinishChecksum(icmp));

        Assert.Equal(superFrame, gso.Frame.ToArray());
        Assert.Equal(echo, icmp.Frame.ToArray());
        Assert.False(gso.Offload.IsPresent || icmp.Offload.IsPresent);
    }

    /// <summary>A plain <c>afpacket:</c> source's receive: unfinished checksums finished, a super-frame dropped and counted, the rest in order.</summary>
    [Fact]
    public void FinishChecksums_PlainSource_FinishedInOrderSuperFrameDroppedAndCounted()
    {
        var plain = TestFrames.Tcp("192.0.2.10", 40001, "198.51.100.11", 80, TcpFlags.Syn);
        var partial = SuperFrame("192.0.2.10", "198.51.100.11", 1, TcpFlags.Ack);
        var buffers = new[] { PortHelpers.Frame(plain), PortHelpers.Frame(SuperFrame("192.0.2.10", "198.51.100.11", 1, TcpFlags.Fin | TcpFlags.Ack)), PortHelpers.Frame(partial) };
        buffers[1].Offload = new TunnelOffload(Gso, GsoType.TcpV4, NeedsChecksum: true);
        buffers[2].Offload = FrameOffload.ChecksumLeftToDevice;
        var counters = new PortCounters();

        var kept = AfPacketFrameSource.FinishChecksums(buffers, 3, counters);

        Assert.Equal(2, kept);
        Assert.Equal(plain, buffers[0].Frame.ToArray());
        Assert.True(Checksum.VerifyTransport(buffers[1].Frame, TestFrames.Parse(buffers[1].Frame.ToArray())));
        Assert.Equal(partial.Length, buffers[1].Frame.Length);
        Assert.Equal(1, counters.BadOffload);
    }

    private static int Id(byte[] frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(18));
}
