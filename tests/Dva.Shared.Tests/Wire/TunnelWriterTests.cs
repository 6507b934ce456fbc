using Dva.Shared.Wire;
using Dva.Tests.Common;
using static Dva.Shared.Tests.Wire.GoldenVectors;

namespace Dva.Shared.Tests.Wire;

public class TunnelWriterTests
{
    private const int Headroom = 128;

    /// <summary>A node-engine-like buffer: headroom, the frame, room for a TAG.</summary>
    private static byte[] BufferWithFrame(string frameHex, out int frameLength)
    {
        var frame = Bytes(frameHex);
        var buffer = new byte[Headroom + frame.Length + TunnelLayout.TagLength + 7];
        buffer.AsSpan().Fill(0xee);
        frame.CopyTo(buffer, Headroom);
        frameLength = frame.Length;
        return buffer;
    }

    public static TheoryData<string, string, string, TunnelFields, ushort[]> Golden => new()
    {
        { nameof(Dispatch), Dispatch, Frame, DispatchFields, [] },
        { nameof(Punt), Punt, Frame, PuntFields, PuntNids },
        { nameof(Broadcast), Broadcast, BroadcastFrame, BroadcastFields, BroadcastNids },
        { nameof(EgressResolve), EgressResolve, ResolveFrame, EgressResolveFields, EgressResolveNids },
        { nameof(SecureDispatch), SecureDispatch, Frame, SecureDispatchFields, [] },
        { nameof(OffloadDispatch), OffloadDispatch, Frame, OffloadDispatchFields, [] },
        { nameof(ParkDispatch), ParkDispatch, Frame, ParkDispatchFields, [] },
        { nameof(OriginEgress), OriginEgress, Frame, OriginEgressFields, ShortcutEgressNids },
        { nameof(ShortcutEgress), ShortcutEgress, Frame, ShortcutEgressFields, ShortcutEgressNids },
    };

    [Theory]
    [MemberData(nameof(Golden))]
    public void TryWriteInFront_GoldenFields_ProducesGoldenBytes(string name, string expected, string frame, TunnelFields fields, ushort[] nids)
    {
        var buffer = BufferWithFrame(frame, out var frameLength);

        var error = TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, nids, out var start, out var length);

