using System.Runtime.CompilerServices;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Services.Conntrack;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using TcpFlags = Dva.Shared.Packets.TcpFlags;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

public class FlowTableTests
{
    private const long Frequency = 1000; // one tick per millisecond keeps the arithmetic readable

    private static FlowTable Table(int capacity = 64) => new(capacity, FlowTimeouts.Default, Frequency);

    // A flow hash whose home slot is home (the upper half picks the slot; the lower half is the bucket).
    private static ulong H(int home, int low = 0) => ((ulong)home << 32) | (uint)low;

    private static FlowKey Udp(ushort port) => KeyOf(TestFrames.Udp("192.0.2.50", port, "198.51.100.7", 53));

    private static FlowKey Tcp(ushort port) => KeyOf(TestFrames.Tcp("192.0.2.50", port, "198.51.100.7", 80, TcpFlags.Syn));

    [Fact]
    public void Find_CollidingHashes_EachFlowFoundAfterAnotherIsRemoved()
    {
        var table = Table();
        for (var i = 0; i < 5; i++)
        {
            // Same home slot for all five: one cluster.
            Assert.Equal(3 + i, table.Add(Udp((ushort)(1000 + i)), H(3, i), bucket: 7, isForward: true, now: 0));
        }

        // Removal moves later entries back, so slots are looked up again each time.
        table.RemoveAt(table.Find(Udp(1001), H(3, 1)));
        table.RemoveAt(table.Find(Udp(1003), H(3, 3)));

        Assert.Equal(3, table.Count);
        Assert.Equal(3, table.LiveFlows(7));
        Assert.True(table.Find(Udp(1000), H(3, 0)) >= 0);
        Assert.True(table.Find(Udp(1002), H(3, 2)) >= 0);
        Assert.True(table.Find(Udp(1004), H(3, 4)) >= 0);
        Assert.Equal(-1, table.Find(Udp(1001), H(3, 1)));
        Assert.Equal(-1, table.Find(Udp(1003), H(3, 3)));
    }

    [Fact]
    public void Find_ClusterWrapsAroundTheEnd_RemovalKeepsItReachable()
    {
        var table = Table(16);
        var a = table.Add(Udp(1), H(15), 0, true, 0);
        var b = table.Add(Udp(2), H(15, 1), 0, true, 0);
        var c = table.Add(Udp(3), H(0), 0, true, 0);

        Assert.Equal((15, 0, 1), (a, b, c));
        table.RemoveAt(a);

        Assert.Equal(15, table.Find(Udp(2), H(15, 1)));
        Assert.Equal(0, table.Find(Udp(3), H(0)));
    }

    [Fact]
    public void Add_SameBucketDifferentFlows_SpreadOverTheTableNotClustered()
    {
        var table = Table(64);

        var slots = Enumerable.Range(0, 8).Select(i => table.Add(Udp((ushort)i), H(i * 8, low: 5), 5, true, 0)).ToArray();

        Assert.Equal(Enumerable.Range(0, 8).Select(i => i * 8), slots);
    }

    [Fact]
    public void Add_AtLoadLimit_Refused()
    {
        var table = Table(16);
        for (var i = 0; i < 14; i++)
        {
            Assert.True(table.Add(Udp((ushort)i), H(i), 0, true, 0) >= 0);
        }

        Assert.Equal(-1, table.Add(Udp(99), H(99), 0, true, 0));
    }

    [Fact]
    public void Touch_BothDirections_CountedPerDirectionOfTheFirstPacket()
    {
        var table = Table();
        var slot = table.Add(Udp(1000), 1, 0, isForward: false, now: 0);

        table.Touch(slot, isForward: false, bytes: 100, TcpFlags.None, now: 1);
        table.Touch(slot, isForward: true, bytes: 40, TcpFlags.None, now: 2);
        table.Touch(slot, isForward: true, bytes: 60, TcpFlags.None, now: 3);

        ref var e = ref table[slot];
        Assert.Equal((1L, 100L), (e.PacketsOriginal, e.BytesOriginal));
        Assert.Equal((2L, 100L), (e.PacketsReply, e.BytesReply));
        Assert.Equal(3, e.LastSeen);
    }

