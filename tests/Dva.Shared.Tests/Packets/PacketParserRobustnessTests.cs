using System.Buffers.Binary;
using Dva.Shared.Flows;
using Dva.Shared.Packets;

namespace Dva.Shared.Tests.Packets;

public class PacketParserRobustnessTests
{
    private static readonly string[] CompleteFrameNames =
    [
        nameof(GoldenFrames.TcpSynIpv4),
        nameof(GoldenFrames.TcpSynIpv4Vlan),
        nameof(GoldenFrames.UdpIpv6Ext),
        nameof(GoldenFrames.IcmpFragNeededIpv4),
        nameof(GoldenFrames.PacketTooBigIpv6),
        nameof(GoldenFrames.ArpRequest),
    ];

    public static TheoryData<string> CompleteFrames => new(CompleteFrameNames);

    private static byte[] Frame(string name) =>
        (byte[])typeof(GoldenFrames).GetProperty(name)!.GetValue(null)!;

    [Theory]
    [MemberData(nameof(CompleteFrames))]
    public void TryParse_EveryCutOfTheFrame_IsRejectedWithAReason(string name)
    {
        byte[] frame = Frame(name);
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out _));

        for (int length = 0; length < frame.Length; length++)
        {
            ParseError error = PacketParser.TryParse(frame.AsSpan(0, length), out _);

            Assert.True(error != ParseError.None, $"{name} cut to {length} bytes was accepted");
            Assert.True(Enum.IsDefined(error));
        }
    }

    // Cuts the IP packet and rewrites its length field to match, so the cut reaches the L4 checks.
    private static ParseError ParseCutConsistently(byte[] frame, int l3, int ipLength)
    {
        byte[] cut = frame[..(l3 + ipLength)];
        if (cut[l3] >> 4 == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(l3 + 2), (ushort)ipLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(l3 + 4), (ushort)(ipLength - 40));
        }

        return PacketParser.TryParse(cut, out _);
    }

    [Fact]
    public void TryParse_TcpIpv4CutWithConsistentLength_NamesTheTcpReason()
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;

        for (int ipLength = 20; ipLength < 52; ipLength++)
        {
            ParseError expected = (ipLength - 20) switch
            {
                < 20 => ParseError.TcpTruncated,
                < 28 => ParseError.TcpBadDataOffset,
                _ => ParseError.None, // header complete; only payload bytes are missing
            };
            Assert.Equal(expected, ParseCutConsistently(frame, 14, ipLength));
        }
    }

    [Fact]
    public void TryParse_UdpIpv6CutWithConsistentLength_NamesTheExtensionOrUdpReason()
    {
        byte[] frame = GoldenFrames.UdpIpv6Ext;

        for (int ipLength = 40; ipLength < 40 + 16 + 14; ipLength++)
        {
            ParseError expected = (ipLength - 40) switch
            {
                < 16 => ParseError.Ipv6ExtensionHeaderTruncated,
                < 24 => ParseError.UdpTruncated,
                _ => ParseError.UdpBadLength,
            };
            Assert.Equal(expected, ParseCutConsistently(frame, 14, ipLength));
        }
    }

    [Fact]
    public void TryParse_IcmpErrorCutWithConsistentLength_ToleratesOnlyACompleteQuotedHeader()
    {
        byte[] frame = GoldenFrames.IcmpFragNeededIpv4;

        for (int ipLength = 20; ipLength < 56; ipLength++)
        {
            int quote = ipLength - 28;
            ParseError expected = quote switch
            {
                < 0 => ParseError.IcmpTruncated,
                < 20 => ParseError.IcmpQuoteTruncated,
                _ => ParseError.None,
            };
            Assert.Equal(expected, ParseCutConsistently(frame, 14, ipLength));
        }
    }

    [Fact]
    public void TryParse_Icmpv6ErrorCutWithConsistentLength_ToleratesOnlyACompleteQuotedHeader()
    {
        byte[] frame = GoldenFrames.PacketTooBigIpv6;

        for (int ipLength = 40; ipLength < 40 + 8 + 48; ipLength++)
        {
            int quote = ipLength - 48;
            ParseError expected = quote switch
            {
                < 0 => ParseError.IcmpTruncated,
                < 40 => ParseError.IcmpQuoteTruncated,
                _ => ParseError.None,
            };
            Assert.Equal(expected, ParseCutConsistently(frame, 14, ipLength));
            if (expected == ParseError.None)
            {
                var info = TestAddresses.ParseOk(frame[..(14 + ipLength)].Also(f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), (ushort)(ipLength - 40))));
                Assert.Equal(quote >= 44, info.Inner.HasPorts);
            }
        }
    }

    [Fact]
    public void TryParse_SeededRandomInput_NeverThrows()
    {
        var random = new Random(20261126);
        byte[][] seeds = [.. CompleteFrameNames.Select(Frame), GoldenFrames.FragmentFirstIpv6, GoldenFrames.EchoRequestIpv4, GoldenFrames.UdpIpv4Options];
        byte[] output = new byte[2048];
        int accepted = 0;

        for (int i = 0; i < 100_000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 160)];
                random.NextBytes(input);
                if (input.Length > 13 && i % 4 == 0)
                {
                    // Steer half of the random frames past the Ethernet switch.
                    BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(12), random.Next(3) switch { 0 => (ushort)0x0800, 1 => (ushort)0x86DD, _ => (ushort)0x8100 });
                }
            }
            else
            {
                byte[] seed = seeds[random.Next(seeds.Length)];
                input = seed[..random.Next(seed.Length / 2, seed.Length + 1)];
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }
            }

            if (PacketParser.TryParse(input, out PacketInfo info) != ParseError.None)
            {
                continue;
            }

            // Whatever the parser accepts, the code built on it must handle without throwing.
            accepted++;
            FlowKey.TryFrom(info, out _, out _);
            Checksum.VerifyTransport(input, info);
            PacketBuilder.TcpRst(output, input, info);
            PacketBuilder.Icmpv4DestinationUnreachable(output, input, info, 4, 1400, 0xCB0071FE);
            PacketBuilder.Icmpv6PacketTooBig(output, input, info, 1280, 1);
            PacketBuilder.Icmpv4EchoReply(output, input, info);
            PacketBuilder.Icmpv6EchoReply(output, input, info);
            PacketRewriter.ClampMss(input, info, 1200, out _);
            PacketRewriter.SetSourcePort(input, info, 1);
            PacketRewriter.SetDestinationAddress(input, info, info.Source);
            PacketRewriter.DecrementHopLimit(input, info);
        }

        Assert.True(accepted > 1000, $"only {accepted} inputs reached the upper layers");
    }
}

internal static class ByteArrayExtensions
{
    public static byte[] Also(this byte[] bytes, Action<byte[]> change)
    {
        change(bytes);
        return bytes;
    }
}
