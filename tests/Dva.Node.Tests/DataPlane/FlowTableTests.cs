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

    // A fresh table's pages are resident before any flow: the first flows' packets do not wait for page faults that
    // zero-fill the table (2 MiB each with huge pages). mincore reports each page of the entries.
    [Fact]
    public unsafe void New_LargeTable_EveryPageResidentBeforeTheFirstFlow()
    {
        const int capacity = 1 << 16; // 8 MiB of entries: 2 MiB-aligned, so huge-page sized
        var table = Table(capacity);
        var start = (nint)Unsafe.AsPointer(ref table[0]);
        var length = (long)capacity * Unsafe.SizeOf<FlowEntry>();
        var pages = new byte[(length + 4095) / 4096];

        Assert.Equal(0, start % 4096);
        Assert.Equal(0, MinCore(start, (nuint)length, pages));
        Assert.Equal(pages.Length, pages.Count(p => (p & 1) != 0));
        GC.KeepAlive(table);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mincore")]
    private static extern int MinCore(nint address, nuint length, byte[] residency);

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
        table.PrefetchProbe(H(5));
        table.PrefetchProbe(H(5, 1 << 16));
        table.PrefetchProbe(ulong.MaxValue);

        Assert.Equal(slot, table.Find(Udp(1), H(5)));
        Assert.Equal(-1, table.Find(Udp(2), H(63)));
    }

    [Fact]
    public void Tag_BitsSixteenToThirtyOne_NeitherBucketNorHomeAndNeverZero()
    {
        Assert.Equal(0x8000, FlowTable.Tag(0));
        Assert.Equal(0x8000, FlowTable.Tag(H(12345, 0xFFFF)));
        Assert.Equal(0x8001, FlowTable.Tag(1UL << 16));
        Assert.Equal(0xFFFF, FlowTable.Tag(0xFFFF_0000UL));
        Assert.Equal(0xFFFF, FlowTable.Tag(0x7FFF_0000UL));
    }

    [Fact]
    public void RemoveAt_ClusterOfDifferentTags_TagsMoveWithTheirEntries()
    {
        var table = Table();

        // One cluster from slot 3, each flow with its own tag, and one flow sharing the first one's tag but not its hash.
        var hashes = new[] { H(3, 1 << 16), H(3, 2 << 16), H(4, 3 << 16), H(3, 4 << 16), H(3, (1 << 16) | 5) };
        for (var i = 0; i < hashes.Length; i++)
        {
            Assert.Equal(3 + i, table.Add(Udp((ushort)(2000 + i)), hashes[i], bucket: 1, isForward: true, now: 0));
        }

        table.RemoveAt(table.Find(Udp(2001), hashes[1]));
        table.RemoveAt(table.Find(Udp(2000), hashes[0]));

        Assert.Equal(-1, table.Find(Udp(2000), hashes[0]));
        Assert.Equal(-1, table.Find(Udp(2001), hashes[1]));
        // The flow homed at 4 stays there; the two homed at 3 fill the holes before and after it.
        Assert.Equal(4, table.Find(Udp(2002), hashes[2]));
        Assert.Equal(3, table.Find(Udp(2003), hashes[3]));
        Assert.Equal(5, table.Find(Udp(2004), hashes[4]));
        Assert.Equal(-1, table.Find(Udp(2004), hashes[0])); // same tag, other hash
        Assert.Equal(-1, table.Find(Udp(2000), hashes[4])); // same hash, other key
        Assert.Equal(6, table.Add(Udp(2000), hashes[0], bucket: 1, isForward: true, now: 0));
        Assert.Equal(6, table.Find(Udp(2000), hashes[0]));
    }

    [Fact]
    public void AddFindRemoveSweep_RandomOperationsInACrowdedTable_AgreeWithADictionary()
    {
        // 20 000 random operations on 64 slots, homes in 0..7 and 4 tags, so clusters are long, wrap around and share tags.
        var random = new Random(20261127);
        var table = Table();
        var model = new Dictionary<ushort, ulong>();
        var slots = new Dictionary<ushort, int>();
        for (var op = 0; op < 20_000; op++)
        {
            var port = (ushort)random.Next(1, 80);
            var hash = H(random.Next(0, 8) * 7 % 64 + 56 & 63, (random.Next(0, 4) << 16) | port);
            var known = model.TryGetValue(port, out var knownHash);
            switch (random.Next(3))
            {
                case 0 when !known:
                    var slot = table.Add(Udp(port), hash, bucket: 2, isForward: true, now: op);
                    if (slot >= 0)
                    {
                        model[port] = hash;
                    }
                    else
                    {
                        Assert.Equal(table.Capacity * 7 / 8, model.Count);
                    }

                    break;
                case 1 when known:
                    table.RemoveAt(table.Find(Udp(port), knownHash));
                    model.Remove(port);
                    break;
                default:
                    table.Prefetch(known ? knownHash : hash);
                    table.PrefetchProbe(known ? knownHash : hash);
                    break;
            }

            foreach (var (p, h) in model)
            {
                var found = table.Find(Udp(p), h);
                Assert.True(found >= 0, $"op {op}: port {p} lost");
                Assert.Equal(h, table[found].Hash);
                slots[p] = found;
            }

            Assert.Equal(model.Count, slots.Where(s => model.ContainsKey(s.Key)).Select(s => s.Value).Distinct().Count());
            Assert.Equal(model.Count, table.Count);
            Assert.Equal(model.Count, table.LiveFlows(2));
            Assert.Equal(-1, table.Find(Udp(80), H(random.Next(0, 64), 80)));
        }

        // Everything expires: the sweep empties the table through the same removal, and nothing is found after.
        Assert.Equal(model.Count, table.Sweep(now: long.MaxValue / 2, maxSlots: 64));
        Assert.Equal(0, table.Count);
        Assert.All(model, m => Assert.Equal(-1, table.Find(Udp(m.Key), m.Value)));
    }
}