    [Fact]
    public void Sweep_UdpIdle_ExpiresAfterUdpTimeoutOnlyAndBucketCountDrops()
    {
        var table = Table();
        var slot = table.Add(Udp(1000), 1, 5, true, 0);
        table.Touch(slot, true, 50, TcpFlags.None, 0);
        var udp = (long)FlowTimeouts.Default.Udp.TotalMilliseconds;

        Assert.Equal(0, table.Sweep(udp - 1, 64));
        Assert.Equal(1, table.LiveFlows(5));
        Assert.Equal(1, table.Sweep(udp, 64));
        Assert.Equal(0, table.LiveFlows(5));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Sweep_BoundedSlotsPerCall_FullPassSpreadOverCalls()
    {
        var table = Table(64);
        for (var i = 0; i < 64; i += 4)
        {
            var slot = table.Add(Udp((ushort)i), H(i), 0, true, 0);
            table.Touch(slot, true, 1, TcpFlags.None, 0);
        }

        var late = (long)FlowTimeouts.Default.Udp.TotalMilliseconds;
        var perCall = new List<int>();
        for (var call = 0; call < 4; call++)
        {
            perCall.Add(table.Sweep(late, 16));
        }

        Assert.Equal(new[] { 4, 4, 4, 4 }, perCall);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Touch_TcpHandshakeBothFinsAndLastAck_TimeWaitFlowStaysUntilClosedTimeout()
    {
        var table = Table();
        var slot = table.Add(Tcp(1000), 1, 0, isForward: true, now: 0);
        table.Touch(slot, true, 40, TcpFlags.Syn, 0);
        Assert.Equal(TcpState.SynSent, table[slot].Tcp.State);
        table.Touch(slot, false, 40, TcpFlags.Syn | TcpFlags.Ack, 1);
        Assert.Equal(TcpState.SynReceived, table[slot].Tcp.State);
        table.Touch(slot, true, 40, TcpFlags.Ack, 2);
        Assert.Equal(TcpState.Established, table[slot].Tcp.State);
        table.Touch(slot, true, 40, TcpFlags.Fin | TcpFlags.Ack, 3);
        Assert.Equal(TcpState.FinWait, table[slot].Tcp.State);
        table.Touch(slot, false, 40, TcpFlags.Fin | TcpFlags.Ack, 4);
        Assert.Equal(TcpState.LastAck, table[slot].Tcp.State);

        // The last ACK closes it (TIME_WAIT, on the closed timeout); a late packet still finds the flow.
        table.Touch(slot, true, 40, TcpFlags.Ack, 5);
        Assert.Equal(TcpState.TimeWait, table[slot].Tcp.State);
        var closed = (long)FlowTimeouts.Default.TcpClosed.TotalMilliseconds;

        Assert.Equal(0, table.Sweep(5 + closed - 1, 64));
        Assert.True(table.Find(Tcp(1000), 1) >= 0);
        Assert.Equal(1, table.Sweep(5 + closed, 64));
    }

    [Fact]
    public void Touch_Rst_ClosesAndNewSynReopens()
    {
        var table = Table();
        var slot = table.Add(Tcp(1000), 1, 0, isForward: true, now: 0);
        table.MarkEstablished(slot);
        table.Touch(slot, false, 40, TcpFlags.Rst, 1);
        Assert.Equal(TcpState.Closed, table[slot].Tcp.State);

        table.Touch(slot, false, 40, TcpFlags.Syn, 2);

        Assert.Equal(TcpState.SynSent, table[slot].Tcp.State);
        Assert.False(table[slot].OriginIsForward);
    }

    [Fact]
    public void Touch_EstablishedTcp_ExpiresOnEstablishedTimeout()
    {
        var table = Table();
        var slot = table.Add(Tcp(1000), 1, 0, true, 0);
        table.MarkEstablished(slot);
        table.Touch(slot, true, 40, TcpFlags.Ack, 0);
        var transitory = (long)FlowTimeouts.Default.TcpTransitory.TotalMilliseconds;

        Assert.Equal(0, table.Sweep(transitory, 64));
        Assert.Equal(1, table.Sweep((long)FlowTimeouts.Default.TcpEstablished.TotalMilliseconds, 64));
    }

    [Fact]
    public void FlowEntry_Layout_ProbeFieldsShareTheFirstCacheLineOfTwo()
    {
        var entry = default(FlowEntry);
        ref var start = ref Unsafe.As<FlowEntry, byte>(ref entry);

        // Two whole cache lines per entry, so the table's 64-byte alignment holds for every slot, and everything a
        // probe reads (Hash, Used, the key) in the first of them.
        Assert.Equal(128, Unsafe.SizeOf<FlowEntry>());
        Assert.True(Unsafe.ByteOffset(ref start, ref Unsafe.As<ulong, byte>(ref entry.Hash)) < 64);
        Assert.True(Unsafe.ByteOffset(ref start, ref Unsafe.As<bool, byte>(ref entry.Used)) < 64);
        Assert.True(Unsafe.ByteOffset(ref start, ref Unsafe.As<FlowKey, byte>(ref entry.Key)) + FlowKey.Size <= 64);
    }

    [Theory]
    [InlineData(16, 64)]
    [InlineData(1 << 14, 2 << 20)] // 2 MiB of entries: aligned for a huge page
    public unsafe void Constructor_AnyCapacity_EntriesAlignedAndEmpty(int capacity, long alignment)
    {
        var table = Table(capacity);

        Assert.Equal(0, (long)Unsafe.AsPointer(ref table[0]) % alignment);
        Assert.Equal(0, (long)Unsafe.AsPointer(ref table[capacity - 1]) % 64);
        for (var slot = 0; slot < capacity; slot++)
        {
            // The storage is raw memory behind a pointer: no slot may look used.
            Assert.False(table[slot].Used);
            Assert.Equal(0UL, table[slot].Hash);
        }

        Assert.Equal(-1, table.Find(Udp(1), H(0)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(64)]
    public void Indexer_SlotOutsideTheTable_Throws(int slot)
    {
        var table = Table();

        Assert.Throws<ArgumentOutOfRangeException>(() => table[slot].Used);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.RemoveAt(slot));
    }

    [Fact]
    public void Prefetch_HashesInAndOutOfTheTable_LookupsUnchanged()
    {
        var table = Table();
        var slot = table.Add(Udp(1), H(5), 0, true, 0);

        table.Prefetch(H(5));
        table.Prefetch(ulong.MaxValue);

        Assert.Equal(slot, table.Find(Udp(1), H(5)));
        Assert.Equal(-1, table.Find(Udp(2), H(63)));
    }
}
