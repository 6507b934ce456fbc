using Dva.Node.Io;

namespace Dva.Node.Dispatcher;

/// <summary>
/// The payloads a dispatcher holds while only their super-frame's headers cross the DVA (<c>parkPayloads</c>,
/// docs/node.md "Parked payloads"). Each is the received packet buffer itself, so parking copies nothing. A ticket names
/// a slot and its generation: a ticket whose payload was joined or let go never finds another one, and the headers that
/// come back must also carry the parked frame's TCP sequence number and payload length. Shared by a dispatcher's engines
/// (the headers come back to the tunnel socket their flow's port picks, which may be another engine's than the one that
/// parked the payload), so every call takes a lock: one per super-frame, against two copies of ~64 KiB it saves.
/// </summary>
internal sealed class ParkingLot
{
    /// <summary>Slots (the ticket's low byte); each holds one packet buffer of the node's pool.</summary>
    public const int Capacity = 256;

    private readonly Slot[] _slots = new Slot[Capacity];
    private readonly int[] _free = new int[Capacity];
    private readonly Lock _lock = new();
    private int _freeCount;

    public ParkingLot()
    {
        for (var i = 0; i < Capacity; i++)
        {
            _free[i] = Capacity - 1 - i;
        }

        _freeCount = Capacity;
    }

    /// <summary>Payloads held now.</summary>
    public int Count => Capacity - Volatile.Read(ref _freeCount);

    /// <summary>True when a slot is free (a hint: another engine may take it first).</summary>
    public bool HasRoom => Volatile.Read(ref _freeCount) > 0;

    /// <summary>
    /// Holds <paramref name="buffer"/>, whose payload (<paramref name="payloadLength"/> bytes) starts
    /// <paramref name="payloadOffset"/> bytes into its frame; false, nothing held, when every slot is in use.
    /// </summary>
    public bool TryPark(PacketBuffer buffer, int payloadOffset, ushort payloadLength, uint sequence, long now, out ushort ticket)
    {
        ticket = 0;
        lock (_lock)
        {
            if (_freeCount == 0)
            {
                return false;
            }

            var index = _free[--_freeCount];
            ref var slot = ref _slots[index];
            slot.Buffer = buffer;
            slot.PayloadStart = buffer.FrameOffset + payloadOffset;
            slot.PayloadLength = payloadLength;
            slot.Sequence = sequence;
            slot.ParkedAt = now;
            ticket = (ushort)((slot.Generation << 8) | index);
            return true;
        }
    }

    /// <summary>
    /// The buffer parked under <paramref name="ticket"/> if it is still held and was parked with this sequence number
    /// and payload length, taken out of the lot (the caller owns it); null otherwise, and then nothing changes.
    /// <paramref name="payloadStart"/> is the payload's offset from the buffer's start (not its frame's).
    /// </summary>
    public PacketBuffer? TryTake(ushort ticket, uint sequence, ushort payloadLength, out int payloadStart)
    {
        payloadStart = 0;
        lock (_lock)
        {
            ref var slot = ref _slots[ticket & 0xFF];
            if (slot.Buffer is null || slot.Generation != ticket >> 8 || slot.Sequence != sequence || slot.PayloadLength != payloadLength)
            {
                return null;
            }

            payloadStart = slot.PayloadStart;
            return Vacate(ticket & 0xFF);
        }
    }

    /// <summary>Releases every payload parked at or before <paramref name="before"/>; returns how many.</summary>
    public int ReleaseParkedBefore(long before)
    {
        var released = 0;
        lock (_lock)
        {
            for (var i = 0; i < Capacity; i++)
            {
                if (_slots[i].Buffer is not null && _slots[i].ParkedAt <= before)
                {
                    Vacate(i)!.Release();
                    released++;
                }
            }
        }

        return released;
    }

    private PacketBuffer? Vacate(int index)
    {
        ref var slot = ref _slots[index];
        var buffer = slot.Buffer;
        slot.Buffer = null;
        slot.Generation++;
        _free[_freeCount++] = index;
        return buffer;
    }

    private struct Slot
    {
        public PacketBuffer? Buffer;
        public int PayloadStart;
        public long ParkedAt;
        public uint Sequence;
        public ushort PayloadLength;
        public byte Generation;
    }
}
