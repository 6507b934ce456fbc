using System.Buffers.Binary;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

/// <summary>The TPACKET_V3 frame header walk, byte by byte over headers laid out as the kernel writes them.</summary>
public sealed class AfPacketRingParseTests
{
    private const int Mac = 82;

    [Fact]
    public void Classify_WholeFrame_AcceptedWithMacOffsetLengthAndNext()
    {
        var block = Header(next: 160, snapLength: 60, length: 60, status: 1, room: 400);

        var status = TPacket3.Classify(block, capacity: 2048, out var frame);

        Assert.Equal(RingFrameStatus.Accepted, status);
        Assert.Equal(new RingFrame(Mac, 60, 160, false, 0, 0), frame);
        Assert.Equal(Pattern(60), block.AsSpan(frame.Mac, frame.Length).ToArray());
    }

    [Theory]
    [InlineData(1u, false)]
    [InlineData(1u | TPacket3.StatusChecksumNotReady, true)]
    public void Classify_ChecksumNotReadyStatus_AcceptedAndSaidSo(uint status, bool notReady)
    {
        var block = Header(next: 0, snapLength: 60, length: 60, status: status, room: 142);

        Assert.Equal(RingFrameStatus.Accepted, TPacket3.Classify(block, 2048, out var frame));
        Assert.Equal(notReady, frame.ChecksumNotReady);
    }

    [Fact]
    public void Classify_LastFrameOfBlock_NextIsZero()
    {
        var block = Header(next: 0, snapLength: 100, length: 100, status: 1, room: 182);

        Assert.Equal(RingFrameStatus.Accepted, TPacket3.Classify(block, 2048, out var frame));
        Assert.Equal((100, 0), (frame.Length, frame.Next));
    }

    /// <summary>The tag the kernel took off: its TCI, and its TPID when the kernel says it is valid (else 802.1Q's).</summary>
    [Theory]
    [InlineData(1u | TPacket3.StatusVlanValid, 0x8100)]
    [InlineData(1u | TPacket3.StatusVlanValid | TPacket3.StatusVlanTpidValid, 0x88A8)]
    public void Classify_VlanValidStatus_AcceptedWithTheTagToPutBack(uint status, int tpid)
    {
        var block = Header(next: 160, snapLength: 60, length: 60, status: status, room: 400);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(TPacket3.VlanTciOffset), 0x2064);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(TPacket3.VlanTpidOffset), 0x88A8);

        Assert.Equal(RingFrameStatus.Accepted, TPacket3.Classify(block, 2048, out var frame));
        Assert.Equal(new RingFrame(Mac, 60, 160, false, (ushort)tpid, 0x2064), frame);
    }

    [Fact]
    public void Classify_SnapShorterThanWire_Truncated()
    {
        var block = Header(next: 0, snapLength: 4000, length: 6000, status: 1, room: 4096);

        Assert.Equal(RingFrameStatus.Truncated, TPacket3.Classify(block, 9000, out _));
    }

    [Fact]
    public void Classify_LongerThanBuffer_Oversize()
    {
        var block = Header(next: 0, snapLength: 3000, length: 3000, status: 1, room: 3100);

        Assert.Equal(RingFrameStatus.Oversize, TPacket3.Classify(block, 2048, out _));
        Assert.Equal(RingFrameStatus.Accepted, TPacket3.Classify(block, 3000, out var frame));
        Assert.Equal(3000, frame.Length);
    }

    [Theory]
    [InlineData(10, 60, 400)] // next inside the header it follows
    [InlineData(500, 60, 400)] // next past the block
    [InlineData(160, 400, 400)] // frame runs past the block
    public void Classify_HeaderPointingOutsideBlock_Malformed(int next, int snapLength, int room)
    {
        var block = Header(next: next, snapLength: snapLength, length: snapLength, status: 1, room: room);

        Assert.Equal(RingFrameStatus.Malformed, TPacket3.Classify(block, 2048, out _));
    }

    [Fact]
    public void Classify_ShorterThanHeader_Malformed()
    {
        Assert.Equal(RingFrameStatus.Malformed, TPacket3.Classify(new byte[TPacket3.HeaderSize], 2048, out _));
    }

    // sizeof printed by gcc 12 on Debian 12 x86-64 for linux/if_packet.h and time.h.
    [Fact]
    public unsafe void StructSizes_RingStructs_MatchLinuxX64Abi()
    {
        Assert.Equal(28, sizeof(TPacketReq3));
        Assert.Equal(12, sizeof(TPacketStatsV3));
        Assert.Equal(16, sizeof(Timespec));
    }

    [Fact]
    public void Geometry_NotPageMultipleOrOneBlock_RejectedNamingTheRule()
    {
        var size = Assert.Throws<ArgumentException>(() => new AfPacketRingGeometry { BlockSize = 5000 }.Validate());
        var count = Assert.Throws<ArgumentException>(() => new AfPacketRingGeometry { BlockCount = 1 }.Validate());

        Assert.Contains("multiple of 4096", size.Message, StringComparison.Ordinal);
        Assert.Contains("at least 2 blocks", count.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_AfPacketRingOption_SetsRingAndRoundTrips()
    {
        Assert.True(FrameSourceSpec.TryParse("afpacket:eth1?ring=1", out var ring, out var error), error);
        Assert.True(FrameSourceSpec.TryParse("afpacket:eth1?ring=0", out var plain, out error), error);

        Assert.Equal(FrameSourceKind.AfPacket, ring.Kind);
        Assert.Equal("eth1", ring.InterfaceName);
        Assert.True(ring.Ring);
        Assert.Equal("afpacket:eth1?ring=1", ring.ToString());
        Assert.False(plain.Ring);
        Assert.Equal("afpacket:eth1", plain.ToString());
    }

    [Theory]
    [InlineData("afpacket:eth1?ring=2", "unknown option 'ring=2'")]
    [InlineData("afpacket:eth1?", "unknown option ''")]
    [InlineData("afpacket:?ring=1", "interface name is missing")]
    [InlineData("tap:tap0?ring=1", "contains '?'")]
    public void TryParse_BadRingOption_FailsNamingTheProblem(string text, string expected)
    {
        Assert.False(FrameSourceSpec.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    /// <summary>A tpacket3_hdr at offset 0 of a <paramref name="room"/>-byte block remainder, the frame at <see cref="Mac"/>.</summary>
    private static byte[] Header(int next, int snapLength, int length, uint status, int room)
    {
        var block = new byte[room];
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(TPacket3.NextOffset), (uint)next);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(TPacket3.SnapLengthOffset), (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(TPacket3.LengthOffset), (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(TPacket3.StatusOffset), status);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(TPacket3.MacOffset), Mac);
        if (Mac + snapLength <= room)
        {
            Pattern(snapLength).CopyTo(block, Mac);
        }

        return block;
    }

    private static byte[] Pattern(int length) => PortHelpers.Pattern(7, length);
}
