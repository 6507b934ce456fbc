using Dva.Shared.Wire;
using static Dva.Shared.Tests.Wire.GoldenVectors;

namespace Dva.Shared.Tests.Wire;

public class ControlProbeTests
{
    [Fact]
    public void TryWrite_GoldenProbe_ProducesGoldenBytes()
    {
        var buffer = new byte[64];
        Assert.Equal(WireError.None, ControlProbe.TryWrite(buffer, ControlFields, ControlProbeValue, out var length));
        Assert.Equal(Hex(Bytes(Control)), Hex(buffer.AsSpan(0, length)));
    }

    [Fact]
    public void TryRead_GoldenProbe_DecodesHeaderAndPayload()
    {
        Assert.Equal(WireError.None, ControlProbe.TryRead(Bytes(Control), out var header, out var probe));
        Assert.Equal(ControlFields, header.Fields);
        Assert.Equal(ControlProbeValue, probe);
    }

    [Fact]
    public void ToReply_Probe_EchoesSequenceAndTimestamp()
    {
        var reply = ControlProbeValue.ToReply();
        var fields = ControlFields with { DNode = ControlFields.HNode, HNode = ControlFields.DNode };
        var buffer = new byte[64];

        Assert.Equal(WireError.None, ControlProbe.TryWrite(buffer, fields, reply, out var length));
        Assert.Equal("10005002" + "300001ff" + "00000000" + "0000" + "01000000000700000001" + "02030405", Hex(buffer.AsSpan(0, length)));
        Assert.Equal(WireError.None, ControlProbe.TryRead(buffer.AsSpan(0, length), out _, out var read));
        Assert.Equal(new ControlProbe(ControlKind.Reply, 7, 0x0102030405), read);
    }

    [Fact]
    public void TryWrite_SecureProbe_LeavesTagRoomAfterPayload()
    {
        var buffer = new byte[64];
        var fields = ControlFields with { Flags = TunnelFlags.Secure, Seq = 9 };
        Assert.Equal(WireError.None, ControlProbe.TryWrite(buffer, fields, ControlProbeValue, out var length));
        Assert.Equal(22 + ControlProbe.Length + TunnelLayout.TagLength, length);
        Assert.Equal(WireError.None, ControlProbe.TryRead(buffer.AsSpan(0, length), out var header, out var probe));
        Assert.Equal(36, header.TagOffset);
        Assert.Equal(ControlProbeValue, probe);
    }

    [Fact]
    public void TryRead_EveryTruncationPoint_RejectedAsTruncated()
    {
        var full = Bytes(Control);
        for (var length = 0; length < full.Length; length++)
        {
            Assert.Equal(WireError.Truncated, ControlProbe.TryRead(full.AsSpan(0, length), out _, out _));
        }
    }

    [Fact]
    public void TryRead_ReservedBitsInTciOrPayload_RejectedWithReservedBitSet()
    {
        foreach (var offset in new[] { 12, 13, 15 })
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var datagram = Bytes(Control);
                datagram[offset] ^= (byte)(1 << bit);
                Assert.Equal(WireError.ReservedBitSet, ControlProbe.TryRead(datagram, out _, out _));
            }
        }
    }

    [Fact]
    public void TryRead_TrailingBytes_RejectedWithControlLengthMismatch()
    {
        var datagram = Bytes(Control + " 00");
        Assert.Equal(WireError.ControlLengthMismatch, ControlProbe.TryRead(datagram, out _, out _));
    }

    [Fact]
    public void TryRead_UnknownKind_Rejected()
    {
        var datagram = Bytes(Control);
        datagram[14] = 2;
        Assert.Equal(WireError.UnknownControlKind, ControlProbe.TryRead(datagram, out _, out _));
    }

    [Fact]
    public void TryRead_NotControl_RejectedWithUnknownType()
    {
        Assert.Equal(WireError.UnknownType, ControlProbe.TryRead(Bytes(Dispatch), out _, out _));
    }

    [Fact]
    public void TryWrite_BadInputs_Rejected()
    {
        var buffer = new byte[64];
        Assert.Equal(WireError.UnknownType, ControlProbe.TryWrite(buffer, DispatchFields, ControlProbeValue, out _));
        Assert.Equal(WireError.UnknownControlKind, ControlProbe.TryWrite(buffer, ControlFields, ControlProbeValue with { Kind = (ControlKind)7 }, out _));
        Assert.Equal(WireError.NoRoom, ControlProbe.TryWrite(buffer.AsSpan(0, 27), ControlFields, ControlProbeValue, out _));
        Assert.Equal(WireError.TtlZero, ControlProbe.TryWrite(buffer, ControlFields with { Ttl = 0 }, ControlProbeValue, out _));
    }
}
