using Dva.Shared.Wire;
using Dva.Tests.Common;
using static Dva.Shared.Tests.Wire.GoldenVectors;

namespace Dva.Shared.Tests.Wire;

public class TunnelHeaderTests
{
    public static TheoryData<string, string> Vectors => new()
    {
        { nameof(Dispatch), Dispatch },
        { nameof(Punt), Punt },
        { nameof(Broadcast), Broadcast },
        { nameof(EgressResolve), EgressResolve },
        { nameof(SecureDispatch), SecureDispatch },
        { nameof(OffloadDispatch), OffloadDispatch },
        { nameof(ParkDispatch), ParkDispatch },
        { nameof(ShortcutEgress), ShortcutEgress },
        { nameof(OriginEgress), OriginEgress },
    };

    private static TunnelHeader ReadOk(byte[] datagram)
    {
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        return header;
    }

    private static byte[] With(string hex, int offset, byte value)
    {
        var bytes = Bytes(hex);
        bytes[offset] = value;
        return bytes;
    }

    [Fact]
    public void TryRead_GoldenDispatch_DecodesEveryField()
    {
        var datagram = Bytes(Dispatch);
        var header = ReadOk(datagram);

        Assert.Equal(DispatchFields, header.Fields);
        Assert.Equal(1, header.Version);
        Assert.Equal(0, header.NidCount);
        Assert.Equal(12, header.NidsOffset);
        Assert.Equal(14, header.InnerOffset);
        Assert.Equal(14, header.HeaderLength);
        Assert.Equal(16, header.InnerLength);
        Assert.Equal(-1, header.TagOffset);
        Assert.Equal(Frame.Replace(" ", "", StringComparison.Ordinal), Hex(datagram.AsSpan(header.InnerOffset, header.InnerLength)));
    }

    [Fact]
    public void TryRead_GoldenPunt_DecodesThreeNidsAndVlan()
    {
        var datagram = Bytes(Punt);
        var header = ReadOk(datagram);

        Assert.Equal(PuntFields, header.Fields);
        Assert.Equal(3, header.NidCount);
        Assert.Equal(10, header.GetNid(datagram, 0));
        Assert.Equal(11, header.GetNid(datagram, 1));
        Assert.Equal(12, header.GetNid(datagram, 2));
        Assert.Equal(0, header.GetNid(datagram, 3));
        Assert.Equal(0, header.GetNid(datagram, -1));
        Assert.Equal(22, header.InnerOffset);
        Assert.Equal(16, header.InnerLength);
        Assert.Equal(100, header.VlanTci);
    }

    [Fact]
    public void TryRead_GoldenBroadcast_DecodesChainSoFar()
    {
        var datagram = Bytes(Broadcast);
        var header = ReadOk(datagram);

        Assert.Equal(BroadcastFields, header.Fields);
        var nids = new ushort[4];
        Assert.Equal(2, header.CopyNids(datagram, nids));
        Assert.Equal(BroadcastNids, nids[..2]);
        Assert.Equal(18, header.InnerOffset);
    }

    [Fact]
    public void TryRead_GoldenEgressResolve_DecodesEgressFields()
    {
        var datagram = Bytes(EgressResolve);
        var header = ReadOk(datagram);

        Assert.Equal(EgressResolveFields, header.Fields);
        Assert.Equal(1, header.NidCount);
        Assert.Equal(12, header.GetNid(datagram, 0));
        Assert.Equal(18, header.InnerOffset);
    }

    [Fact]
    public void TryRead_GoldenSecure_PositionsSeqAadPayloadAndTag()
    {
        var datagram = Bytes(SecureDispatch);
        var header = ReadOk(datagram);

        Assert.Equal(SecureDispatchFields, header.Fields);
        Assert.True(header.IsSecure);
        Assert.Equal(54, header.DatagramLength);
        Assert.Equal(20, header.NidsOffset);
        Assert.Equal(20, header.AadLength);
        Assert.Equal(20, header.PayloadOffset);
        Assert.Equal(18, header.PayloadLength);
        Assert.Equal(22, header.InnerOffset);
        Assert.Equal(16, header.InnerLength);
        Assert.Equal(38, header.TagOffset);
        Assert.Equal("1c005001" + "0000000000000102" + "000041ff" + "00102000", Hex(TunnelSecurity.Aad(datagram, header)));
        Assert.Equal("0000" + Frame.Replace(" ", "", StringComparison.Ordinal), Hex(TunnelSecurity.Payload(datagram, header)));
        Assert.Equal(SecureTag.Replace(" ", "", StringComparison.Ordinal), Hex(TunnelSecurity.Tag(datagram, header)));
    }

