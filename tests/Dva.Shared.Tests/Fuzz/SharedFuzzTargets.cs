using System.Buffers.Binary;
using System.IO.Hashing;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Security;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Shared.Tests.Fuzz;

/// <summary>A property a parser, builder or rewriter promises did not hold for a fuzz input.</summary>
internal sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>
/// Fuzz targets over the untrusted-input parsers of Dva.Shared. Each takes any bytes, must never throw,
/// and checks what the code promises for inputs it accepts (throwing <see cref="FuzzInvariantException"/>
/// when a promise breaks). Used by the seeded tests here and, as linked source, by tests/Dva.Fuzz (SharpFuzz).
/// Returns whether the parser accepted the input.
/// </summary>
internal static class SharedFuzzTargets
{
    // The longest header the reader accepts: MaxHeaderLength leaves out OFFLOAD and PARK, which the wire allows with S.
    private const int Headroom = TunnelLayout.MaxHeaderLength + TunnelOffload.Length + TunnelPark.WordLength;

    private static readonly TunnelKeyRing Keys = NewRing();
    private static readonly TunnelSealer Sealer = new(Keys, new TunnelSequence(1UL << 40));
    private static readonly TunnelOpener Opener = new(Keys, new ReplayGuard());
    private static readonly TunnelOpener RoundTripOpener = new(Keys, new ReplayGuard());

    /// <summary>Tunnel datagram: reader, writer round trip, rewriter ops, CONTROL payload, seal/open.</summary>
    public static bool Tunnel(ReadOnlySpan<byte> data)
    {
        if (TunnelHeader.TryRead(data, out var header) != WireError.None)
        {
            return false;
        }

        var tail = header.IsSecure ? TunnelLayout.TagLength : 0;
        Require(header.DatagramLength == data.Length && header.InnerLength >= 0
            && header.InnerOffset + header.InnerLength + tail == data.Length, "reader ranges do not cover the datagram");
        Span<ushort> nids = stackalloc ushort[TunnelLayout.MaxNids];
        var nidCount = header.CopyNids(data, nids);
        Require(nidCount == header.NidCount, "CopyNids lost nids");

        // Exactly one encoding: writing the fields back reproduces the header bit for bit.
        var buffer = new byte[Headroom + data.Length + TunnelLayout.TagLength];
        data[header.InnerOffset..].CopyTo(buffer.AsSpan(Headroom));
        var error = TunnelWriter.TryWriteInFront(buffer, Headroom, header.InnerLength, header.Fields, nids[..nidCount], out var start, out var length);
        Require(error == WireError.None, $"writer refused fields the reader accepted: {error}");
        Require(length == data.Length && buffer.AsSpan(start, header.InnerOffset).SequenceEqual(data[..header.InnerOffset]),
            "writer did not reproduce the header");

        if (header.Type == TunnelType.Control)
        {
            _ = ControlProbe.TryReadPayload(data, header, out _);
        }

        _ = TunnelSecurity.Aad(data, header);
        Rewrite(data, header, nids[..nidCount]);
        if (header.IsSecure)
        {
            Secure(data, header);
        }

        return true;
    }

    private static void Rewrite(ReadOnlySpan<byte> data, in TunnelHeader header, ReadOnlySpan<ushort> nids)
    {
        var buffer = new byte[4 + data.Length];
        data.CopyTo(buffer.AsSpan(4));
        var datagram = buffer.AsSpan(4);

        Require(TunnelRewriter.SetNodes(datagram, header.HNode, header.DNode) == WireError.None, "SetNodes refused valid ids");
        Require(TunnelRewriter.SetStage(datagram, Hook.Forward, NetfilterTable.Filter) == WireError.None, "SetStage refused a valid stage");
        var ttl = TunnelRewriter.DecrementTtl(datagram);
        Require(ttl == (header.Ttl > 1 ? WireError.None : WireError.TtlZero), $"DecrementTtl at TTL {header.Ttl}: {ttl}");
        if (header.Type != TunnelType.Control)
        {
            // A SHORTCUT word keeps a packet a final EGRESS; SNODE's rule is checked first, as the reader does.
            var type = TunnelRewriter.SetType(datagram, TunnelType.Handoff, Handoff.Steer);
            var refused = header.SNode == 0 ? WireError.NodeIdZero : header.Shortcut.IsPresent ? WireError.BadShortcut : WireError.None;
            Require(type == refused, $"SetType STEER with SNODE {header.SNode}, X={header.Shortcut.IsPresent}: {type}");
        }

        var appended = TunnelRewriter.AppendNid(buffer, 4, 7, out var newStart);
        var expected = !header.Trr ? WireError.NidsWithoutTrace : nids.Length == TunnelLayout.MaxNids ? WireError.TooManyNids : WireError.None;
        Require(appended == expected, $"AppendNid with T={header.Trr}, NIDS={nids.Length}: {appended}");
        var result = buffer.AsSpan(newStart);
        Require(TunnelHeader.TryRead(result, out var after) == WireError.None, "a rewritten packet is no longer valid");
        Require(after.DNode == header.HNode && after.HNode == header.DNode && after.Hook == Hook.Forward, "rewritten fields not read back");
        Require(result[after.InnerOffset..].SequenceEqual(data[header.InnerOffset..]), "a rewrite moved or changed the frame");
        if (appended == WireError.None)
        {
            Require(after.NidCount == nids.Length + 1 && after.GetNid(result, nids.Length) == 7, "appended nid not read back");
        }
    }

