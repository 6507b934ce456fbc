using System.Buffers.Binary;
using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Packets;

public class ChecksumTests
{
    [Fact]
    public void Fold_Rfc1071Example_GivesDdf2()
    {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        byte[] data = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];

        Assert.Equal(0xDDF2, Checksum.Fold(Checksum.Add(data)));
        Assert.Equal(0x220D, Checksum.Compute(data));
    }

    [Fact]
    public void Compute_RandomBuffersOfEveryParity_MatchesNaiveSum()
    {
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            byte[] data = new byte[random.Next(0, 300)];
            random.NextBytes(data);

            Assert.Equal((ushort)~ReferenceChecksum.Sum(data), Checksum.Compute(data));
        }
    }

    [Fact]
    public void VerifyIpv4Header_GoldenFrame_IsValidAndDetectsACorruptByte()
    {
        byte[] frame = GoldenFrames.TcpSynIpv4;
        var info = ParseOk(frame);
        ushort field = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(24));

        Assert.True(Checksum.VerifyIpv4Header(frame, info));
        Assert.Equal(field, Checksum.ComputeIpv4Header(frame.AsSpan(14, 20)));

        frame[22]++; // TTL
        Assert.False(Checksum.VerifyIpv4Header(frame, info));
        Checksum.WriteIpv4Header(frame.AsSpan(14, 20));
        Assert.True(ReferenceChecksum.Ipv4HeaderValid(frame, 14));
    }

    [Theory]
    [InlineData(nameof(GoldenFrames.TcpSynIpv4))]
    [InlineData(nameof(GoldenFrames.UdpIpv4Options))]
    [InlineData(nameof(GoldenFrames.UdpIpv6Ext))]
    [InlineData(nameof(GoldenFrames.TcpIpv6Big))]
    [InlineData(nameof(GoldenFrames.EchoRequestIpv4))]
    [InlineData(nameof(GoldenFrames.EchoRequestIpv6))]
    [InlineData(nameof(GoldenFrames.IcmpFragNeededIpv4))]
    [InlineData(nameof(GoldenFrames.PacketTooBigIpv6))]
    public void VerifyTransport_GoldenFrames_AreValid(string name)
    {
        byte[] frame = (byte[])typeof(GoldenFrames).GetProperty(name)!.GetValue(null)!;
        var info = ParseOk(frame);

        Assert.True(Checksum.VerifyTransport(frame, info));
        frame[info.PayloadOffset - 1] ^= 0x5A;
        Assert.False(Checksum.VerifyTransport(frame, info));
    }

    [Fact]
    public void WriteTransport_AfterPayloadChange_MatchesNaiveChecksum()
    {
        byte[] frame = GoldenFrames.UdpIpv6Ext;
        var info = ParseOk(frame);
        frame[info.PayloadOffset] = (byte)'Q';

        Assert.True(Checksum.WriteTransport(frame, info));
        Assert.True(ReferenceChecksum.TransportValid(frame, 14, info.L4Offset, info.IpPacketLength - info.IpHeaderLength, 17));
    }

    [Fact]
    public void PseudoHeaderV4_MatchesExplicitBytes()
    {
        byte[] source = [192, 0, 2, 1];
        byte[] destination = [198, 51, 100, 2];
        byte[] explicitHeader = [.. source, .. destination, 0, 6, 0x01, 0x2C];

        Assert.Equal(ReferenceChecksum.Sum(explicitHeader), Checksum.Fold(Checksum.PseudoHeaderV4(source, destination, 6, 300)));
    }

    [Fact]
    public void Update_ChangedFieldsOfEverySize_EqualsFullRecomputation()
    {
        var random = new Random(11);
        for (int i = 0; i < 1000; i++)
        {
            byte[] data = new byte[64];
            random.NextBytes(data);
            data[0] = data[1] = 0;
            ushort original = Checksum.Compute(data);
            byte[] changed = (byte[])data.Clone();
            random.NextBytes(changed.AsSpan(16, 16));

            ushort full = Checksum.Compute(changed);
            ushort by16 = original;
            for (int word = 16; word < 32; word += 2)
            {
                by16 = Checksum.Update(by16, BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(word)), BinaryPrimitives.ReadUInt16BigEndian(changed.AsSpan(word)));
            }

            ushort by32 = original;
            for (int word = 16; word < 32; word += 4)
            {
                by32 = Checksum.Update(by32, BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(word)), BinaryPrimitives.ReadUInt32BigEndian(changed.AsSpan(word)));
            }

            ushort by128 = Checksum.Update(original, BinaryPrimitives.ReadUInt128BigEndian(data.AsSpan(16)), BinaryPrimitives.ReadUInt128BigEndian(changed.AsSpan(16)));
            ushort bySpan = Checksum.Update(original, data.AsSpan(16, 16), changed.AsSpan(16, 16));

            // Ones-complement has two zeros; both encodings verify, so compare as sums.
            Assert.Equal(Normalize(full), Normalize(by16));
            Assert.Equal(Normalize(full), Normalize(by32));
            Assert.Equal(Normalize(full), Normalize(by128));
            Assert.Equal(Normalize(full), Normalize(bySpan));
        }
    }

    private static ushort Normalize(ushort checksum) => checksum == 0xFFFF ? (ushort)0 : checksum;
}
