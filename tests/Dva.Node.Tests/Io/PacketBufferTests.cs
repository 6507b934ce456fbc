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