    private static void Secure(ReadOnlySpan<byte> data, in TunnelHeader header)
    {
        var copy = data.ToArray();
        var opened = Opener.Open(copy, header, out _);
        Require(opened != SecureError.NotSecure && opened != SecureError.BadHeader, $"opener refused a valid secure header: {opened}");

        // Sealing then opening any valid secure datagram restores it (except that SEQ and K are the sealer's).
        copy = data.ToArray();
        var sealedResult = Sealer.Seal(copy, out _);
        if (sealedResult == SecureError.EncryptedControl)
        {
            Require(header.Type == TunnelType.Control, "EncryptedControl for a frame packet");
            return;
        }

        Require(sealedResult == SecureError.None, $"sealer refused a valid secure datagram: {sealedResult}");
        Require(TunnelHeader.TryRead(copy, out var sealedHeader) == WireError.None, "a sealed datagram is no longer valid");
        var roundTrip = RoundTripOpener.Open(copy, sealedHeader, out _);
        Require(roundTrip == SecureError.None, $"a datagram this node sealed did not open: {roundTrip}");
        Require(copy.AsSpan(header.PayloadOffset, header.PayloadLength).SequenceEqual(data.Slice(header.PayloadOffset, header.PayloadLength)),
            "open did not restore the payload");
    }

    /// <summary>Ethernet frame: parser, flow key and hash, every builder that answers a frame, every rewriter op.</summary>
    public static bool Packet(ReadOnlySpan<byte> data)
    {
        if (PacketParser.TryParse(data, out var info) != ParseError.None)
        {
            return false;
        }

        if (FlowKey.TryFrom(info, out var key, out _))
        {
            Span<byte> keyBytes = stackalloc byte[64];
            _ = key.TryCopyTo(keyBytes);
            _ = FlowHasher.Bucket(key, 0x0123456789abcdef, 4096);
        }

        var answer = new byte[2048];
        ReadOnlySpan<byte> mac = [0x02, 0, 0, 0, 0, 0x63];
        var source = new UInt128(0x20010db800000000, 1);
        CheckBuilt(answer, PacketBuilder.ArpReply(answer, data, info, mac), "ArpReply");
        CheckBuilt(answer, PacketBuilder.Icmpv4EchoReply(answer, data, info), "Icmpv4EchoReply");
        CheckBuilt(answer, PacketBuilder.Icmpv6EchoReply(answer, data, info), "Icmpv6EchoReply");
        CheckBuilt(answer, PacketBuilder.Icmpv4DestinationUnreachable(answer, data, info, 4, 1400, 0xc0000201), "Icmpv4DestinationUnreachable");
        CheckBuilt(answer, PacketBuilder.Icmpv4TimeExceeded(answer, data, info, 0xc0000201), "Icmpv4TimeExceeded");
        CheckBuilt(answer, PacketBuilder.Icmpv6PacketTooBig(answer, data, info, 1280, source), "Icmpv6PacketTooBig");
        CheckBuilt(answer, PacketBuilder.Icmpv6TimeExceeded(answer, data, info, source), "Icmpv6TimeExceeded");
        CheckBuilt(answer, PacketBuilder.TcpRst(answer, data, info), "TcpRst");

        var frame = data.ToArray();
        _ = PacketRewriter.SetSourceAddress(frame, info, info.Destination);
        _ = PacketRewriter.SetDestinationAddress(frame, info, info.Source);
        _ = PacketRewriter.SetSourcePort(frame, info, 4242);
        _ = PacketRewriter.SetDestinationPort(frame, info, 80);
        _ = PacketRewriter.SetIcmpEchoId(frame, info, 0x4242);
        _ = PacketRewriter.ClampMss(frame, info, 1200, out _);
        _ = PacketRewriter.DecrementHopLimit(frame, info);
        var reparsed = PacketParser.TryParse(frame, out _);
        Require(reparsed == ParseError.None, $"a rewritten frame no longer parses: {reparsed}");
        return true;
    }

    private static void CheckBuilt(ReadOnlySpan<byte> answer, int length, string builder)
    {
        Require(length >= 0 && length <= answer.Length, $"{builder} returned length {length}");
        if (length > 0)
        {
            var error = PacketParser.TryParse(answer[..length], out _);
            Require(error == ParseError.None, $"{builder} built a frame the parser rejects: {error}");
        }
    }

    /// <summary>Table blob: decode as given, then again with the CRC fixed so mutations reach the validators; re-encode what decodes.</summary>
    public static bool Table(ReadOnlySpan<byte> data)
    {
        var accepted = Decode(data);
        if (data.Length >= 4)
        {
            var fixedCrc = data.ToArray();
            BinaryPrimitives.WriteUInt32BigEndian(fixedCrc.AsSpan(fixedCrc.Length - 4), Crc32.HashToUInt32(fixedCrc.AsSpan(0, fixedCrc.Length - 4)));
            accepted |= Decode(fixedCrc);
        }

        return accepted;
    }

    private static bool Decode(ReadOnlySpan<byte> data)
    {
        if (TableCodec.TryDecode(data, out var table) != TableCodecError.None)
        {
            return false;
        }

        Require(table is not null, "TryDecode accepted without a table");
        var encoded = TableCodec.Encode(table!);
        Require(TableCodec.TryDecode(encoded, out var again) == TableCodecError.None, "a decoded table does not survive re-encoding");
        Require(again!.Version == table!.Version && again.Owners.SequenceEqual(table.Owners), "re-encoding changed the table");
        return true;
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }

    private static TunnelKeyRing NewRing()
    {
        var ring = new TunnelKeyRing();
        ring.Install(0, new TunnelKey(1, AeadAlgorithm.Aes256Gcm, Enumerable.Range(0, TunnelKey.Length).Select(i => (byte)i).ToArray()));
        ring.UseForSending(0);
        return ring;
    }
}