        Assert.Equal(WireError.None, error);
        Assert.Equal(Headroom + frameLength + (fields.Flags.HasFlag(TunnelFlags.Secure) ? TunnelLayout.TagLength : 0), start + length);
        Assert.True(Hex(Bytes(expected)) == Hex(buffer.AsSpan(start, length)), name);
        Assert.Equal(0xee, buffer[start - 1]);
        Assert.Equal(0xee, buffer[start + length]);
    }

    [Fact]
    public void TryWriteInFront_RandomHeaders_RoundTripThroughReader()
    {
        var random = new Random(42);
        TunnelFlags[] flagChoices =
        [
            TunnelFlags.None, TunnelFlags.Secure, TunnelFlags.Secure | TunnelFlags.Encrypted,
            TunnelFlags.Secure | TunnelFlags.KeyPhase, TunnelFlags.Secure | TunnelFlags.Encrypted | TunnelFlags.KeyPhase,
        ];
        Handoff[][] handoffsByType = [[Handoff.None], [Handoff.Punt, Handoff.Claim, Handoff.Broadcast, Handoff.Steer], [Handoff.None, Handoff.Resolve], [Handoff.None]];
        var buffer = new byte[Headroom + 300 + TunnelLayout.TagLength];
        var again = new byte[buffer.Length];
        var readNids = new ushort[TunnelLayout.MaxNids];
        for (var i = 0; i < 5000; i++)
        {
            var type = (TunnelType)random.Next(4);
            var trr = random.Next(2) == 1;
            var nids = new ushort[trr ? random.Next(TunnelLayout.MaxNids + 1) : 0];
            for (var n = 0; n < nids.Length; n++)
            {
                nids[n] = (ushort)random.Next(1, 4095);
            }

            var flags = flagChoices[random.Next(flagChoices.Length)];
            var fields = new TunnelFields
            {
                Flags = flags,
                DNode = (ushort)random.Next(1, 4095),
                HNode = (ushort)random.Next(1, 4095),
                Seq = flags.HasFlag(TunnelFlags.Secure) ? (ulong)random.NextInt64() * 3 : 0,
                Type = type,
                Handoff = handoffsByType[(int)type][random.Next(handoffsByType[(int)type].Length)],
                Hook = (Hook)random.Next(6),
                Table = (NetfilterTable)random.Next(5),
                Trr = trr,
                Era = (byte)random.Next(2),
                Ttl = (byte)random.Next(1, 256),
                SNode = (ushort)(type is TunnelType.Egress or TunnelType.Control && random.Next(4) == 0 ? 0 : random.Next(1, 4095)),
                IfId = (byte)random.Next(256),
                VlanTci = type == TunnelType.Control ? (ushort)0 : (ushort)random.Next(65536),
            };
            if (type == TunnelType.Egress && fields.Handoff == Handoff.None && random.Next(2) == 0)
            {
                var (ifId, vlan) = ((byte)random.Next(256), (ushort)random.Next(TunnelShortcut.MaxVlan + 1));
                var origin = new TunnelShortcutOrigin(
                    new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64()), new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64()),
                    (ushort)random.Next(65536), (ushort)random.Next(65536));
                fields = fields with { Shortcut = random.Next(2) == 0 ? new TunnelShortcut(ifId, vlan) : new TunnelShortcut(ifId, vlan, origin) };
            }

            var frame = new byte[random.Next(TunnelLayout.MinInnerFrameLength, 300)];
            random.NextBytes(frame);
            frame.CopyTo(buffer, Headroom);

            Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frame.Length, fields, nids, out var start, out var length));
            var datagram = buffer.AsSpan(start, length);
            Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));

            Assert.Equal(fields, header.Fields);
            Assert.Equal(nids, readNids.AsSpan(0, header.CopyNids(datagram, readNids)).ToArray());
            Assert.Equal(Headroom - start, header.InnerOffset);
            Assert.Equal(frame, datagram.Slice(header.InnerOffset, header.InnerLength).ToArray());
            Assert.Equal(fields.Flags.HasFlag(TunnelFlags.Secure) ? header.InnerOffset + frame.Length : -1, header.TagOffset);

            // Writing the decoded header again gives the same bytes: forwarding by re-encoding is lossless.
            frame.CopyTo(again, Headroom);
            Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(again, Headroom, frame.Length, header.Fields, nids, out var start2, out var length2));
            Assert.True(datagram.SequenceEqual(again.AsSpan(start2, length2)));
        }
    }

    public static TheoryData<TunnelFields, int, WireError> InvalidFields => new()
    {
        { DispatchFields with { Flags = (TunnelFlags)1 }, 0, WireError.ReservedBitSet },
        { DispatchFields with { Flags = (TunnelFlags)0x18 }, 0, WireError.ReservedBitSet },
        { DispatchFields with { Flags = TunnelFlags.Encrypted }, 0, WireError.EncryptedWithoutSecure },
        { DispatchFields with { Flags = TunnelFlags.KeyPhase }, 0, WireError.KeyPhaseWithoutSecure },
        { DispatchFields with { DNode = 0 }, 0, WireError.NodeIdZero },
        { DispatchFields with { HNode = 4095 }, 0, WireError.NodeIdOutOfRange },
        { DispatchFields with { DNode = 5000 }, 0, WireError.NodeIdOutOfRange },
        { DispatchFields with { Type = (TunnelType)4 }, 0, WireError.UnknownType },
        { DispatchFields with { Handoff = Handoff.Punt }, 0, WireError.UnknownHandoff },
        { PuntFields with { Handoff = Handoff.Resolve }, 3, WireError.UnknownHandoff },
        { EgressResolveFields with { Handoff = Handoff.Steer }, 1, WireError.UnknownHandoff },
        { DispatchFields with { Hook = (Hook)6 }, 0, WireError.UnknownHook },
        { DispatchFields with { Table = (NetfilterTable)5 }, 0, WireError.UnknownTable },
        { DispatchFields with { Era = 2 }, 0, WireError.BadEra },
        { DispatchFields with { Ttl = 0 }, 0, WireError.TtlZero },
        { PuntFields, 16, WireError.TooManyNids },
        { DispatchFields, 1, WireError.NidsWithoutTrace },
        { DispatchFields with { SNode = 0 }, 0, WireError.NodeIdZero },
        { DispatchFields with { SNode = 4095 }, 0, WireError.NodeIdOutOfRange },
        { ControlFields with { VlanTci = 1 }, 0, WireError.ReservedBitSet },
        { DispatchFields with { Shortcut = new TunnelShortcut(2, 0) }, 0, WireError.BadShortcut },
        { PuntFields with { Shortcut = new TunnelShortcut(2, 0) }, 3, WireError.BadShortcut },
        { EgressResolveFields with { Shortcut = new TunnelShortcut(2, 0) }, 1, WireError.BadShortcut },
        { ControlFields with { Shortcut = new TunnelShortcut(2, 0) }, 0, WireError.BadShortcut },
        { ShortcutEgressFields with { Shortcut = new TunnelShortcut(2, 4095) }, 1, WireError.BadShortcut },
        { ShortcutEgressFields with { Shortcut = new TunnelShortcut(2, 0x1000) }, 1, WireError.BadShortcut },
        { DispatchFields with { Shortcut = OriginEgressFields.Shortcut }, 0, WireError.BadShortcut },
        { EgressResolveFields with { Shortcut = OriginEgressFields.Shortcut }, 1, WireError.BadShortcut },
        { ControlFields with { Shortcut = OriginEgressFields.Shortcut }, 0, WireError.BadShortcut },
        { OriginEgressFields with { Shortcut = new TunnelShortcut(2, 4095, OriginEgressOrigin) }, 1, WireError.BadShortcut },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public void TryWriteInFront_InvalidFields_RejectedAndBufferUntouched(TunnelFields fields, int nidCount, WireError expected)
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var before = (byte[])buffer.Clone();
        var nids = Enumerable.Repeat((ushort)7, nidCount).ToArray();

        Assert.Equal(expected, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, nids, out var start, out _));
        Assert.Equal(-1, start);
        Assert.Equal(before, buffer);
    }

    [Theory]
    [InlineData(0, WireError.NodeIdZero)]
    [InlineData(4095, WireError.NodeIdOutOfRange)]
    [InlineData(0x1001, WireError.NodeIdOutOfRange)]
    public void TryWriteInFront_BadNid_Rejected(ushort nid, WireError expected)
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        Assert.Equal(expected, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, PuntFields, [10, nid], out _, out _));
    }

    [Fact]
    public void TryWriteInFront_FrameShorterThanEthernetHeader_Rejected()
    {
        var buffer = BufferWithFrame(Frame, out _);
        Assert.Equal(WireError.InnerFrameTooShort, TunnelWriter.TryWriteInFront(buffer, Headroom, 13, DispatchFields, [], out _, out _));
    }

    [Fact]
    public void TryWriteInFront_NotEnoughHeadroom_RejectedWithNoRoom()
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var frame = buffer.AsSpan(Headroom, frameLength).ToArray();
        frame.CopyTo(buffer, 13);

        Assert.Equal(WireError.NoRoom, TunnelWriter.TryWriteInFront(buffer, 13, frameLength, DispatchFields, [], out _, out _));
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, 14, frameLength, DispatchFields, [], out var start, out _));
        Assert.Equal(0, start);
    }

    [Fact]
    public void TryWriteInFront_SecureWithoutRoomForTag_RejectedWithNoRoom()
    {
        var buffer = new byte[Headroom + 16 + TunnelLayout.TagLength - 1];
        Assert.Equal(WireError.NoRoom, TunnelWriter.TryWriteInFront(buffer, Headroom, 16, SecureDispatchFields, [], out _, out _));
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, 16, DispatchFields, [], out _, out _));
    }

    [Fact]
    public void TryWriteInFront_LongestHeader_FitsMaxHeaderLength()
    {
        // Secure, 15 nids, a SHORTCUT word and its ORIGIN block; OFFLOAD and PARK never meet secure mode (docs/protocol.md, "Lengths").
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var nids = Enumerable.Range(1, TunnelLayout.MaxNids).Select(n => (ushort)n).ToArray();
        var fields = OriginEgressFields with { Flags = TunnelFlags.Secure };

        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, TunnelLayout.MaxHeaderLength, frameLength, fields, nids, out var start, out _));
        Assert.Equal(0, start);
        Assert.Equal(94, TunnelLayout.MaxHeaderLength);
    }

    [Fact]
    public void TryWriteInFront_ManyPackets_AllocatesNothing()
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        ReadOnlySpan<ushort> nids = [10, 11, 12];
        var fields = PuntFields;
        for (var i = 0; i < 100; i++)
        {
            TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, nids, out _, out _);
        }

        var total = 0;
        var allocated = AllocationProbe.FewestBytes(() =>
        {
            for (var i = 0; i < 10000; i++)
            {
                TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, [10, 11, 12], out var start, out var length);
                total += start + length;
            }
        });

        Assert.Equal(0, allocated);
        Assert.NotEqual(0, total);
    }

    [Theory]
    [InlineData(0UL, 49152)]
    [InlineData(1UL << 50, 49153)]
    [InlineData((1UL << 50) - 1, 49152)]
    [InlineData(ulong.MaxValue, 65535)]
    [InlineData(0x8000_0000_0000_0000UL, 57344)]
    public void UdpSourcePort_FlowHash_TopFourteenBitsAboveEphemeralBase(ulong hash, int expected)
    {
        Assert.Equal(expected, TunnelLayout.UdpSourcePort(hash));
    }

    [Fact]
    public void TryWriteNonce_HNodeAndSeq_TwelveBytesBigEndian()
    {
        Span<byte> nonce = stackalloc byte[TunnelSecurity.NonceLength];
        Assert.True(TunnelSecurity.TryWriteNonce(nonce, 0x0abc, 0x0102030405060708));
        Assert.Equal("00000abc0102030405060708", Hex(nonce));
        Assert.False(TunnelSecurity.TryWriteNonce(nonce[..11], 1, 1));
    }

    [Theory]
    [InlineData(1448, GsoType.None, true)]
    [InlineData(0, GsoType.TcpV4, true)]
    [InlineData(1448, GsoType.TcpV4, false)]
    [InlineData(1448, (GsoType)4, true)]
    public void TryWriteInFront_OffloadAgainstTheRules_RefusedWithBadOffload(int gsoSize, GsoType type, bool needsChecksum)
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var fields = DispatchFields with { Offload = new TunnelOffload((ushort)gsoSize, type, needsChecksum) };

        Assert.Equal(WireError.BadOffload, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, [], out _, out _));
    }

    [Theory]
    [InlineData(0, GsoType.None, false)]       // no OFFLOAD word at all
    [InlineData(0, GsoType.None, true)]        // a checksum left to the device is no super-frame
    [InlineData(1448, GsoType.UdpL4, true)]    // a UDP super-frame is not parked
    public void TryWriteInFront_ParkWithoutATcpSuperFrame_RefusedWithBadPark(int gsoSize, GsoType type, bool needsChecksum)
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var fields = DispatchFields with
        {
            Offload = new TunnelOffload((ushort)gsoSize, type, needsChecksum),
            Park = new TunnelPark(7, 64000),
        };

        Assert.Equal(WireError.BadPark, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, [], out _, out _));
    }

    [Fact]
    public void TryWriteInFront_SecureEgressWithEveryWord_OffloadParkShortcutOriginThenTciAllInTheAad()
    {
        var frame = Bytes(Frame);
        var buffer = new byte[Headroom + frame.Length + TunnelLayout.TagLength];
        frame.CopyTo(buffer, Headroom);
        var fields = OriginEgressFields with
        {
            Flags = TunnelFlags.Secure, Seq = 0x102, VlanTci = 100,
            Offload = new TunnelOffload(1448, GsoType.TcpV4, NeedsChecksum: true),
            Park = new TunnelPark(0x0107, 64000),
        };

        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frame.Length, fields, [12, 13], out var start, out var length));

        // HDR SIZE 1 + 1 + G + P + X + 9 × Y = 14 (0xce with T and E), G|P|X|Y = 0xf0, then OFFLOAD, PARK, SHORTCUT, ORIGIN,
        // the TCI 0064.
        var aad = "1800200c" + "0000000000000102" + "2053ceff" + "001032f0" + "000c000d" + "05a81800" + "0107fa00" + "020007d0"
            + "c6336407000000000000000000000000" + "cb00710a000000000000000000000000" + "9c4001bb";
        Assert.Equal(aad + "0064" + Hex(frame) + new string('0', 32), Hex(buffer.AsSpan(start, length)));
        var datagram = buffer.AsSpan(start, length);
        Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(fields, header.Fields);
        Assert.Equal(74, header.InnerOffset);
        Assert.Equal(aad, Hex(TunnelSecurity.Aad(datagram, header)));
    }

    [Fact]
    public void TryWriteInFront_ShortcutWithAndWithoutTheOtherWords_RoundTripThroughReader()
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var readNids = new ushort[TunnelLayout.MaxNids];
        var superFrame = new TunnelOffload(1448, GsoType.TcpV6, NeedsChecksum: true);
        foreach (var flags in new[] { TunnelFlags.None, TunnelFlags.Secure | TunnelFlags.Encrypted })
        {
            foreach (var nidCount in new[] { 0, 1, 2, TunnelLayout.MaxNids })
            {
                foreach (var (offload, park) in new[] { (TunnelOffload.None, TunnelPark.None), (superFrame, TunnelPark.None), (superFrame, new TunnelPark(9, 1)) })
                {
                    var nids = Enumerable.Range(100, nidCount).Select(n => (ushort)n).ToArray();
                    var fields = ShortcutEgressFields with { Flags = flags, Trr = nidCount > 0, Offload = offload, Park = park, Shortcut = new TunnelShortcut(7, 4094) };
                    var name = $"{flags} nids={nidCount} G={offload.IsPresent} P={park.IsPresent}";

                    Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, nids, out var start, out var length));
                    var datagram = buffer.AsSpan(start, length);
                    Assert.True(TunnelHeader.TryRead(datagram, out var header) == WireError.None, name);
                    Assert.True(fields == header.Fields, name);
                    Assert.Equal(nids, readNids.AsSpan(0, header.CopyNids(datagram, readNids)).ToArray());
                    Assert.Equal(TunnelLayout.HeaderLength(fields, nidCount), header.InnerOffset);
                    Assert.Equal(Headroom - start, header.InnerOffset);
                    Assert.Equal(Hex(Bytes(Frame)), Hex(datagram.Slice(header.InnerOffset, header.InnerLength)));

                    // The same header without X is 4 bytes shorter and has no word.
                    Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields with { Shortcut = TunnelShortcut.None }, nids, out var without, out _));
                    Assert.Equal(start + TunnelShortcut.WordLength, without);
                    Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(without, length - TunnelShortcut.WordLength), out var plain));
                    Assert.False(plain.Shortcut.IsPresent);
                }
            }
        }
    }

    [Fact]
    public void TryWriteInFront_OriginWithAndWithoutTheOtherWords_RoundTripThroughReader()
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var readNids = new ushort[TunnelLayout.MaxNids];
        var superFrame = new TunnelOffload(1448, GsoType.TcpV6, NeedsChecksum: true);
        var origin = new TunnelShortcutOrigin(new UInt128(0x20010db800000000, 7), new UInt128(0x20010db8ffff0000, 0x80), 51000, 80);
        foreach (var flags in new[] { TunnelFlags.None, TunnelFlags.Secure | TunnelFlags.Encrypted })
        {
            foreach (var nidCount in new[] { 0, 1, 2, TunnelLayout.MaxNids })
            {
                foreach (var (offload, park) in new[] { (TunnelOffload.None, TunnelPark.None), (superFrame, TunnelPark.None), (superFrame, new TunnelPark(9, 1)) })
                {
                    var nids = Enumerable.Range(100, nidCount).Select(n => (ushort)n).ToArray();
                    var fields = ShortcutEgressFields with { Flags = flags, Trr = nidCount > 0, Offload = offload, Park = park, Shortcut = new TunnelShortcut(7, 4094, origin) };
                    var name = $"{flags} nids={nidCount} G={offload.IsPresent} P={park.IsPresent}";

                    Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, nids, out var start, out var length));
                    var datagram = buffer.AsSpan(start, length);
                    Assert.True(TunnelHeader.TryRead(datagram, out var header) == WireError.None, name);
                    Assert.True(fields == header.Fields, name);
                    Assert.Equal(origin, header.Shortcut.Origin);
                    Assert.Equal(nids, readNids.AsSpan(0, header.CopyNids(datagram, readNids)).ToArray());
                    Assert.Equal(TunnelLayout.HeaderLength(fields, nidCount), header.InnerOffset);
                    Assert.Equal(Headroom - start, header.InnerOffset);

                    // The block sits between the SHORTCUT word and the TCI, in network byte order.
                    var block = datagram.Slice(header.VlanTciOffset - TunnelShortcutOrigin.Length, TunnelShortcutOrigin.Length);
                    Assert.Equal("20010db8000000000000000000000007" + "20010db8ffff00000000000000000080" + "c7380050", Hex(block));
                    Assert.Equal("07000ffe", Hex(datagram.Slice(header.VlanTciOffset - TunnelShortcutOrigin.Length - TunnelShortcut.WordLength, 4)));
                    Assert.Equal(Hex(Bytes(Frame)), Hex(datagram.Slice(header.InnerOffset, header.InnerLength)));

                    // The same shortcut without Y is 36 bytes shorter and reads back without an origin.
                    Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields with { Shortcut = new TunnelShortcut(7, 4094) }, nids, out var without, out _));
                    Assert.Equal(start + TunnelShortcutOrigin.Length, without);
                    Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(without, length - TunnelShortcutOrigin.Length), out var plain));
                    Assert.True(plain.Shortcut.IsPresent);
                    Assert.False(plain.Shortcut.HasOrigin);
                }
            }
        }
    }

    [Fact]
    public void TunnelShortcut_Constructors_OnlyTheOneWithAnOriginSetsY()
    {
        var origin = OriginEgressOrigin;

        Assert.Equal((true, true, origin), (new TunnelShortcut(2, 2000, origin).IsPresent, new TunnelShortcut(2, 2000, origin).HasOrigin, new TunnelShortcut(2, 2000, origin).Origin));
        Assert.Equal((true, false, default(TunnelShortcutOrigin)), (new TunnelShortcut(2, 2000).IsPresent, new TunnelShortcut(2, 2000).HasOrigin, new TunnelShortcut(2, 2000).Origin));
        Assert.False(TunnelShortcut.None.HasOrigin);
        Assert.NotEqual(new TunnelShortcut(2, 2000), new TunnelShortcut(2, 2000, default));
        Assert.Equal(TunnelLayout.HeaderLength(ShortcutEgressFields, 1) + TunnelShortcutOrigin.Length, TunnelLayout.HeaderLength(OriginEgressFields, 1));
    }

    [Fact]
    public void TryWriteInFront_OffloadWithNids_WordBetweenListAndTci()
    {
        var buffer = BufferWithFrame(Frame, out var frameLength);
        var fields = PuntFields with { Offload = new TunnelOffload(1428, GsoType.TcpV6, NeedsChecksum: true, Ecn: true) };

        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, PuntNids, out var start, out var length));

        // HDR SIZE 1 + 2 + 1 = 4 (0x84 with T), G in the RESERVED byte, then 0594 2c00 before the TCI 0064.
        Assert.Equal("1000d00c" + "111384fc" + "00102380" + "000a000b" + "000c0000" + "05942c00" + "0064" + Hex(Bytes(Frame)), Hex(buffer.AsSpan(start, length)));
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.AsSpan(start, length), out var header));
        Assert.Equal(fields, header.Fields);
    }
}
