using System.Buffers.Binary;
using System.IO.Hashing;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace Dva.Shared.Tables;

/// <summary>
/// Binary form of a <see cref="TableVersion"/> sent to node agents. All integers big-endian.
/// </summary>
/// <remarks>
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +---------------------------------------------------------------+
/// |                        MAGIC "DVAT"                           |  0
/// +---------------+---------------+-------------------------------+
/// |  FORMAT = 1   | RESERVED = 0  |          PEER COUNT           |  4
/// +---------------+---------------+-------------------------------+
/// |          CHAIN COUNT          |     CAUSE LENGTH (bytes)      |  8
/// +-------------------------------+-------------------------------+
/// |                        BUCKET COUNT M                         | 12
/// +---------------------------------------------------------------+
/// |              HISTORY COUNT H (buckets with history)           | 16
/// +---------------------------------------------------------------+
/// |                  DVA ID (16 bytes, RFC 4122 order)            | 20
/// +---------------------------------------------------------------+
/// |                        VERSION (64)                           | 36
/// +---------------------------------------------------------------+
/// |                          SEED (64)                            | 44
/// +---------------------------------------------------------------+  52
/// PEER COUNT × peer: NODE ID (16) | ROLE (8) | FAMILY (8: 4 or 6) | WEIGHT (32) | PORT (16) | ADDRESS (4 or 16 bytes)
/// CHAIN COUNT × NODE ID (16)
/// M × OWNER NODE ID (16)
/// H × history: BUCKET (16) | DEPTH (8: 1..4) | DEPTH × (NODE ID (16) | MOVED AT, UTC ticks (64))
/// CAUSE (UTF-8)
/// CRC-32 (32) of every byte before it
/// </code>
/// Owners are raw: the assignment interleaves nodes, so runs average about one bucket and run-length
/// coding would double the size (measured in TableCodecTests.Encode_65536Buckets_ReportsSize).
/// </remarks>
public static class TableCodec
{
    public const uint Magic = 0x44564154; // "DVAT"
    public const byte FormatVersion = 1;

    private const int MagicOffset = 0;
    private const int FormatOffset = 4;
    private const int ReservedOffset = 5;
    private const int PeerCountOffset = 6;
    private const int ChainCountOffset = 8;
    private const int CauseLengthOffset = 10;
    private const int BucketCountOffset = 12;
    private const int HistoryCountOffset = 16;
    private const int DvaIdOffset = 20;
    private const int VersionOffset = 36;
    private const int SeedOffset = 44;
    private const int HeaderLength = 52;
    private const int PeerFixedLength = 10;
    private const int HistoryFixedLength = 3;
    private const int HistorySlotLength = 10;
    private const int ChecksumLength = 4;

    /// <summary>Exact encoded size of <paramref name="table"/>.</summary>
    public static int GetEncodedLength(TableVersion table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int length = HeaderLength + (table.Chain.Length * 2) + (table.BucketCount * 2) + Encoding.UTF8.GetByteCount(table.Cause) + ChecksumLength;
        foreach (PeerInfo peer in table.PeersById)
        {
            length += PeerFixedLength + AddressLength(peer.Endpoint.AddressFamily);
        }

        length += table.History.BucketsWithHistory * HistoryFixedLength;
        return length + (table.History.EntryCount * HistorySlotLength);
    }

    public static byte[] Encode(TableVersion table)
    {
        var buffer = new byte[GetEncodedLength(table)];
        Encode(table, buffer);
        return buffer;
    }

