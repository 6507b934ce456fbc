using System.Buffers.Binary;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tests.Packets;

namespace Dva.Shared.Tests.Flows;

/// <summary>
/// The flow key read straight from a frame (<see cref="FlowKey.TryFromFrame"/>) must be the key of the full parse, for
/// every frame it accepts, and must accept every IPv4 TCP/UDP frame the full parse accepts: the dispatcher and the data
/// plane choose buckets with it.
/// </summary>
public class FlowKeyFromFrameTests
{
    public static TheoryData<string> Frames => new(["TcpSynIpv4", "TcpSynIpv4Vlan", "TcpSynIpv4OddMss", "UdpIpv4Options", "RstForSynIpv4"]);

    private static byte[] Golden(string name) => name switch
    {
        "TcpSynIpv4" => GoldenFrames.TcpSynIpv4,
        "TcpSynIpv4Vlan" => GoldenFrames.TcpSynIpv4Vlan,
        "TcpSynIpv4OddMss" => GoldenFrames.TcpSynIpv4OddMss,
        "UdpIpv4Options" => GoldenFrames.UdpIpv4Options,
        _ => GoldenFrames.RstForSynIpv4,
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void GoldenFrame_GivesTheFullParsesKeyDirectionAndFlags(string name)
    {
        var frame = Golden(name);
        Assert.True(FlowKey.TryFromFrame(frame, out var key, out var isForward, out var flags));
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out var info));
        Assert.True(FlowKey.TryFrom(info, out var expected, out var expectedForward));
        Assert.Equal(expected, key);
        Assert.Equal(expectedForward, isForward);
        Assert.Equal(info.Protocol == PacketConstants.ProtocolTcp ? info.TcpFlags : 0, flags);
    }

    [Fact]
    public void TcpSyn_KeyBytesAreTheCanonicalLayout()
    {
        // 192.0.2.1:50000 -> 198.51.100.2:80, SYN: the source is the lower endpoint, so the packet is forward.
        Assert.True(FlowKey.TryFromFrame(GoldenFrames.TcpSynIpv4, out var key, out var isForward, out var flags));
        Span<byte> bytes = stackalloc byte[FlowKey.Size];
        Assert.True(key.TryCopyTo(bytes));
        Assert.Equal(
            "04060100" + "000000000000000000000000c0000201" + "000000000000000000000000c6336402" + "c3500050",
            Convert.ToHexString(bytes).ToLowerInvariant());
        Assert.True(isForward);
        Assert.Equal(TcpFlags.Syn, flags);

        // The reply (198.51.100.2:80 -> 192.0.2.1:50000) has the same key, reverse direction.
        var reply = GoldenFrames.TcpSynIpv4;
        Swap(reply, 26, 30, 4);
        Swap(reply, 34, 36, 2);
        Assert.True(FlowKey.TryFromFrame(reply, out var replyKey, out var replyForward, out _));
        Assert.Equal(key, replyKey);
        Assert.False(replyForward);
    }

    public static TheoryData<string, string> NotFastFrames => new()
    {
        { "IPv6 TCP", "TcpIpv6Big" },
        { "IPv6 UDP with an extension header", "UdpIpv6Ext" },
        { "ICMP echo", "EchoRequestIpv4" },
        { "ICMP error quoting TCP", "IcmpFragNeededIpv4" },
        { "first fragment", "FragmentFirstIpv4" },
        { "later fragment", "FragmentSecondIpv4" },
        { "ARP", "ArpRequest" },
    };

    [Theory]
    [MemberData(nameof(NotFastFrames))]
    public void OtherFrames_AreLeftToTheFullParse(string what, string name)
    {
        var frame = name switch
        {
            "TcpIpv6Big" => GoldenFrames.TcpIpv6Big,
            "UdpIpv6Ext" => GoldenFrames.UdpIpv6Ext,
            "EchoRequestIpv4" => GoldenFrames.EchoRequestIpv4,
            "IcmpFragNeededIpv4" => GoldenFrames.IcmpFragNeededIpv4,
            "FragmentFirstIpv4" => GoldenFrames.FragmentFirstIpv4,
            "FragmentSecondIpv4" => GoldenFrames.FragmentSecondIpv4,
            _ => GoldenFrames.ArpRequest,
        };
        Assert.False(FlowKey.TryFromFrame(frame, out _, out _, out _), what);
    }

    public static TheoryData<string, int, byte> BrokenHeaders => new()
    {
        { "IHL 4", 14, 0x44 },
        { "version 5", 14, 0x55 },
        { "total length past the frame", 16, 0xff },
        { "TCP data offset 4 (16 bytes)", 46, 0x40 },
        { "TCP data offset 15 (past the packet)", 46, 0xf0 },
        { "more-fragments bit", 20, 0x20 },
        { "UDP as the protocol with a TCP header (UDP length 0x0102)", 23, 17 },
    };

    [Theory]
    [MemberData(nameof(BrokenHeaders))]
    public void BrokenTcpFrame_IsRejectedLikeTheFullParseRejectsIt(string what, int offset, byte value)
    {
        var frame = GoldenFrames.TcpSynIpv4;
        frame[offset] = value;
        Assert.False(FlowKey.TryFromFrame(frame, out _, out _, out _), what);
        var parsed = PacketParser.TryParse(frame, out var info);
        Assert.True(parsed != ParseError.None || info.IsFragment, $"{what}: the full parse gave {parsed}");
    }

    [Fact]
    public void StackedVlan_IsRejectedLikeTheFullParseRejectsIt()
    {
        var plain = GoldenFrames.TcpSynIpv4;
        byte[] frame = [.. plain[..12], 0x81, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06, .. plain[12..]];
        Assert.False(FlowKey.TryFromFrame(frame, out _, out _, out _));
        Assert.Equal(ParseError.StackedVlanUnsupported, PacketParser.TryParse(frame, out _));
    }

    [Fact]
    public void UdpLengthPastThePacket_IsRejected()
    {
        var frame = GoldenFrames.UdpIpv4Options;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(42), 0x00ff);
        Assert.False(FlowKey.TryFromFrame(frame, out _, out _, out _));
        Assert.Equal(ParseError.UdpBadLength, PacketParser.TryParse(frame, out _));
    }

    [Fact]
    public void TruncatedFrames_AgreeWithTheFullParse()
    {
        var whole = GoldenFrames.TcpSynIpv4Vlan;
        for (var length = 0; length <= whole.Length; length++)
        {
            AssertAgrees(whole.AsSpan(0, length).ToArray(), $"first {length} bytes");
        }
    }

    [Fact]
    public void RandomlyCorruptedFrames_AgreeWithTheFullParse()
    {
        var random = new Random(20261127);
        byte[][] seeds = [GoldenFrames.TcpSynIpv4, GoldenFrames.TcpSynIpv4Vlan, GoldenFrames.UdpIpv4Options, GoldenFrames.RstForSynIpv4, GoldenFrames.EchoRequestIpv4];
        var accepted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var frame = (byte[])seeds[i % seeds.Length].Clone();
            var edits = 1 + random.Next(3);
            for (var e = 0; e < edits; e++)
            {
                // Mostly the headers: that is where the checks are.
                var at = random.Next(Math.Min(frame.Length, 60));
                frame[at] = random.Next(4) == 0 ? (byte)random.Next(256) : (byte)(frame[at] ^ (1 << random.Next(8)));
            }

            if (random.Next(8) == 0)
            {
                frame = frame[..random.Next(frame.Length)];
            }

            accepted += AssertAgrees(frame, $"case {i}: {Convert.ToHexString(frame)}") ? 1 : 0;
        }

        Assert.InRange(accepted, 2_000, 19_000);
    }

    // Either both paths give the same key, direction and flags, or the fast path declines a frame the full parse
    // rejects or that is not IPv4 TCP/UDP with at most one tag and no fragmentation.
    private static bool AssertAgrees(byte[] frame, string what)
    {
        var fast = FlowKey.TryFromFrame(frame, out var key, out var isForward, out var flags);
        var parsed = PacketParser.TryParse(frame, out var info);
        var fullHasKey = parsed == ParseError.None && FlowKey.TryFrom(info, out _, out _);
        var fastKind = parsed == ParseError.None && info.IsIp && info.IpVersion == 4 && !info.IsFragment
            && info.Protocol is PacketConstants.ProtocolTcp or PacketConstants.ProtocolUdp;
        Assert.True(fast == fastKind, $"{what}: fast path {fast}, full parse {parsed}");
        if (fast)
        {
            Assert.True(fullHasKey, what);
            FlowKey.TryFrom(info, out var expected, out var expectedForward);
            Assert.True(expected == key, what);
            Assert.True(expectedForward == isForward, what);
            Assert.True((info.Protocol == PacketConstants.ProtocolTcp ? info.TcpFlags : 0) == flags, what);
        }

        return fast;
    }

    private static void Swap(byte[] frame, int a, int b, int length)
    {
        var copy = frame.AsSpan(a, length).ToArray();
        frame.AsSpan(b, length).CopyTo(frame.AsSpan(a));
        copy.CopyTo(frame.AsSpan(b));
    }
}
