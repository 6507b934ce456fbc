using Dva.Node.Dispatcher;
using Dva.Node.Io;

namespace Dva.Node.Tests.Dispatcher;

/// <summary>
/// The dispatcher's parked payloads: a ticket finds its own buffer once, only with the sequence number and length it was
/// parked with; a ticket from before (joined or let go) never finds the payload parked in its slot since; slots run out
/// and come back; and the sweep lets go of what waited too long, and only that.
/// </summary>
public class ParkingLotTests
{
    [Fact]
    public void TryTake_RightTicketSequenceAndLength_TheParkedBufferAndItsPayloadOffset()
    {
        var lot = new ParkingLot();
        var buffer = Frame(100);

        Assert.True(lot.TryPark(buffer, payloadOffset: 66, payloadLength: 34, sequence: 7, now: 1, out var ticket));

        Assert.Equal(1, lot.Count);
        Assert.Null(lot.TryTake(ticket, sequence: 8, payloadLength: 34, out _));
        Assert.Null(lot.TryTake(ticket, sequence: 7, payloadLength: 33, out _));
        Assert.Null(lot.TryTake((ushort)(ticket ^ 0x0100), sequence: 7, payloadLength: 34, out _));
        Assert.Same(buffer, lot.TryTake(ticket, sequence: 7, payloadLength: 34, out var payloadStart));
        Assert.Equal(buffer.FrameOffset + 66, payloadStart);
        Assert.Equal(0, lot.Count);
        Assert.Null(lot.TryTake(ticket, sequence: 7, payloadLength: 34, out _));
    }

    [Fact]
    public void TryTake_TicketOfAPayloadJoinedBefore_DoesNotFindTheNextOneInItsSlot()
    {
        var lot = new ParkingLot();
        Assert.True(lot.TryPark(Frame(100), 66, 34, 7, 1, out var first));
        Assert.NotNull(lot.TryTake(first, 7, 34, out _));

        // The slot is reused (last freed, first taken) for the same segment again, as a retransmission would be.
        Assert.True(lot.TryPark(Frame(100), 66, 34, 7, 2, out var second));

        Assert.Equal(first & 0xFF, second & 0xFF);
        Assert.NotEqual(first, second);
        Assert.Null(lot.TryTake(first, 7, 34, out _));
        Assert.NotNull(lot.TryTake(second, 7, 34, out _));
    }

    [Fact]
    public void TryPark_EverySlotInUse_RefusedUntilOneIsTaken()
    {
        var lot = new ParkingLot();
        var tickets = new List<ushort>();
        for (var i = 0; i < ParkingLot.Capacity; i++)
        {
            Assert.True(lot.TryPark(Frame(100), 66, 34, (uint)i, 1, out var ticket));
            tickets.Add(ticket);
        }

        Assert.Equal(ParkingLot.Capacity, tickets.Distinct().Count());
        Assert.False(lot.HasRoom);
        Assert.False(lot.TryPark(Frame(100), 66, 34, 999, 1, out _));
        Assert.NotNull(lot.TryTake(tickets[17], 17, 34, out _));
        Assert.True(lot.TryPark(Frame(100), 66, 34, 999, 1, out _));
    }

    [Fact]
    public void ReleaseParkedBefore_OnlyTheOldOnes_BackToTheirPool()
    {
        var pool = new BufferPool(4);
        var lot = new ParkingLot();
        Assert.True(pool.TryRent(out var old));
        Assert.True(pool.TryRent(out var young));
        Assert.True(lot.TryPark(old, 66, 34, 1, now: 100, out var oldTicket));
        Assert.True(lot.TryPark(young, 66, 34, 2, now: 200, out var youngTicket));

        Assert.Equal(1, lot.ReleaseParkedBefore(150));

        Assert.Equal(1, lot.Count);
        Assert.Equal(1, pool.Available);
        Assert.Null(lot.TryTake(oldTicket, 1, 34, out _));
        Assert.Same(young, lot.TryTake(youngTicket, 2, 34, out _));
    }

    private static PacketBuffer Frame(int length)
    {
        var buffer = PacketBuffer.CreateUnpooled();
        Assert.True(buffer.TrySetFrame(new byte[length]));
        return buffer;
    }
}
