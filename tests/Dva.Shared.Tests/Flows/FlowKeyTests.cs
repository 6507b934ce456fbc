using System.Buffers.Binary;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tests.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Flows;

public class FlowKeyTests
{
    private const ulong Seed = 0x5EED_0000_D1A0_0001;
    private const int Buckets = 1024;

    // Where a template frame keeps its addresses and ports (or echo identifier and type byte).
    private sealed record Template(Func<byte[]> Frame, int Source, int Destination, int AddressLength, int SourcePort, int DestinationPort);

    private static readonly Template TcpV4 = new(() => GoldenFrames.TcpSynIpv4, 26, 30, 4, 34, 36);
    private static readonly Template UdpV4 = new(() => GoldenFrames.UdpIpv4Options, 26, 30, 4, 38, 40);
    private static readonly Template TcpV6 = new(() => GoldenFrames.TcpIpv6Big, 22, 38, 16, 54, 56);
    private static readonly Template UdpV6 = new(() => GoldenFrames.UdpIpv6Ext, 22, 38, 16, 70, 72);

    private static byte[] Make(Template template, byte[] source, byte[] destination, ushort sourcePort, ushort destinationPort)
    {
        byte[] frame = template.Frame();
        source.CopyTo(frame, template.Source);
        destination.CopyTo(frame, template.Destination);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(template.SourcePort), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(template.DestinationPort), destinationPort);
        return frame;
    }

    private static (FlowKey Key, bool IsForward) KeyOf(byte[] frame)
    {
        var info = ParseOk(frame);
        Assert.True(FlowKey.TryFrom(info, out FlowKey key, out bool isForward));
        return (key, isForward);
    }

    public static TheoryData<string> PortTemplates => new(["TcpV4", "UdpV4", "TcpV6", "UdpV6"]);

    private static Template ByName(string name) => name switch
    {
        "TcpV4" => TcpV4,
        "UdpV4" => UdpV4,
        "TcpV6" => TcpV6,
        _ => UdpV6,
    };

    [Theory]
    [MemberData(nameof(PortTemplates))]
    public void TryFrom_BothDirectionsOfRandomTuples_GiveSameKeyAndBucket(string templateName)
    {
        Template template = ByName(templateName);
        var random = new Random(templateName.Length * 1000 + template.AddressLength);
        for (int i = 0; i < 2000; i++)
        {
            byte[] a = new byte[template.AddressLength];
            byte[] b = new byte[template.AddressLength];
            random.NextBytes(a);
            if (i % 20 == 0)
            {
                a.CopyTo(b, 0); // same host on both ends: the port decides the order
            }
            else
            {
                random.NextBytes(b);
            }

            ushort portA = (ushort)random.Next(65536);
            ushort portB = (ushort)random.Next(65536);

            var forward = KeyOf(Make(template, a, b, portA, portB));
            var reverse = KeyOf(Make(template, b, a, portB, portA));

            Assert.Equal(forward.Key, reverse.Key);
            Assert.Equal(forward.Key.GetHashCode(), reverse.Key.GetHashCode());
            Assert.Equal(FlowHasher.Bucket(forward.Key, Seed, Buckets), FlowHasher.Bucket(reverse.Key, Seed, Buckets));
            if (!a.AsSpan().SequenceEqual(b) || portA != portB)
            {
                Assert.NotEqual(forward.IsForward, reverse.IsForward);
            }

            Assert.Equal(FlowKeyKind.Ports, forward.Key.Kind);
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void TryFrom_EchoRequestAndReply_GiveSameKeyWithIdentifier(int version)
    {
        var random = new Random(version);
        bool v4 = version == 4;
        int source = v4 ? 26 : 26, destination = v4 ? 30 : 42, l4 = v4 ? 34 : 58, length = v4 ? 4 : 16;
        for (int i = 0; i < 1000; i++)
        {
            byte[] a = new byte[length];
            byte[] b = new byte[length];
            random.NextBytes(a);
            random.NextBytes(b);
            ushort id = (ushort)random.Next(65536);
            byte[] request = v4 ? GoldenFrames.EchoRequestIpv4 : GoldenFrames.EchoRequestIpv6;
            a.CopyTo(request, source);
            b.CopyTo(request, destination);
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(l4 + 4), id);
            byte[] reply = (byte[])request.Clone();
            b.CopyTo(reply, source);
            a.CopyTo(reply, destination);
            reply[l4] = (byte)(v4 ? 0 : 129);

            var there = KeyOf(request);
            var back = KeyOf(reply);

            Assert.Equal(there.Key, back.Key);
            Assert.Equal(FlowKeyKind.IcmpEcho, there.Key.Kind);
            Assert.Equal(id, there.Key.LowerPort);
            Assert.Equal(FlowHasher.Bucket(there.Key, Seed, Buckets), FlowHasher.Bucket(back.Key, Seed, Buckets));
        }
    }

    [Fact]
    public void TryFrom_Icmpv4DestinationUnreachable_LandsOnQuotedFlowBucket()
    {
        var flow = KeyOf(GoldenFrames.TcpSynIpv4);
        var error = KeyOf(GoldenFrames.IcmpFragNeededIpv4);

        Assert.Equal(flow.Key, error.Key);
        Assert.NotEqual(flow.IsForward, error.IsForward);
        Assert.Equal(FlowHasher.Bucket(flow.Key, Seed, Buckets), FlowHasher.Bucket(error.Key, Seed, Buckets));
    }

    [Fact]
    public void TryFrom_Icmpv6PacketTooBig_LandsOnQuotedFlowBucket()
    {
        var flow = KeyOf(GoldenFrames.TcpIpv6Big);
        var error = KeyOf(GoldenFrames.PacketTooBigIpv6);

        Assert.Equal(flow.Key, error.Key);
        Assert.Equal(FlowHasher.Bucket(flow.Key, Seed, Buckets), FlowHasher.Bucket(error.Key, Seed, Buckets));
    }

    [Fact]
    public void TryFrom_ErrorQuotingAnEchoRequest_LandsOnTheEchoFlow()
    {
        byte[] request = GoldenFrames.EchoRequestIpv4;
        byte[] error = new byte[256];
        int length = PacketBuilder.Icmpv4DestinationUnreachable(error, request, ParseOk(request), 1, 0, Parse("203.0.113.254").V4);

        Assert.Equal(KeyOf(request).Key, KeyOf(error[..length]).Key);
    }

    [Fact]
    public void TryFrom_FirstAndLaterFragments_ShareTheAddressKey()
    {
        var first = KeyOf(GoldenFrames.FragmentFirstIpv4);
        var second = KeyOf(GoldenFrames.FragmentSecondIpv4);
        var first6 = KeyOf(GoldenFrames.FragmentFirstIpv6);
        var second6 = KeyOf(GoldenFrames.FragmentSecondIpv6);

        Assert.Equal(first.Key, second.Key);
        Assert.Equal(FlowKeyKind.Addresses, first.Key.Kind);
        Assert.Equal(PacketConstants.ProtocolUdp, first.Key.Protocol);
        Assert.Equal(FlowKey.FromAddresses(Parse("198.51.100.2"), Parse("192.0.2.1"), PacketConstants.ProtocolUdp), first.Key);
        Assert.Equal(first6.Key, second6.Key);
        Assert.Equal(0, first6.Key.LowerPort);
    }

    [Fact]
    public void FromTuple_MatchesParsedPacketAndPredictsReplyKey()
    {
        var parsed = KeyOf(GoldenFrames.TcpSynIpv4);
        IpAddr client = Parse("192.0.2.1");
        IpAddr server = Parse("198.51.100.2");

        FlowKey fromTuple = FlowKey.FromTuple(client, server, 50000, 80, PacketConstants.ProtocolTcp, out bool isForward);
        FlowKey reply = FlowKey.FromTuple(server, client, 80, 50000, PacketConstants.ProtocolTcp, out bool replyForward);

        Assert.Equal(parsed.Key, fromTuple);
        Assert.Equal(parsed.IsForward, isForward);
        Assert.Equal(fromTuple, reply);
        Assert.False(replyForward);
        Assert.Equal(client, fromTuple.LowerAddress);
        Assert.Equal(50000, fromTuple.LowerPort);
        Assert.Equal(server, fromTuple.HigherAddress);
        Assert.Equal(80, fromTuple.HigherPort);
        Assert.Equal("tcp 192.0.2.1:50000 <-> 198.51.100.2:80", fromTuple.ToString());
    }

    [Fact]
    public void FromTuple_IcmpTakesIdentifierFromSourcePort()
    {
        var parsed = KeyOf(GoldenFrames.EchoRequestIpv6);

        FlowKey key = FlowKey.FromTuple(Parse("2001:db8:1::2"), Parse("2001:db8::1"), 0x0101, 0, PacketConstants.ProtocolIcmpv6);

        Assert.Equal(parsed.Key, key);
        Assert.Equal("icmpv6 2001:db8::1 <-> 2001:db8:1::2 id 257", key.ToString());
    }

    [Fact]
    public void TryFrom_Arp_IsNotAFlow()
    {
        var info = ParseOk(GoldenFrames.ArpRequest);

        Assert.False(FlowKey.TryFrom(info, out _, out _));
    }

    [Fact]
    public void FlowKey_SameHostsDifferentFamilyOrProtocol_AreDifferentKeys()
    {
        IpAddr a = Parse("192.0.2.1");
        IpAddr b = Parse("192.0.2.2");

        Assert.NotEqual(FlowKey.FromTuple(a, b, 1, 2, PacketConstants.ProtocolTcp), FlowKey.FromTuple(a, b, 1, 2, PacketConstants.ProtocolUdp));
        Assert.NotEqual(FlowKey.FromTuple(a, b, 1, 2, PacketConstants.ProtocolTcp), FlowKey.FromTuple(Parse("::c000:201"), Parse("::c000:202"), 1, 2, PacketConstants.ProtocolTcp));
    }

    [Theory]
    [InlineData(PacketConstants.ProtocolSctp, FlowKeyKind.Ports)]
    [InlineData(47, FlowKeyKind.Addresses)]
    public void TryFrom_SctpAndOtherProtocols_KeyByPortsOrAddresses(byte protocol, FlowKeyKind kind)
    {
        byte[] frame = GoldenFrames.UdpIpv4Options;
        frame[23] = protocol; // IPv4 protocol byte; the 13 bytes behind the header hold an SCTP common header

        var there = KeyOf(frame);
        byte[] back = (byte[])frame.Clone();
        frame.AsSpan(26, 4).CopyTo(back.AsSpan(30));
        frame.AsSpan(30, 4).CopyTo(back.AsSpan(26));
        frame.AsSpan(38, 2).CopyTo(back.AsSpan(40));
        frame.AsSpan(40, 2).CopyTo(back.AsSpan(38));

        Assert.Equal(kind, there.Key.Kind);
        Assert.Equal(protocol, there.Key.Protocol);
        Assert.Equal(there.Key, KeyOf(back).Key);
        Assert.Equal(FlowKey.FromTuple(Parse("192.0.2.1"), Parse("198.51.100.2"), 5353, 53, protocol), there.Key);
    }
}
