using System.Buffers.Binary;
using System.Net;
using Dva.Node.Shortcut;
using Dva.Node.Tests.DataPlane;
using Dva.Shared.Packets;

namespace Dva.Node.Tests.Shortcut;

/// <summary>The shortcut's user-space side byte by byte: the key the dispatcher writes for an offer, and the assembler's encoding.</summary>
public class ShortcutLayoutTests
{
    [Fact]
    public void KeyFromAFrame_IsTheKeyOfItsFlow_ByteForByte()
    {
        var frame = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);
        var key = new byte[ShortcutLayout.KeySize];

        Assert.True(DispatcherShortcuts.TryWriteKey(frame, ifIndex: 7, vlan: 20, key));

        byte[] expected =
        [
            7, 0, 0, 0, 20, 0, 17, 4,                                             // ifindex, VLAN (host order), UDP, IPv4
            0x13, 0x88, 0x17, 0x70,                                               // ports 5000, 6000 as in the frame
            192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            198, 51, 100, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        Assert.Equal(expected, key);
        var record = new byte[ShortcutLayout.KeySize];
        new ShortcutKey(7, 20, 17, IPAddress.Parse("192.0.2.10"), IPAddress.Parse("198.51.100.10"), 5000, 6000).Write(record);
        Assert.Equal(expected, record);
        Assert.Equal("udp 192.0.2.10:5000 > 198.51.100.10:6000 in ifindex 7 vlan 20", ShortcutKey.Read(key).ToString());
    }

    [Fact]
    public void KeyFromATaggedIpv6Frame_SkipsTheTag()
    {
        var frame = TestFrames.Tcp("2001:db8:1::10", 40000, "2001:db8:2::10", 443, TcpFlags.Ack);
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 30);
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        var key = new byte[ShortcutLayout.KeySize];

        Assert.True(DispatcherShortcuts.TryWriteKey(tagged, 3, 0, key));

        var expected = new byte[ShortcutLayout.KeySize];
        new ShortcutKey(3, 0, 6, IPAddress.Parse("2001:db8:1::10"), IPAddress.Parse("2001:db8:2::10"), 40000, 443).Write(expected);
        Assert.Equal(expected, key);
        Assert.Equal(6, key[ShortcutLayout.KeyFamily]);
    }

    [Fact]
    public void FramesTheProgramsDoNotMatch_HaveNoKey()
    {
        var options = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);
        options[14] = 0x46;                                                       // IHL 6: options
        var fragment = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);
        fragment[14 + 7] = 8;                                                     // fragment offset 8
        var key = new byte[ShortcutLayout.KeySize];

        Assert.False(DispatcherShortcuts.TryWriteKey(options, 1, 0, key));
        Assert.False(DispatcherShortcuts.TryWriteKey(fragment, 1, 0, key));
        Assert.False(DispatcherShortcuts.TryWriteKey(TestFrames.EchoRequest("192.0.2.10", "198.51.100.10"), 1, 0, key));
        Assert.False(DispatcherShortcuts.TryWriteKey(TestFrames.ArpRequest(TestFrames.ClientMac, "192.0.2.10", "192.0.2.1"), 1, 0, key));
        Assert.False(DispatcherShortcuts.TryWriteKey(new byte[20], 1, 0, key));
    }

    /// <summary>
    /// A translated flow's offer: the key becomes the tuple the flow arrives with (the ORIGIN block), the rewrite the
    /// tuple of the frame as it leaves; an origin equal to the frame's means no rewrite.
    /// </summary>
    [Fact]
    public void Translate_KeyTakesTheOrigin_RewriteTakesTheFramesTuple()
    {
        var leaving = TestFrames.Tcp("198.51.100.1", 61000, "198.51.100.11", 8080, TcpFlags.Ack);
        var key = new byte[ShortcutLayout.KeySize];
        Assert.True(DispatcherShortcuts.TryWriteKey(leaving, 4, 0, key));
        static UInt128 V4(string a) => (UInt128)TestFrames.V4(a) << 96;

        var rewrite = DispatcherShortcuts.Translate(key, new Dva.Shared.Wire.TunnelShortcutOrigin(V4("192.0.2.50"), V4("192.0.2.100"), 40000, 80));

        Assert.Equal(new ShortcutRewrite(V4("198.51.100.1"), V4("198.51.100.11"), 61000, 8080), rewrite);
        var expected = new byte[ShortcutLayout.KeySize];
        new ShortcutKey(4, 0, 6, IPAddress.Parse("192.0.2.50"), IPAddress.Parse("192.0.2.100"), 40000, 80).Write(expected);
        Assert.Equal(expected, key);

        Assert.Null(DispatcherShortcuts.Translate(key, new Dva.Shared.Wire.TunnelShortcutOrigin(V4("192.0.2.50"), V4("192.0.2.100"), 40000, 80)));
        Assert.Equal(expected, key);
    }

    /// <summary>An entry's value byte by byte, with a rewrite: flag 4 and the leaving tuple at the end.</summary>
    [Fact]
    public void EntryValue_WithARewrite_ByteForByte()
    {
        var route = new ShortcutRoute(3, 0x0014, System.Net.NetworkInformation.PhysicalAddress.Parse("02-5E-00-00-00-10"),
            System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-02"), 1500, System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01"),
            new ShortcutRewrite((UInt128)0xc6336401 << 96, (UInt128)0xc633640b << 96, 61000, 8080));
        var value = new byte[ShortcutLayout.ValueSize];

        new ShortcutEntry(route, ShortcutLayout.FlagPending, 5, 600, 7, 8).Write(value);

        Assert.Equal(Convert.FromHexString("03000000" + "1400" + "0600" + "025e00000010" + "020000000002" + "00000000"
            + "0500000000000000" + "5802000000000000" + "0700000000000000" + "0800000000000000" + "dc050000" + "00000000"
            + "020000000001" + "0000"
            + "c6336401000000000000000000000000" + "c633640b000000000000000000000000" + "ee48" + "1f90" + "00000000"), value);
        Assert.Equal(new ShortcutEntry(route, ShortcutLayout.FlagPending, 5, 600, 7, 8), ShortcutEntry.Read(value));
    }

    [Fact]
    public void Assembler_EncodesRegistersOffsetsAndForwardJumps()
    {
        var asm = new BpfAssembler();
        var end = new BpfLabel();
        asm.Mov(Reg.R6, Reg.R1);                                                  // bf 16 0000 00000000
        asm.If(Reg.R2, Jump.Ne, 0x60, end);                                       // 55 02 0001 00000060: skips one
        asm.Load(Width.H, Reg.R1, Reg.Fp, -102);                                  // 69 a1 ff9a 00000000
        asm.Mark(end);
        asm.LoadMap(Reg.R1, 9);                                                   // 18 11 0000 00000009, 00 00 0000 00000000
        asm.AtomicAdd64(Reg.R7, 24, Reg.R1);                                      // db 17 0018 00000000
        asm.Exit();                                                               // 95 00 0000 00000000

        Assert.Equal(Convert.FromHexString(
            "bf16000000000000" + "5502010060000000" + "69a19aff00000000" + "1811000009000000" + "0000000000000000" + "db17180000000000" + "9500000000000000"),
            asm.Build());
    }

    [Fact]
    public void Assembler_RefusesAJumpToALabelNeverBound()
    {
        var asm = new BpfAssembler();
        asm.Goto(new BpfLabel());

        Assert.Throws<InvalidOperationException>(() => asm.Build());
    }
}