    /// <summary>Writes <paramref name="table"/>; returns the bytes written.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="GetEncodedLength"/>.</exception>
    public static int Encode(TableVersion table, Span<byte> destination)
    {
        int length = GetEncodedLength(table);
        if (destination.Length < length)
        {
            throw new ArgumentException($"Need {length} bytes, have {destination.Length}.", nameof(destination));
        }

        Span<byte> d = destination[..length];
        BinaryPrimitives.WriteUInt32BigEndian(d[MagicOffset..], Magic);
        d[FormatOffset] = FormatVersion;
        d[ReservedOffset] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(d[PeerCountOffset..], (ushort)table.PeersById.Length);
        BinaryPrimitives.WriteUInt16BigEndian(d[ChainCountOffset..], (ushort)table.Chain.Length);
        BinaryPrimitives.WriteUInt32BigEndian(d[BucketCountOffset..], (uint)table.BucketCount);
        BinaryPrimitives.WriteUInt32BigEndian(d[HistoryCountOffset..], (uint)table.History.BucketsWithHistory);
        table.DvaId.TryWriteBytes(d.Slice(DvaIdOffset, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt64BigEndian(d[VersionOffset..], table.Version);
        BinaryPrimitives.WriteUInt64BigEndian(d[SeedOffset..], table.Seed);

        int o = HeaderLength;
        foreach (PeerInfo peer in table.PeersById)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[o..], peer.NodeId);
            d[o + 2] = (byte)peer.Role;
            bool v4 = peer.Endpoint.AddressFamily == AddressFamily.InterNetwork;
            d[o + 3] = v4 ? (byte)4 : (byte)6;
            BinaryPrimitives.WriteUInt32BigEndian(d[(o + 4)..], (uint)peer.Weight);
            BinaryPrimitives.WriteUInt16BigEndian(d[(o + 8)..], (ushort)peer.Endpoint.Port);
            peer.Endpoint.Address.TryWriteBytes(d[(o + PeerFixedLength)..], out int written);
            o += PeerFixedLength + written;
        }

        foreach (ushort node in table.Chain)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[o..], node);
            o += 2;
        }

        WriteUInt16s(table.Owners, d.Slice(o, table.BucketCount * 2));
        o += table.BucketCount * 2;

        o = WriteHistory(table.History, d, o);
        int causeLength = Encoding.UTF8.GetBytes(table.Cause, d[o..]);
        BinaryPrimitives.WriteUInt16BigEndian(d[CauseLengthOffset..], (ushort)causeLength);
        o += causeLength;
        BinaryPrimitives.WriteUInt32BigEndian(d[o..], Crc32.HashToUInt32(d[..o]));
        return o + ChecksumLength;
    }

    /// <summary>Reads and fully validates a table. Never throws on bad input.</summary>
    /// <returns><see cref="TableCodecError.None"/> and the table, or the first reason the data is not a valid table.</returns>
    public static TableCodecError TryDecode(ReadOnlySpan<byte> data, out TableVersion? table)
    {
        table = null;
        if (data.Length < HeaderLength + ChecksumLength)
        {
            return TableCodecError.Truncated;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(data[MagicOffset..]) != Magic)
        {
            return TableCodecError.BadMagic;
        }

        if (data[FormatOffset] != FormatVersion)
        {
            return TableCodecError.UnsupportedFormatVersion;
        }

        if (data[ReservedOffset] != 0)
        {
            return TableCodecError.ReservedNotZero;
        }

        int peerCount = BinaryPrimitives.ReadUInt16BigEndian(data[PeerCountOffset..]);
        int chainCount = BinaryPrimitives.ReadUInt16BigEndian(data[ChainCountOffset..]);
        int causeLength = BinaryPrimitives.ReadUInt16BigEndian(data[CauseLengthOffset..]);
        uint bucketCount = BinaryPrimitives.ReadUInt32BigEndian(data[BucketCountOffset..]);
        uint historyCount = BinaryPrimitives.ReadUInt32BigEndian(data[HistoryCountOffset..]);
        if (bucketCount > TableLimits.MaxBucketCount || !TableLimits.IsValidBucketCount((int)bucketCount))
        {
            return TableCodecError.BadBucketCount;
        }

        if (historyCount > bucketCount)
        {
            return TableCodecError.HistoryBucketOutOfRange;
        }

        if (causeLength > TableLimits.MaxCauseBytes)
        {
            return TableCodecError.CauseTooLong;
        }

        // Count limits come first so that nothing below allocates more than the format allows.
        if (peerCount > TableLimits.MaxNodeId)
        {
            return TableCodecError.TooManyPeers;
        }

        if (chainCount > peerCount)
        {
            return TableCodecError.ChainTooLong;
        }

        int o = HeaderLength;
        var peers = new PeerInfo[peerCount];
        for (int i = 0; i < peerCount; i++)
        {
            TableCodecError error = ReadPeer(data, ref o, out peers[i]!);
            if (error != TableCodecError.None)
            {
                return error;
            }

            if (i > 0 && peers[i - 1].NodeId >= peers[i].NodeId)
            {
                return TableCodecError.DuplicatePeer;
            }
        }

        if (data.Length - o < (chainCount + (int)bucketCount) * 2)
        {
            return TableCodecError.Truncated;
        }

        var chain = new ushort[chainCount];
        ReadUInt16s(data.Slice(o, chainCount * 2), chain);
        o += chainCount * 2;
        var owners = new ushort[bucketCount];
        ReadUInt16s(data.Slice(o, (int)bucketCount * 2), owners);
        o += (int)bucketCount * 2;

        TableCodecError historyError = ReadHistory(data, ref o, (int)bucketCount, (int)historyCount, out HistoryTable? history);
        if (historyError != TableCodecError.None)
        {
            return historyError;
        }

        if (data.Length - o < causeLength + ChecksumLength)
        {
            return TableCodecError.Truncated;
        }

        ReadOnlySpan<byte> causeBytes = data.Slice(o, causeLength);
        o += causeLength;
        if (data.Length - o > ChecksumLength)
        {
            return TableCodecError.TrailingBytes;
        }

        if (Crc32.HashToUInt32(data[..o]) != BinaryPrimitives.ReadUInt32BigEndian(data[o..]))
        {
            return TableCodecError.ChecksumMismatch;
        }

        if (!Utf8.IsValid(causeBytes))
        {
            return TableCodecError.CauseNotUtf8;
        }

        string cause = Encoding.UTF8.GetString(causeBytes);
        TableCodecError validation = TableValidator.Validate(owners, history!, chain, peers, cause);
        if (validation != TableCodecError.None)
        {
            return validation;
        }

        var dvaId = new Guid(data.Slice(DvaIdOffset, 16), bigEndian: true);
        ulong version = BinaryPrimitives.ReadUInt64BigEndian(data[VersionOffset..]);
        ulong seed = BinaryPrimitives.ReadUInt64BigEndian(data[SeedOffset..]);
        table = new TableVersion(dvaId, version, seed, owners, history!, chain, peers, cause);
        return TableCodecError.None;
    }

    private static int AddressLength(AddressFamily family) => family == AddressFamily.InterNetwork ? 4 : 16;

    private static int WriteHistory(HistoryTable history, Span<byte> d, int o)
    {
        ReadOnlySpan<int> buckets = history.Buckets;
        ReadOnlySpan<ushort> nodes = history.NodeSlots;
        ReadOnlySpan<long> movedAt = history.MovedAtSlots;
        for (int i = 0; i < buckets.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[o..], (ushort)buckets[i]);
            int depthOffset = o + 2;
            o += HistoryFixedLength;
            int depth = 0;
            for (int s = i * TableLimits.MaxHistoryDepth; depth < TableLimits.MaxHistoryDepth && nodes[s] != 0; s++, depth++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(d[o..], nodes[s]);
                BinaryPrimitives.WriteInt64BigEndian(d[(o + 2)..], movedAt[s]);
                o += HistorySlotLength;
            }

            d[depthOffset] = (byte)depth;
        }

        return o;
    }

    private static TableCodecError ReadPeer(ReadOnlySpan<byte> data, ref int o, out PeerInfo? peer)
    {
        peer = null;
        if (data.Length - o < PeerFixedLength)
        {
            return TableCodecError.Truncated;
        }

        ushort nodeId = BinaryPrimitives.ReadUInt16BigEndian(data[o..]);
        byte role = data[o + 2];
        byte family = data[o + 3];
        uint weight = BinaryPrimitives.ReadUInt32BigEndian(data[(o + 4)..]);
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(data[(o + 8)..]);
        if (family is not (4 or 6) || port == 0)
        {
            return TableCodecError.BadPeerEndpoint;
        }

        int addressLength = family == 4 ? 4 : 16;
        if (data.Length - o - PeerFixedLength < addressLength)
        {
            return TableCodecError.Truncated;
        }

        if (!TableLimits.IsValidNodeId(nodeId))
        {
            return TableCodecError.BadNodeId;
        }

        if (role is not ((byte)PeerRole.Dispatcher or (byte)PeerRole.DataPlane))
        {
            return TableCodecError.BadPeerRole;
        }

        if (weight > int.MaxValue)
        {
            return TableCodecError.BadPeerWeight;
        }

        var address = new IPAddress(data.Slice(o + PeerFixedLength, addressLength));
        peer = new PeerInfo(nodeId, (PeerRole)role, new IPEndPoint(address, port), (int)weight);
        o += PeerFixedLength + addressLength;
        return TableCodecError.None;
    }

    private static TableCodecError ReadHistory(ReadOnlySpan<byte> data, ref int o, int bucketCount, int historyCount, out HistoryTable? history)
    {
        history = null;
        if (data.Length - o < historyCount * HistoryFixedLength)
        {
            return TableCodecError.Truncated;
        }

        var buckets = new int[historyCount];
        var nodes = new ushort[historyCount * TableLimits.MaxHistoryDepth];
        var movedAt = new long[historyCount * TableLimits.MaxHistoryDepth];
        for (int i = 0; i < historyCount; i++)
        {
            if (data.Length - o < HistoryFixedLength)
            {
                return TableCodecError.Truncated;
            }

            int bucket = BinaryPrimitives.ReadUInt16BigEndian(data[o..]);
            int depth = data[o + 2];
            o += HistoryFixedLength;
            if (bucket >= bucketCount)
            {
                return TableCodecError.HistoryBucketOutOfRange;
            }

            if (i > 0 && buckets[i - 1] >= bucket)
            {
                return TableCodecError.HistoryBucketsNotAscending;
            }

            if (depth is 0 or > TableLimits.MaxHistoryDepth)
            {
                return TableCodecError.BadHistoryDepth;
            }

            if (data.Length - o < depth * HistorySlotLength)
            {
                return TableCodecError.Truncated;
            }

            buckets[i] = bucket;
            for (int s = i * TableLimits.MaxHistoryDepth, end = s + depth; s < end; s++)
            {
                nodes[s] = BinaryPrimitives.ReadUInt16BigEndian(data[o..]);
                movedAt[s] = BinaryPrimitives.ReadInt64BigEndian(data[(o + 2)..]);
                o += HistorySlotLength;
                if (!TableLimits.IsValidNodeId(nodes[s]))
                {
                    return TableCodecError.BadNodeId;
                }

                if ((ulong)movedAt[s] > (ulong)DateTimeOffset.MaxValue.UtcTicks)
                {
                    return TableCodecError.BadMoveTime;
                }
            }
        }

        history = new HistoryTable(bucketCount, buckets, nodes, movedAt);
        return TableCodecError.None;
    }

    // Owners are the bulk of a table: a vectorised byte swap instead of one read or write per bucket.
    private static void ReadUInt16s(ReadOnlySpan<byte> source, Span<ushort> destination) =>
        CopyBigEndian(MemoryMarshal.Cast<byte, ushort>(source), destination);

    private static void WriteUInt16s(ReadOnlySpan<ushort> source, Span<byte> destination) =>
        CopyBigEndian(source, MemoryMarshal.Cast<byte, ushort>(destination));

    /// <summary>Copies between host order and big-endian (the same swap both ways).</summary>
    private static void CopyBigEndian(ReadOnlySpan<ushort> source, Span<ushort> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(source, destination);
        }
        else
        {
            source.CopyTo(destination);
        }
    }
}
