using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

public class PacketBufferTests
{
    [Fact]
    public void TryPrepend_WithinHeadroom_HeaderSitsDirectlyBeforeFrame()
    {
        var buffer = PacketBuffer.CreateUnpooled();
        Assert.True(buffer.TrySetFrame([0xAA, 0xBB, 0xCC]));

        Assert.True(buffer.TryPrepend(4, out var header));
        header.Fill(0x11);

        Assert.Equal(BufferPool.DefaultHeadroom - 4, buffer.FrameOffset);
        Assert.Equal(new byte[] { 0x11, 0x11, 0x11, 0x11, 0xAA, 0xBB, 0xCC }, buffer.Frame.ToArray());
    }

    [Fact]
    public void TryPrepend_BeyondHeadroom_FailsAndLeavesFrameUntouched()
    {
        var buffer = PacketBuffer.CreateUnpooled();
        Assert.True(buffer.TrySetFrame([1, 2]));

        Assert.True(buffer.TryPrepend(BufferPool.DefaultHeadroom, out _));
        Assert.False(buffer.TryPrepend(1, out _));

        Assert.Equal(0, buffer.FrameOffset);
        Assert.Equal(BufferPool.DefaultHeadroom + 2, buffer.FrameLength);
    }

    [Fact]
    public void TryInsertVlanTag_TagBetweenMacsAndEtherType_ByteByByte()
    {
        var buffer = PacketBuffer.CreateUnpooled();
        byte[] frame = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45, 0x00];
        Assert.True(buffer.TrySetFrame(frame));

        Assert.True(buffer.TryInsertVlanTag(0x8100, 0x2064));

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x20, 0x64, 0x08, 0x00, 0x45, 0x00 }, buffer.Frame.ToArray());
        Assert.Equal(BufferPool.DefaultHeadroom - 4, buffer.FrameOffset);
    }

    [Fact]
    public void TryInsertVlanTag_NoHeadroomOrNoEthernetHeader_FalseFrameUnchanged()
    {
        var full = PacketBuffer.CreateUnpooled();
        Assert.True(full.TrySetFrame(new byte[20]));
        Assert.True(full.TryPrepend(BufferPool.DefaultHeadroom - 3, out _));
        var runt = PacketBuffer.CreateUnpooled();
        Assert.True(runt.TrySetFrame(new byte[13]));

        Assert.False(full.TryInsertVlanTag(0x8100, 1));
        Assert.False(runt.TryInsertVlanTag(0x8100, 1));

        Assert.Equal((3, BufferPool.DefaultHeadroom - 3 + 20), (full.FrameOffset, full.FrameLength));
        Assert.Equal((BufferPool.DefaultHeadroom, 13), (runt.FrameOffset, runt.FrameLength));
    }

    /// <summary>
    /// A received message's PACKET_AUXDATA (a cmsghdr and a tpacket_auxdata as the kernel writes them) with an 802.1ad tag:
    /// the tag goes back into the frame, and the offload's csum_start and hdr_len move 4 bytes with the headers.
    /// </summary>
    [Fact]
    public unsafe void PutBackVlanTag_AuxDataWithTag_TagInsertedAndOffloadFieldsMoved()
    {
        var control = new byte[64];
        BitConverter.TryWriteBytes(control.AsSpan(0), 16UL + 20); // cmsg_len
        BitConverter.TryWriteBytes(control.AsSpan(8), 263); // SOL_PACKET
        BitConverter.TryWriteBytes(control.AsSpan(12), 8); // PACKET_AUXDATA
        BitConverter.TryWriteBytes(control.AsSpan(16), 0x51u); // TP_STATUS_USER | VLAN_VALID | VLAN_TPID_VALID
        BitConverter.TryWriteBytes(control.AsSpan(32), (ushort)7); // tp_vlan_tci
        BitConverter.TryWriteBytes(control.AsSpan(34), (ushort)0x88A8); // tp_vlan_tpid
        var buffer = PacketBuffer.CreateUnpooled();
        byte[] frame = [.. new byte[12], 0x08, 0x00, .. new byte[40]];
        Assert.True(buffer.TrySetFrame(frame));
        buffer.Offload = new Dva.Shared.Wire.TunnelOffload(1448, Dva.Shared.Wire.GsoType.TcpV4, NeedsChecksum: true);
        buffer.ChecksumStart = 34;
        buffer.GsoHeaderLength = 54;

        fixed (byte* data = control)
        {
            var header = new Dva.Node.Interop.MsgHdr { Control = data, ControlLength = 36 };
            Assert.True(MessageBatch.PutBackVlanTag(ref header, buffer));
        }

        Assert.Equal(new byte[] { 0x88, 0xA8, 0x00, 0x07, 0x08, 0x00 }, buffer.Frame[12..18].ToArray());
        Assert.Equal((58, (ushort)38, (ushort)58), (buffer.FrameLength, buffer.ChecksumStart, buffer.GsoHeaderLength));
    }

    [Fact]
    public void TryTrimFront_StripsHeader_FrameFollows()
    {
        var buffer = PacketBuffer.CreateUnpooled();
        Assert.True(buffer.TrySetFrame([9, 9, 1, 2, 3]));

        Assert.True(buffer.TryTrimFront(2));
        Assert.False(buffer.TryTrimFront(4));

        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.Frame.ToArray());
    }

    [Fact]
    public void TrySetFrame_LargerThanFrameSize_Fails()
    {
        var buffer = PacketBuffer.CreateUnpooled(frameSize: 100);

        Assert.True(buffer.TrySetFrame(new byte[100]));
        Assert.False(buffer.TrySetFrame(new byte[101]));
        Assert.Equal(0, buffer.FrameLength);
    }

    [Fact]
    public void TryRent_AtBound_FailsAndCountsExhaustion()
    {
        var pool = new BufferPool(maxBuffers: 2);

        Assert.True(pool.TryRent(out var a));
        Assert.True(pool.TryRent(out var b));
        Assert.False(pool.TryRent(out _));

        Assert.Equal(1, pool.Exhausted);
        Assert.Equal(2, pool.Created);
        Assert.NotSame(a, b);
    }

    [Fact]
    public void Release_ThenRent_ReusesSameBufferReset()
    {
        var pool = new BufferPool(maxBuffers: 1);
        Assert.True(pool.TryRent(out var first));
        Assert.True(first.TrySetFrame([1, 2, 3]));
        Assert.True(first.TryPrepend(8, out _));

        first.Release();
        Assert.True(pool.TryRent(out var second));

        Assert.Same(first, second);
        Assert.Equal(pool.Headroom, second.FrameOffset);
        Assert.Equal(0, second.FrameLength);
        Assert.Equal(1, pool.Created);
    }

    [Fact]
    public void BufferPool_GsoFrameSize_BuffersHoldSixtyFourKiBPlusHeadroom()
    {
        var pool = new BufferPool(maxBuffers: 1, frameSize: 65536);

        Assert.True(pool.TryRent(out var buffer));

        Assert.Equal(65536 + BufferPool.DefaultHeadroom, buffer.Capacity);
        Assert.True(buffer.TrySetFrame(new byte[65536]));
    }
}
