using Dva.Shared.Wire;
using static Dva.Shared.Tests.Wire.GoldenVectors;

namespace Dva.Shared.Tests.Wire;

public class TunnelRewriterTests
{
    private const int Headroom = 16;

    private static byte[] InBuffer(string hex, int headroom = Headroom)
    {
        var datagram = Bytes(hex);
        var buffer = new byte[headroom + datagram.Length];
        buffer.AsSpan(0, headroom).Fill(0xee);
        datagram.CopyTo(buffer, headroom);
        return buffer;
    }

    [Fact]
    public void Forwarding_PuntAtNextPredecessor_ProducesExpectedBytesWithoutMovingTheFrame()
    {
        // DP 13 received the golden PUNT, does not have the flow either and punts it on to DP 14.
        var buffer = InBuffer(Punt);
        var frameBefore = buffer.AsSpan(Headroom + 22).ToArray();
        var datagram = buffer.AsSpan(Headroom);

        Assert.Equal(WireError.None, TunnelRewriter.SetNodes(datagram, dnode: 14, hnode: 13));
        Assert.Equal(WireError.None, TunnelRewriter.DecrementTtl(datagram));
        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, Headroom, 13, out var start));

        Assert.Equal(Headroom, start);
        Assert.Equal(
            "1000e00d" + "111383fb" + "00102400" + "000a000b" + "000c000d" + "0064" + Hex(frameBefore),
            Hex(buffer.AsSpan(start)));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start), out var header));
        Assert.Equal(4, header.NidCount);
        Assert.Equal(251, header.Ttl);
    }

    [Fact]
    public void AppendNid_EvenToOdd_GrowsHeaderFourBytesEarlierAndKeepsFrameInPlace()
    {
        // DP 12 passes the golden BROADCAST on to DP 13 and records itself: 2 nids -> 3.
        var buffer = InBuffer(Broadcast);
        var frameOffset = Headroom + 18;
        var frameBefore = buffer.AsSpan(frameOffset - 2).ToArray();

        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, Headroom, 12, out var start));

        Assert.Equal(Headroom - 4, start);
        Assert.Equal(Hex(frameBefore), Hex(buffer.AsSpan(frameOffset - 2)));
        Assert.Equal(
            "1000c00b" + "1300c3fd" + "00102300" + "000a000b" + "000c0000" + "0000" + BroadcastFrame.Replace(" ", "", StringComparison.Ordinal),
            Hex(buffer.AsSpan(start)));
        Assert.Equal(0xee, buffer[start - 1]);
    }

    [Fact]
    public void AppendNid_OddToEven_FillsPaddingSlotInPlace()
    {
        var buffer = InBuffer(Punt);
        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, Headroom, 13, out var start));

        Assert.Equal(Headroom, start);
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start), out var header));
        Assert.Equal(4, header.NidCount);
        Assert.Equal(13, header.GetNid(buffer.AsSpan(start), 3));
        Assert.Equal(22, header.InnerOffset);
        Assert.Equal(PuntFields, header.Fields);
    }

    [Fact]
    public void AppendNid_SecurePacket_MovesSeqWithHeaderAndKeepsTagPosition()
    {
        var buffer = new byte[128];
        var frame = Bytes(Frame);
        frame.CopyTo(buffer, 64);
        var fields = BroadcastFields with { Flags = TunnelFlags.Secure, Seq = 0xfeed_0000_0001 };
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, 64, frame.Length, fields, [], out var start, out var length));
        var end = start + length;

        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, start, 10, out var start1));
        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, start1, 11, out var start2));
        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, start2, 12, out var start3));

        Assert.Equal([start - 4, start - 4, start - 8], new[] { start1, start2, start3 });
        var datagram = buffer.AsSpan(start3, end - start3);
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(fields, header.Fields);
        Assert.Equal(3, header.NidCount);
        Assert.Equal(end - TunnelLayout.TagLength, start3 + header.TagOffset);
        Assert.Equal(64, start3 + header.InnerOffset);
        Assert.Equal(frame, datagram.Slice(header.InnerOffset, header.InnerLength).ToArray());
    }

    [Fact]
    public void AppendNid_UpToFifteen_ThenTooManyNids()
    {
        var buffer = InBuffer(Broadcast, headroom: 64);
        var start = 64;
        for (ushort nid = 12; nid < 25; nid++)
        {
            Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, start, nid, out start));
        }

        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start), out var header));
        Assert.Equal(15, header.NidCount);
        Assert.Equal(24, header.GetNid(buffer.AsSpan(start), 14));
        Assert.Equal(WireError.TooManyNids, TunnelRewriter.AppendNid(buffer, start, 25, out var after));
        Assert.Equal(start, after);
    }

    [Fact]
    public void AppendNid_NoHeadroomForGrowth_RejectedWithNoRoomAndUnchanged()
    {
        var buffer = InBuffer(Broadcast, headroom: 3);
        var before = (byte[])buffer.Clone();

        Assert.Equal(WireError.NoRoom, TunnelRewriter.AppendNid(buffer, 3, 12, out var start));
        Assert.Equal(3, start);
        Assert.Equal(before, buffer);
    }

    [Theory]
    [InlineData(0, WireError.NodeIdZero)]
    [InlineData(4095, WireError.NodeIdOutOfRange)]
    public void AppendNid_BadNodeId_Rejected(ushort nid, WireError expected)
    {
        var buffer = InBuffer(Punt);
        Assert.Equal(expected, TunnelRewriter.AppendNid(buffer, Headroom, nid, out _));
    }

    [Fact]
    public void AppendNid_TraceNotSet_RejectedWithNidsWithoutTrace()
    {
        var buffer = InBuffer(Dispatch);
        Assert.Equal(WireError.NidsWithoutTrace, TunnelRewriter.AppendNid(buffer, Headroom, 5, out _));
    }

    [Fact]
    public void AppendNid_TruncatedOrOutOfBuffer_RejectedWithoutThrowing()
    {
        var buffer = InBuffer(Broadcast);
        Assert.Equal(WireError.Truncated, TunnelRewriter.AppendNid(buffer.AsSpan(0, Headroom + 10), Headroom, 12, out _));
        Assert.Equal(WireError.NoRoom, TunnelRewriter.AppendNid(buffer, buffer.Length + 1, 12, out _));
        Assert.Equal(WireError.NoRoom, TunnelRewriter.AppendNid(buffer, -1, 12, out _));
    }

    [Fact]
    public void SetType_PuntBecomesClaim_OtherFieldsKept()
    {
        var datagram = Bytes(Punt);
        Assert.Equal(WireError.None, TunnelRewriter.SetType(datagram, TunnelType.Handoff, Handoff.Claim));

        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(PuntFields with { Handoff = Handoff.Claim }, header.Fields);
    }

    [Theory]
    [InlineData(TunnelType.Dispatch, Handoff.Punt, WireError.UnknownHandoff)]
    [InlineData(TunnelType.Egress, Handoff.Claim, WireError.UnknownHandoff)]
    [InlineData(TunnelType.Control, Handoff.None, WireError.UnknownType)]
    [InlineData((TunnelType)9, Handoff.None, WireError.UnknownType)]
    public void SetType_Invalid_RejectedAndUnchanged(TunnelType type, Handoff handoff, WireError expected)
    {
        var datagram = Bytes(Punt);
        Assert.Equal(expected, TunnelRewriter.SetType(datagram, type, handoff));
        Assert.Equal(Hex(Bytes(Punt)), Hex(datagram));
    }

    [Fact]
    public void SetType_EgressWithoutSNodeToHandoff_RejectedWithNodeIdZero()
    {
        var datagram = Bytes(EgressResolve);
        datagram[9] = 0;
        Assert.Equal(WireError.NodeIdZero, TunnelRewriter.SetType(datagram, TunnelType.Handoff, Handoff.Steer));
        Assert.Equal(WireError.None, TunnelRewriter.SetType(datagram, TunnelType.Egress, Handoff.None));
    }

    [Fact]
    public void SetStage_ForwardFilter_WrittenAndReadBack()
    {
        var datagram = Bytes(Dispatch);
        Assert.Equal(WireError.None, TunnelRewriter.SetStage(datagram, Hook.Forward, NetfilterTable.Filter));
        Assert.Equal(0x34, datagram[5]);
        Assert.Equal(WireError.UnknownHook, TunnelRewriter.SetStage(datagram, (Hook)6, NetfilterTable.None));
        Assert.Equal(WireError.UnknownTable, TunnelRewriter.SetStage(datagram, Hook.Input, (NetfilterTable)5));
        Assert.Equal(0x34, datagram[5]);
    }

    [Fact]
    public void SetNodes_SecurePacket_KeepsFlagsAndRejectsBadIds()
    {
        var datagram = Bytes(SecureDispatch);
        Assert.Equal(WireError.None, TunnelRewriter.SetNodes(datagram, 0xabc, 0x123));
        Assert.Equal("1cabc123", Hex(datagram.AsSpan(0, 4)));
        Assert.Equal(WireError.NodeIdZero, TunnelRewriter.SetNodes(datagram, 0, 1));
        Assert.Equal(WireError.NodeIdOutOfRange, TunnelRewriter.SetNodes(datagram, 1, 4095));
        Assert.Equal(WireError.Truncated, TunnelRewriter.SetNodes(datagram.AsSpan(0, 3), 1, 2));
        Assert.Equal("1cabc123", Hex(datagram.AsSpan(0, 4)));
    }

    [Fact]
    public void DecrementTtl_AtOne_RejectedWithTtlZeroAndUnchanged()
    {
        var datagram = Bytes(Dispatch);
        datagram[7] = 2;
        Assert.Equal(WireError.None, TunnelRewriter.DecrementTtl(datagram));
        Assert.Equal(1, datagram[7]);
        Assert.Equal(WireError.TtlZero, TunnelRewriter.DecrementTtl(datagram));
        Assert.Equal(1, datagram[7]);
        Assert.Equal(WireError.Truncated, TunnelRewriter.DecrementTtl(datagram.AsSpan(0, 7)));
        Assert.Equal(WireError.Truncated, TunnelRewriter.DecrementTtl([]));
    }

    [Fact]
    public void AppendNid_WithOffloadWord_NewSlotBeforeTheWordWhichStaysInPlace()
    {
        // The golden super-frame DISPATCH, re-typed as a traced PUNT by DP 5 (T set), gets DP 5's nid: 0 nids -> 1.
        var buffer = InBuffer(OffloadDispatch);
        buffer[Headroom + 6] |= 0x80;
        var wordAndFrame = buffer.AsSpan(Headroom + 12).ToArray();

        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, Headroom, 5, out var start));

        Assert.Equal(Headroom - 4, start);
        Assert.Equal(Hex(wordAndFrame), Hex(buffer.AsSpan(Headroom + 12)));
        Assert.Equal("10005001" + "0000c3ff" + "00102180" + "00050000" + "05a81800" + "0000" + Hex(Bytes(Frame)), Hex(buffer.AsSpan(start)));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start), out var header));
        Assert.Equal(new TunnelOffload(1448, GsoType.TcpV4, NeedsChecksum: true), header.Offload);
        Assert.Equal(5, header.GetNid(buffer.AsSpan(start), 0));
    }

    [Fact]
    public void AppendNid_WithParkWord_NewSlotBeforeBothWordsWhichStayInPlace()
    {
        var buffer = InBuffer(ParkDispatch);
        buffer[Headroom + 6] |= 0x80;
        var wordsAndFrame = buffer.AsSpan(Headroom + 12).ToArray();

        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, Headroom, 5, out var start));

        Assert.Equal(Headroom - 4, start);
        Assert.Equal(Hex(wordsAndFrame), Hex(buffer.AsSpan(Headroom + 12)));
        Assert.Equal("10005001" + "0000c4ff" + "001021c0" + "00050000" + "05a81800" + "0107fa00" + "0000" + Hex(Bytes(Frame)), Hex(buffer.AsSpan(start)));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start), out var header));
        Assert.Equal(new TunnelPark(0x0107, 64000), header.Park);
        Assert.Equal(5, header.GetNid(buffer.AsSpan(start), 0));
    }

    // The golden shortcut EGRESSes before DP 12 recorded itself: T set, no nids, so HDR SIZE one less (the nid word missing).
    private const string ShortcutBeforeNid = "10 00 20 0c  20 53 c2 ff  00 10 30 20  02 00 07 d0  00 00 " + Frame;
    private const string OriginBeforeNid = "10 00 20 0c  20 53 cb ff  00 10 30 30  02 00 07 d0  "
        + "c6 33 64 07  00 00 00 00  00 00 00 00  00 00 00 00  cb 00 71 0a  00 00 00 00  00 00 00 00  00 00 00 00  9c 40 01 bb  00 00 " + Frame;

    [Theory]
    [InlineData(ShortcutBeforeNid, ShortcutEgress)]
    [InlineData(OriginBeforeNid, OriginEgress)]
    public void AppendNid_WithShortcutWord_GrowsIntoTheGoldenEgressAndTheWordsStayInPlace(string before, string golden)
    {
        var buffer = InBuffer(before);
        var wordsAndFrame = buffer.AsSpan(Headroom + 12).ToArray();

        Assert.Equal(WireError.None, TunnelRewriter.AppendNid(buffer, Headroom, 12, out var start));

        Assert.Equal(Headroom - 4, start);
        Assert.Equal(Hex(wordsAndFrame), Hex(buffer.AsSpan(Headroom + 12)));
        Assert.Equal(Hex(Bytes(golden)), Hex(buffer.AsSpan(start)));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start), out var header));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(Bytes(golden), out var expected));
        Assert.Equal(expected.Shortcut, header.Shortcut);
    }

    [Theory]
    [InlineData(ShortcutBeforeNid, 16)]   // without the SHORTCUT word counted, a header whose TCI follows the list
    [InlineData(OriginBeforeNid, 36)]     // without the ORIGIN block counted, 20 bytes of it would look like room for the TCI
    public void AppendNid_CutInsideTheShortcutWords_TruncatedAndUnchanged(string hex, int length)
    {
        var buffer = InBuffer(hex)[..(Headroom + length)];
        var before = (byte[])buffer.Clone();

        Assert.Equal(WireError.Truncated, TunnelRewriter.AppendNid(buffer, Headroom, 12, out var start));

        Assert.Equal(Headroom, start);
        Assert.Equal(before, buffer);
    }

    [Theory]
    [InlineData(ShortcutEgress, TunnelType.Handoff, Handoff.Steer, WireError.BadShortcut)]
    [InlineData(ShortcutEgress, TunnelType.Dispatch, Handoff.None, WireError.BadShortcut)]
    [InlineData(ShortcutEgress, TunnelType.Egress, Handoff.Resolve, WireError.BadShortcut)]
    [InlineData(ShortcutEgress, TunnelType.Egress, Handoff.None, WireError.None)]
    [InlineData(OriginEgress, TunnelType.Handoff, Handoff.Steer, WireError.BadShortcut)]
    [InlineData(OriginEgress, TunnelType.Egress, Handoff.Resolve, WireError.BadShortcut)]
    [InlineData(OriginEgress, TunnelType.Egress, Handoff.None, WireError.None)]
    public void SetType_WithShortcutWord_OnlyAFinalEgress(string golden, TunnelType type, Handoff handoff, WireError expected)
    {
        var datagram = Bytes(golden);

        Assert.Equal(expected, TunnelRewriter.SetType(datagram, type, handoff));

        Assert.Equal(Hex(Bytes(golden)), Hex(datagram));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out _));
    }

    [Fact]
    public void DecrementTtlAndSetNodes_WithOriginBlock_OnlyTheirBytesChange()
    {
        var datagram = Bytes(OriginEgress);

        Assert.Equal(WireError.None, TunnelRewriter.SetNodes(datagram, dnode: 3, hnode: 12));
        Assert.Equal(WireError.None, TunnelRewriter.DecrementTtl(datagram));

        var expected = Bytes(OriginEgress);
        expected[2] = 0x30;
        expected[7] = 0xfe;
        Assert.Equal(Hex(expected), Hex(datagram));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(OriginEgressFields.Shortcut, header.Shortcut);
    }
}