    [Fact]
    public void SecureRanges_PlainOrUnreadHeader_EmptyInsteadOfThrowing()
    {
        var datagram = Bytes(Dispatch);
        var plain = ReadOk(datagram);
        TunnelHeader unread = default;

        Assert.True(TunnelSecurity.Aad(datagram, plain).IsEmpty);
        Assert.True(TunnelSecurity.Payload(datagram, plain).IsEmpty);
        Assert.True(TunnelSecurity.Aad(datagram, unread).IsEmpty);
        Assert.True(TunnelSecurity.Payload(datagram, unread).IsEmpty);
        Assert.True(TunnelSecurity.Tag(datagram, unread).IsEmpty);
        Assert.Equal(0, unread.GetNid(datagram, 0));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void TryRead_EveryTruncationPoint_RejectedWithTheRightReason(string name, string hex)
    {
        var full = Bytes(hex);
        var header = ReadOk(full);
        var tail = header.IsSecure ? TunnelLayout.TagLength : 0;
        for (var length = 0; length < full.Length; length++)
        {
            var error = TunnelHeader.TryRead(full.AsSpan(0, length), out _);
            // Cut inside the frame, a datagram is a valid shorter frame; the reader cannot tell and must not.
            var expected = length < header.InnerOffset + tail ? WireError.Truncated
                : length - header.InnerOffset - tail < TunnelLayout.MinInnerFrameLength ? WireError.InnerFrameTooShort
                : WireError.None;
            Assert.True(expected == error, $"{name} cut at {length}: expected {expected}, got {error}");
        }
    }

    [Fact]
    public void TryRead_EveryReservedBitFlipped_RejectedWithReservedBitSet()
    {
        // PUNT: 3 nids, so it has nid high nibbles and a padding slot.
        var reserved = new List<(int Offset, byte Mask)> { (0, 0x01) };
        for (var bit = 0; bit < 8; bit++)
        {
            if (bit < 4)
            {
                reserved.Add((11, (byte)(1 << bit)));   // RESERVED below G, P, X and Y
            }

            reserved.Add((18, (byte)(1 << bit)));   // padding slot, high byte
            reserved.Add((19, (byte)(1 << bit)));   // padding slot, low byte
        }

        foreach (var nidByte in new[] { 12, 14, 16 })
        {
            for (var bit = 4; bit < 8; bit++)
            {
                reserved.Add((nidByte, (byte)(1 << bit)));
            }
        }

        Assert.Equal(1 + 20 + 12, reserved.Count);
        foreach (var (offset, mask) in reserved)
        {
            var datagram = Bytes(Punt);
            datagram[offset] ^= mask;
            var error = TunnelHeader.TryRead(datagram, out _);
            Assert.True(error == WireError.ReservedBitSet, $"byte {offset} mask 0x{mask:x2}: {error}");
        }
    }

    [Theory]
    [InlineData(0, 0x00, WireError.BadVersion)]
    [InlineData(0, 0x20, WireError.BadVersion)]
    [InlineData(0, 0xf0, WireError.BadVersion)]
    [InlineData(0, 0x14, WireError.EncryptedWithoutSecure)]
    [InlineData(0, 0x12, WireError.KeyPhaseWithoutSecure)]
    [InlineData(4, 0x40, WireError.UnknownType)]
    [InlineData(4, 0xf0, WireError.UnknownType)]
    [InlineData(4, 0x01, WireError.UnknownHandoff)]
    [InlineData(4, 0x05, WireError.UnknownHandoff)]
    [InlineData(4, 0x10, WireError.UnknownHandoff)]
    [InlineData(4, 0x15, WireError.UnknownHandoff)]
    [InlineData(4, 0x21, WireError.UnknownHandoff)]
    [InlineData(4, 0x24, WireError.UnknownHandoff)]
    [InlineData(4, 0x31, WireError.UnknownHandoff)]
    [InlineData(5, 0x60, WireError.UnknownHook)]
    [InlineData(5, 0xf0, WireError.UnknownHook)]
    [InlineData(5, 0x05, WireError.UnknownTable)]
    [InlineData(5, 0x0f, WireError.UnknownTable)]
    [InlineData(6, 0x40, WireError.HdrSizeMismatch)]
    [InlineData(6, 0x42, WireError.HdrSizeMismatch)]
    [InlineData(6, 0x7f, WireError.HdrSizeMismatch)]
    [InlineData(7, 0x00, WireError.TtlZero)]
    [InlineData(9, 0x00, WireError.NodeIdZero)]
    public void TryRead_InvalidFieldInDispatch_RejectedWithItsReason(int offset, byte value, WireError expected)
    {
        Assert.Equal(expected, TunnelHeader.TryRead(With(Dispatch, offset, value), out _));
    }

    [Theory]
    [InlineData("10 00 00 01", WireError.NodeIdZero)]
    [InlineData("10 ff f0 01", WireError.NodeIdOutOfRange)]
    [InlineData("10 00 50 00", WireError.NodeIdZero)]
    [InlineData("10 00 5f ff", WireError.NodeIdOutOfRange)]
    public void TryRead_BadDNodeOrHNode_Rejected(string l1, WireError expected)
    {
        var datagram = Bytes(Dispatch);
        Bytes(l1).CopyTo(datagram, 0);
        Assert.Equal(expected, TunnelHeader.TryRead(datagram, out _));
    }

    [Theory]
    [InlineData(12, "00 00", WireError.NodeIdZero)]
    [InlineData(14, "0f ff", WireError.NodeIdOutOfRange)]
    public void TryRead_BadNidInPunt_Rejected(int offset, string slot, WireError expected)
    {
        var datagram = Bytes(Punt);
        Bytes(slot).CopyTo(datagram, offset);
        Assert.Equal(expected, TunnelHeader.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_NidsWithTraceClear_RejectedWithNidsWithoutTrace()
    {
        Assert.Equal(WireError.NidsWithoutTrace, TunnelHeader.TryRead(With(Punt, 6, 0x03), out _));
    }

    [Fact]
    public void TryRead_SNodeZero_RequiredForHandoffButNotForEgress()
    {
        Assert.Equal(WireError.NodeIdZero, TunnelHeader.TryRead(With(Punt, 9, 0x00), out _));

        var egress = With(EgressResolve, 9, 0x00);
        var header = ReadOk(egress);
        Assert.Equal(0, header.SNode);
        Assert.Equal(3, header.IfId);
    }

    [Fact]
    public void TryRead_SNode4095_RejectedWithNodeIdOutOfRange()
    {
        var datagram = Bytes(EgressResolve);
        datagram[8] = 0xff;
        datagram[9] = 0xf1;
        Assert.Equal(WireError.NodeIdOutOfRange, TunnelHeader.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_EgressFinal_Accepted()
    {
        var header = ReadOk(With(EgressResolve, 4, 0x20));
        Assert.Equal(Handoff.None, header.Handoff);
    }

    [Fact]
    public void TryRead_KeyPhaseWithSecure_Accepted()
    {
        var header = ReadOk(With(SecureDispatch, 0, 0x1e));
        Assert.Equal(TunnelFlags.Secure | TunnelFlags.Encrypted | TunnelFlags.KeyPhase, header.Flags);
    }

    [Fact]
    public void TryRead_RandomBitFlips_NeverThrowAndAcceptOnlyCanonicalHeaders()
    {
        // Whatever the reader accepts, the writer must reproduce bit for bit: there is one encoding per header.
        var random = new Random(20261126);
        string[] seeds = [Dispatch, Punt, Broadcast, EgressResolve, SecureDispatch, Control, ShortcutEgress, OriginEgress];
        var nids = new ushort[TunnelLayout.MaxNids];
        var accepted = 0;
        for (var i = 0; i < 20000; i++)
        {
            var datagram = Bytes(seeds[random.Next(seeds.Length)]);
            for (var flips = random.Next(1, 3); flips > 0; flips--)
            {
                datagram[random.Next(Math.Min(datagram.Length, 24))] ^= (byte)(1 << random.Next(8));
            }

            if (TunnelHeader.TryRead(datagram, out var header) != WireError.None)
            {
                continue;
            }

            accepted++;
            var count = header.CopyNids(datagram, nids);
            var copy = new byte[datagram.Length + 64];
            datagram.CopyTo(copy, 64);
            Array.Clear(copy, 0, 64 + header.InnerOffset);
            var tail = header.IsSecure ? TunnelLayout.TagLength : 0;
            Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(copy, 64 + header.InnerOffset, header.InnerLength, header.Fields, nids.AsSpan(0, count), out var start, out var length));
            Assert.Equal(64, start);
            Assert.Equal(Hex(datagram.AsSpan(0, datagram.Length - tail)), Hex(copy.AsSpan(start, length - tail)));
        }

        Assert.InRange(accepted, 100, 20000);
    }

    [Fact]
    public void TryRead_ManyPackets_AllocatesNothing()
    {
        var datagram = Bytes(Punt);
        var total = 0;
        for (var i = 0; i < 100; i++)
        {
            TunnelHeader.TryRead(datagram, out var warm);
            total += warm.GetNid(datagram, 1);
        }

        var allocated = AllocationProbe.FewestBytes(() =>
        {
            for (var i = 0; i < 10000; i++)
            {
                TunnelHeader.TryRead(datagram, out var header);
                total += header.GetNid(datagram, 1) + header.InnerLength;
            }
        });

        Assert.Equal(0, allocated);
        Assert.NotEqual(0, total);
    }

    [Fact]
    public void TryRead_GoldenOffloadDispatch_DecodesTheOffloadWordAfterTheNidList()
    {
        var datagram = Bytes(OffloadDispatch);
        var header = ReadOk(datagram);

        Assert.Equal(OffloadDispatchFields, header.Fields);
        Assert.Equal(new TunnelOffload(1448, GsoType.TcpV4, NeedsChecksum: true), header.Offload);
        Assert.Equal(18, header.InnerOffset);
        Assert.Equal(16, header.VlanTciOffset);
        Assert.Equal(Frame.Replace(" ", "", StringComparison.Ordinal), Hex(datagram.AsSpan(header.InnerOffset, header.InnerLength)));
    }

    [Fact]
    public void TryRead_GBitWithoutItsWord_RejectedAsHeaderSizeMismatch()
    {
        // G set on the plain DISPATCH: HDR SIZE still says 1 word, so the header does not add up.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(Dispatch, 11, 0x80), out _));

        // The G DISPATCH with G cleared: HDR SIZE 2 says a word the header does not have.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(OffloadDispatch, 11, 0x00), out _));
    }

    [Theory]
    [InlineData("05a8 1800", WireError.None)]          // TCPv4 super-frame, C
    [InlineData("05a8 2c00", WireError.None)]          // TCPv6 super-frame, C, N
    [InlineData("0000 0800", WireError.None)]          // no GSO, only C: a frame whose checksum is left to the device
    [InlineData("0000 0000", WireError.BadOffload)]    // a word that says nothing is not sent (one encoding)
    [InlineData("05a8 0800", WireError.BadOffload)]    // GSO SIZE without GSO TYPE
    [InlineData("0000 1800", WireError.BadOffload)]    // GSO TYPE without GSO SIZE
    [InlineData("05a8 1000", WireError.BadOffload)]    // super-frame without C
    [InlineData("05a8 4800", WireError.BadOffload)]    // GSO TYPE 4
    [InlineData("05a8 3c00", WireError.BadOffload)]    // N on UDP segmentation
    [InlineData("0000 0c00", WireError.BadOffload)]    // N without GSO
    [InlineData("05a8 1801", WireError.BadOffload)]    // reserved bit (lowest)
    [InlineData("05a8 1a00", WireError.BadOffload)]    // reserved bit (highest)
    public void TryRead_OffloadWord_AcceptedOnlyWhenItFollowsTheRules(string word, WireError expected)
    {
        var datagram = Bytes(OffloadDispatch);
        Bytes(word).CopyTo(datagram, 12);

        Assert.Equal(expected, TunnelHeader.TryRead(datagram, out _));
    }

    [Theory]
    [InlineData(nameof(OffloadDispatch), OffloadDispatch)]
    [InlineData(nameof(ParkDispatch), ParkDispatch)]
    [InlineData(nameof(ShortcutEgress), ShortcutEgress)]
    [InlineData(nameof(OriginEgress), OriginEgress)]
    public void TryRead_OptionalWordCutShort_Truncated(string name, string hex)
    {
        // Cut after the fixed L2 words but before the VLAN TCI ends: inside the nid list, an OFFLOAD, PARK or SHORTCUT word
        // or the ORIGIN block.
        var full = Bytes(hex);
        var header = ReadOk(full);
        for (var length = 12; length < header.InnerOffset; length++)
        {
            Assert.True(TunnelHeader.TryRead(full.AsSpan(0, length), out _) == WireError.Truncated, $"{name} cut at {length}");
        }
    }

    [Fact]
    public void TryRead_GoldenParkDispatch_DecodesTheParkWordAfterTheOffloadWord()
    {
        var datagram = Bytes(ParkDispatch);
        var header = ReadOk(datagram);

        Assert.Equal(ParkDispatchFields, header.Fields);
        Assert.Equal(new TunnelPark(0x0107, 64000), header.Park);
        Assert.Equal(new TunnelOffload(1448, GsoType.TcpV4, NeedsChecksum: true), header.Offload);
        Assert.Equal(22, header.InnerOffset);
        Assert.Equal(Frame.Replace(" ", "", StringComparison.Ordinal), Hex(datagram.AsSpan(header.InnerOffset, header.InnerLength)));
    }

    [Fact]
    public void TryRead_PBitWithoutItsWord_RejectedAsHeaderSizeMismatch()
    {
        // P set on the G DISPATCH: HDR SIZE 2 counts the OFFLOAD word only.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(OffloadDispatch, 11, 0xc0), out _));

        // The parked DISPATCH with P cleared: HDR SIZE 3 says a word the header does not have.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(ParkDispatch, 11, 0x80), out _));
    }

    [Theory]
    [InlineData("05a8 1800", "0107 fa00", WireError.None)]      // TCPv4 super-frame
    [InlineData("05a8 2800", "ffff 0001", WireError.None)]      // TCPv6 super-frame, one byte parked, any ticket
    [InlineData("05a8 1800", "0107 0000", WireError.BadPark)]   // nothing parked
    [InlineData("05a8 3800", "0107 fa00", WireError.BadPark)]   // a UDP super-frame is not parked
    [InlineData("0000 0800", "0107 fa00", WireError.BadPark)]   // a checksum left to the device is no super-frame
    [InlineData("05a8 1a00", "0107 fa00", WireError.BadOffload)] // the OFFLOAD word's own rules come first
    public void TryRead_ParkWord_AcceptedOnlyWithATcpSuperFrame(string offload, string park, WireError expected)
    {
        var datagram = Bytes(ParkDispatch);
        Bytes(offload).CopyTo(datagram, 12);
        Bytes(park).CopyTo(datagram, 16);

        Assert.Equal(expected, TunnelHeader.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_ParkWithoutOffload_RejectedAsBadPark()
    {
        // P alone (HDR SIZE 2): the word after the nid list is a PARK word, and there is no super-frame to park.
        var datagram = Bytes("10 00 50 01  00 00 42 ff  00 10 20 40  01 07 fa 00  00 00 " + Frame);

        Assert.Equal(WireError.BadPark, TunnelHeader.TryRead(datagram, out _));
    }

    [Fact]
    public void TryRead_GoldenShortcutEgress_DecodesTheShortcutWordBeforeTheTci()
    {
        var datagram = Bytes(ShortcutEgress);
        var header = ReadOk(datagram);

        Assert.Equal(ShortcutEgressFields, header.Fields);
        Assert.Equal(new TunnelShortcut(2, 2000), header.Shortcut);
        Assert.True(header.Shortcut.IsPresent);
        Assert.Equal(1, header.NidCount);
        Assert.Equal(12, header.GetNid(datagram, 0));
        Assert.Equal(22, header.InnerOffset);
        Assert.Equal(20, header.VlanTciOffset);
        Assert.Equal(Frame.Replace(" ", "", StringComparison.Ordinal), Hex(datagram.AsSpan(header.InnerOffset, header.InnerLength)));
    }

    [Fact]
    public void TryRead_WithoutX_ShortcutIsNone()
    {
        var header = ReadOk(Bytes(EgressResolve));

        Assert.Equal(TunnelShortcut.None, header.Shortcut);
        Assert.False(header.Shortcut.IsPresent);
    }

    [Fact]
    public void TryRead_XBitWithoutItsWord_RejectedAsHeaderSizeMismatch()
    {
        // X set on a final EGRESS without a word: HDR SIZE 2 counts the nid word only.
        var withoutWord = With(EgressResolve, 4, 0x20);
        withoutWord[11] = 0x20;
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(withoutWord, out _));

        // The shortcut EGRESS with X cleared: HDR SIZE 3 says a word the header does not have.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(ShortcutEgress, 11, 0x00), out _));

        // X and P swapped: the word count is right but P must come with G.
        Assert.Equal(WireError.BadPark, TunnelHeader.TryRead(With(ShortcutEgress, 11, 0x40), out _));
    }

    [Theory]
    [InlineData(0x00, WireError.BadShortcut)]   // DISPATCH
    [InlineData(0x11, WireError.BadShortcut)]   // HANDOFF PUNT
    [InlineData(0x14, WireError.BadShortcut)]   // HANDOFF STEER
    [InlineData(0x25, WireError.BadShortcut)]   // EGRESS RESOLVE: the frame is not final yet
    [InlineData(0x30, WireError.BadShortcut)]   // CONTROL
    [InlineData(0x20, WireError.None)]          // EGRESS, frame final
    public void TryRead_ShortcutWord_AcceptedOnlyOnAFinalEgress(byte typeHandoff, WireError expected)
    {
        Assert.Equal(expected, TunnelHeader.TryRead(With(ShortcutEgress, 4, typeHandoff), out _));
    }

    [Theory]
    [InlineData("02 00 07 d0", WireError.None)]
    [InlineData("00 00 00 00", WireError.None)]           // IFID 0, untagged: a shortcut all the same (X says so)
    [InlineData("ff 00 0f fe", WireError.None)]           // VLAN 4094
    [InlineData("02 00 0f ff", WireError.BadShortcut)]    // VLAN 4095 is reserved
    public void TryRead_ShortcutVlan_UpTo4094(string word, WireError expected)
    {
        var datagram = Bytes(ShortcutEgress);
        Bytes(word).CopyTo(datagram, 16);

        Assert.Equal(expected, TunnelHeader.TryRead(datagram, out var header));
        if (expected == WireError.None)
        {
            Assert.True(header.Shortcut.IsPresent);
            Assert.Equal(datagram[16], header.Shortcut.IngressIfId);
        }
    }

    [Fact]
    public void TryRead_EveryShortcutReservedBitFlipped_RejectedAsBadShortcut()
    {
        // The 12 reserved bits: the second byte of the word and the high nibble of the third.
        for (var bit = 12; bit < 24; bit++)
        {
            var datagram = Bytes(ShortcutEgress);
            datagram[16 + 3 - (bit / 8)] ^= (byte)(1 << (bit % 8));

            Assert.True(TunnelHeader.TryRead(datagram, out _) == WireError.BadShortcut, $"bit {bit}");
        }
    }

    [Fact]
    public void TryRead_ShortcutAfterTheOtherRules_FieldErrorsAndParkComeFirst()
    {
        // A field rule (TTL 0) is reported before the word's; so is the PARK word's (parse order, docs/protocol.md).
        var datagram = With(ShortcutEgress, 7, 0x00);
        datagram[4] = 0x00;
        Assert.Equal(WireError.TtlZero, TunnelHeader.TryRead(datagram, out _));

        // EGRESS RESOLVE with a PARK word but no OFFLOAD word and a SHORTCUT word: both wrong, PARK named.
        var both = Bytes("10 00 20 0c  25 53 c4 ff  00 10 31 60  00 0c 00 00  01 07 fa 00  02 00 07 d0  00 00 " + Frame);
        Assert.Equal(WireError.BadPark, TunnelHeader.TryRead(both, out _));
    }

    [Fact]
    public void TryRead_GoldenOriginEgress_DecodesTheOriginBlockAfterTheShortcutWord()
    {
        var datagram = Bytes(OriginEgress);
        var header = ReadOk(datagram);

        Assert.Equal(OriginEgressFields, header.Fields);
        Assert.True(header.Shortcut.IsPresent);
        Assert.True(header.Shortcut.HasOrigin);
        Assert.Equal((2, 2000), (header.Shortcut.IngressIfId, header.Shortcut.IngressVlan));
        Assert.Equal(new TunnelShortcutOrigin((UInt128)0xc6336407 << 96, (UInt128)0xcb00710a << 96, 40000, 443), header.Shortcut.Origin);
        Assert.Equal(12, header.GetNid(datagram, 0));
        Assert.Equal(58, header.InnerOffset);
        Assert.Equal(56, header.VlanTciOffset);
        Assert.Equal(Frame.Replace(" ", "", StringComparison.Ordinal), Hex(datagram.AsSpan(header.InnerOffset, header.InnerLength)));
    }

    [Fact]
    public void TryRead_WithoutY_NoOrigin()
    {
        var header = ReadOk(Bytes(ShortcutEgress));

        Assert.True(header.Shortcut.IsPresent);
        Assert.False(header.Shortcut.HasOrigin);
        Assert.Equal(default, header.Shortcut.Origin);
        Assert.Equal(new TunnelShortcut(2, 2000), header.Shortcut);
    }

    [Fact]
    public void TryRead_OriginBlock_AnyBytesAccepted()
    {
        // Nothing in the block is checked: an IPv6 tuple, or bytes no IP version would write, read back as they are.
        var datagram = Bytes(OriginEgress);
        Bytes("20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02  00 35 ff ff")
            .CopyTo(datagram, 20);
        Assert.Equal(
            new TunnelShortcutOrigin(new UInt128(0x20010db800000000, 1), new UInt128(0x20010db800000000, 2), 53, 65535),
            ReadOk(datagram).Shortcut.Origin);

        datagram.AsSpan(20, TunnelShortcutOrigin.Length).Fill(0xff);
        Assert.Equal(new TunnelShortcutOrigin(UInt128.MaxValue, UInt128.MaxValue, 65535, 65535), ReadOk(datagram).Shortcut.Origin);
    }

    [Fact]
    public void TryRead_YWithoutX_RejectedAsBadShortcut()
    {
        // The golden ORIGIN EGRESS without its SHORTCUT word: Y set, X clear, HDR SIZE 11 counts the block right.
        var finalEgress = Bytes("10 00 20 0c  20 53 cb ff  00 10 31 10  00 0c 00 00  "
            + OriginEgressHeader.Replace(" ", "", StringComparison.Ordinal)[40..] + Frame.Replace(" ", "", StringComparison.Ordinal));
        Assert.Equal(WireError.BadShortcut, TunnelHeader.TryRead(finalEgress, out _));

        // The same on a DISPATCH, which could never carry X.
        var dispatch = Bytes("10 00 50 01  00 00 4a ff  00 10 20 10  " + new string('0', 72) + "  00 00 " + Frame);
        Assert.Equal(WireError.BadShortcut, TunnelHeader.TryRead(dispatch, out _));
    }

    [Fact]
    public void TryRead_YAndItsBlockDisagreeWithHdrSize_RejectedAsHeaderSizeMismatch()
    {
        // Y cleared: HDR SIZE 12 counts a block the header no longer says it has.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(OriginEgress, 11, 0x20), out _));

        // HDR SIZE of the plain shortcut EGRESS (3) with Y set.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(OriginEgress, 6, 0xc3), out _));

        // Y set on the plain shortcut EGRESS without its block.
        Assert.Equal(WireError.HdrSizeMismatch, TunnelHeader.TryRead(With(ShortcutEgress, 11, 0x30), out _));
    }

    [Theory]
    [InlineData(0x00)]   // DISPATCH
    [InlineData(0x11)]   // HANDOFF PUNT
    [InlineData(0x25)]   // EGRESS RESOLVE
    [InlineData(0x30)]   // CONTROL
    public void TryRead_OriginOnAnythingButAFinalEgress_RejectedAsBadShortcut(byte typeHandoff)
    {
        Assert.Equal(WireError.BadShortcut, TunnelHeader.TryRead(With(OriginEgress, 4, typeHandoff), out _));
    }

    [Fact]
    public void TryRead_ControlWithOffload_RejectedAsBadOffload()
    {
        // CONTROL, HDR SIZE 2 with G, a valid C-only word, VLAN TCI 0, then a 14-byte probe payload.
        var datagram = Bytes("10 00 50 01  30 00 02 ff  00 00 00 80  00 00 08 00  00 00  00 00 00 00 00 01 00 00 00 00 00 00 00 02");

        Assert.Equal(WireError.BadOffload, TunnelHeader.TryRead(datagram, out _));
    }
}
