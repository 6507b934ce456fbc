using System.Buffers.Binary;
using System.IO.Hashing;
using Dva.Shared.Tables;
using Xunit.Abstractions;
using static Dva.Shared.Tests.Tables.TableFixtures;

namespace Dva.Shared.Tests.Tables;

public class TableCodecTests(ITestOutputHelper output)
{
    // Offsets from the diagram in TableCodec, restated so a silent layout change fails here.
    private const int FormatOffset = 4;
    private const int ReservedOffset = 5;
    private const int PeerCountOffset = 6;
    private const int BucketCountOffset = 12;
    private const int HeaderLength = 52;

    [Fact]
    public void TryDecode_RandomTables_RoundTripEveryField()
    {
        for (int seed = 1; seed <= 60; seed++)
        {
            var random = new Random(seed);
            TableVersion table = RandomTable(random, 256 << random.Next(0, 9), 64);
            byte[] encoded = TableCodec.Encode(table);

            Assert.Equal(TableCodecError.None, TableCodec.TryDecode(encoded, out TableVersion? decoded));

            AssertSameTable(table, decoded!);
            Assert.Equal(encoded, TableCodec.Encode(decoded!));
        }
    }

    [Fact]
    public void Encode_Header_IsLaidOutAsDocumented()
    {
        var dvaId = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        TableVersion table = TableVersion.CreateFirst(dvaId, 0x0102030405060708, 256, [DataPlane(1), Dispatcher(2)], "ab", 7);

        byte[] encoded = TableCodec.Encode(table);

        Assert.Equal("DVAT"u8.ToArray(), encoded[..4]);
        Assert.Equal(1, encoded[FormatOffset]);
        Assert.Equal(0, encoded[ReservedOffset]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(encoded.AsSpan(PeerCountOffset)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(encoded.AsSpan(8)));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(encoded.AsSpan(10)));
        Assert.Equal(256u, BinaryPrimitives.ReadUInt32BigEndian(encoded.AsSpan(BucketCountOffset)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(encoded.AsSpan(16)));
        Assert.Equal(Convert.FromHexString("00112233445566778899AABBCCDDEEFF"), encoded[20..36]);
        Assert.Equal(7UL, BinaryPrimitives.ReadUInt64BigEndian(encoded.AsSpan(36)));
        Assert.Equal(0x0102030405060708UL, BinaryPrimitives.ReadUInt64BigEndian(encoded.AsSpan(44)));
        // Peer 1: data plane, IPv4 198.51.100.1:6090, weight 10.
        Assert.Equal(Convert.FromHexString("00010204" + "0000000A" + "17CA" + "C6336401"), encoded[HeaderLength..(HeaderLength + 14)]);
        // Peer 2: dispatcher, IPv6 2001:db8::2, weight 0.
        Assert.Equal(Convert.FromHexString("00020106" + "00000000" + "17CA" + "20010DB8000000000000000000000002"), encoded[(HeaderLength + 14)..(HeaderLength + 40)]);
        Assert.Equal(TableCodec.GetEncodedLength(table), encoded.Length);
        Assert.Equal(Crc32.HashToUInt32(encoded.AsSpan(..^4)), BinaryPrimitives.ReadUInt32BigEndian(encoded.AsSpan(^4)));
    }

    [Fact]
    public void TryDecode_EveryTruncation_RejectedWithAReason()
    {
        byte[] encoded = TableCodec.Encode(RandomTable(new Random(7), 256, 6));

        for (int length = 0; length < encoded.Length; length++)
        {
            TableCodecError error = TableCodec.TryDecode(encoded.AsSpan(0, length), out TableVersion? table);
            Assert.True(error != TableCodecError.None, $"accepted a table cut to {length} of {encoded.Length} bytes");
            Assert.Null(table);
        }
    }

    [Fact]
    public void TryDecode_AnyByteFlipped_RejectedWithAReason()
    {
        byte[] encoded = TableCodec.Encode(RandomTable(new Random(11), 256, 6));

        foreach (byte mask in (byte[])[0x01, 0x80, 0xFF])
        {
            for (int i = 0; i < encoded.Length; i++)
            {
                byte[] corrupt = (byte[])encoded.Clone();
                corrupt[i] ^= mask;
                Assert.True(TableCodec.TryDecode(corrupt, out _) != TableCodecError.None, $"accepted byte {i} xor {mask:X2}");
            }
        }
    }

    [Fact]
    public void TryDecode_TrailingBytesOrBadChecksum_NamedReasons()
    {
        byte[] encoded = TableCodec.Encode(RandomTable(new Random(3), 256, 4));

        Assert.Equal(TableCodecError.TrailingBytes, TableCodec.TryDecode([.. encoded, 0], out _));
        encoded[^1] ^= 1;
        Assert.Equal(TableCodecError.ChecksumMismatch, TableCodec.TryDecode(encoded, out _));
    }

    [Fact]
    public void TryDecode_ChecksumValidButContentInvalid_NamedReasons()
    {
        TableVersion table = TableVersion.CreateFirst(Guid.NewGuid(), 1, 256, [DataPlane(1), DataPlane(2), Dispatcher(3)], "x");
        table = table.Next([DataPlane(1), DataPlane(2), Dispatcher(3), DataPlane(4)], T0, "4 joined", out int _);
        byte[] encoded = TableCodec.Encode(table);
        // Peers: 1 and 2 (IPv4, 14 bytes), 3 (IPv6, 26 bytes), 4 (IPv4); chain of 3; then owners.
        int peer1 = HeaderLength;
        int chain = HeaderLength + 14 + 14 + 26 + 14;
        int owners = chain + 6;
        int history = owners + 512;
        int firstHistoryBucket = BinaryPrimitives.ReadUInt16BigEndian(encoded.AsSpan(history));

        Assert.Equal(TableCodecError.BadMagic, Decode(encoded, b => b[0] = (byte)'X'));
        Assert.Equal(TableCodecError.UnsupportedFormatVersion, Decode(encoded, b => b[FormatOffset] = 2));
        Assert.Equal(TableCodecError.ReservedNotZero, Decode(encoded, b => b[ReservedOffset] = 1));
        Assert.Equal(TableCodecError.BadBucketCount, Decode(encoded, b => BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(BucketCountOffset), 300)));
        Assert.Equal(TableCodecError.BadBucketCount, Decode(encoded, b => BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(BucketCountOffset), 128)));
        Assert.Equal(TableCodecError.BadNodeId, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(peer1), 4095)));
        Assert.Equal(TableCodecError.BadPeerRole, Decode(encoded, b => b[peer1 + 2] = 9));
        Assert.Equal(TableCodecError.BadPeerEndpoint, Decode(encoded, b => b[peer1 + 3] = 5));
        Assert.Equal(TableCodecError.BadPeerWeight, Decode(encoded, b => b[peer1 + 4] = 0x80));
        Assert.Equal(TableCodecError.DuplicatePeer, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(peer1 + 14), 1)));
        Assert.Equal(TableCodecError.ChainNodeNotDataPlane, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(chain), 3)));
        Assert.Equal(TableCodecError.DuplicateChainNode, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(chain), 2)));
        Assert.Equal(TableCodecError.OwnerNotDataPlane, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(owners), 3)));
        Assert.Equal(TableCodecError.OwnerNotDataPlane, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(owners), 0)));
        Assert.Equal(TableCodecError.BadHistoryDepth, Decode(encoded, b => b[history + 2] = 5));
        Assert.Equal(TableCodecError.BadHistoryDepth, Decode(encoded, b => b[history + 2] = 0));
        Assert.Equal(TableCodecError.HistoryBucketOutOfRange, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(history), 256)));
        Assert.Equal(TableCodecError.HistoryNodeNotDataPlane, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(history + 3), 3)));
        Assert.Equal(TableCodecError.BadMoveTime, Decode(encoded, b => BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(history + 5), -1)));
        Assert.Equal(TableCodecError.OwnerInOwnHistory, Decode(encoded, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(owners + (2 * firstHistoryBucket)), BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(history + 3)))));
        Assert.Equal(TableCodecError.CauseNotUtf8, Decode(encoded, b => b[^5] = 0xFF));
    }

    [Fact]
    public void TryDecode_RandomMutationsWithValidChecksum_NeverThrowsAndAcceptsOnlyCanonicalTables()
    {
        var random = new Random(5);
        byte[] encoded = TableCodec.Encode(RandomTable(random, 512, 8));
        var reasons = new HashSet<TableCodecError>();
        for (int i = 0; i < 3000; i++)
        {
            byte[] corrupt = (byte[])encoded.Clone();
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                corrupt[random.Next(corrupt.Length - 4)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                corrupt = corrupt[..random.Next(corrupt.Length)];
            }

            FixChecksum(corrupt);
            TableCodecError error = TableCodec.TryDecode(corrupt, out TableVersion? table);
            reasons.Add(error);
            if (error == TableCodecError.None)
            {
                Assert.Equal(corrupt, TableCodec.Encode(table!));
            }
        }

        Assert.True(reasons.Count > 8, $"mutations reached only {string.Join(", ", reasons)}");
    }

    [Fact]
    public void Encode_65536Buckets_ReportsSize()
    {
        var peers = Enumerable.Range(1, 64).Select(i => DataPlane((ushort)i)).Concat([Dispatcher(100), Dispatcher(101)]).ToList();
        TableVersion table = TableVersion.CreateFirst(Guid.NewGuid(), 9, 65536, peers, "first");
        table = table.Next([.. peers, DataPlane(65)], T0, "65 joined", out int moved);

        byte[] encoded = TableCodec.Encode(table);

        int runs = 1;
        for (int b = 1; b < table.BucketCount; b++)
        {
            runs += table.Owners[b] != table.Owners[b - 1] ? 1 : 0;
        }

        output.WriteLine($"65536 buckets, 65 data planes, {moved} moved: {encoded.Length} bytes encoded; owners {table.BucketCount * 2} raw, {runs} runs (≥ {runs * 4} bytes run-length coded)");
        Assert.Equal(TableCodecError.None, TableCodec.TryDecode(encoded, out _));
        // Owners are 128 KiB raw; the rest (peers, a thousand history entries) stays small.
        Assert.InRange(encoded.Length, 131072, 131072 + 20000);
    }

    private static TableCodecError Decode(byte[] encoded, Action<byte[]> mutate)
    {
        byte[] copy = (byte[])encoded.Clone();
        mutate(copy);
        FixChecksum(copy);
        return TableCodec.TryDecode(copy, out _);
    }

    private static void FixChecksum(byte[] data)
    {
        if (data.Length >= 4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(^4), Crc32.HashToUInt32(data.AsSpan(..^4)));
        }
    }

    private static void AssertSameTable(TableVersion expected, TableVersion actual)
    {
        Assert.Equal(expected.DvaId, actual.DvaId);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.Era, actual.Era);
        Assert.Equal(expected.Seed, actual.Seed);
        Assert.Equal(expected.Owners.ToArray(), actual.Owners.ToArray());
        Assert.Equal(expected.Chain.ToArray(), actual.Chain.ToArray());
        Assert.Equal(expected.PeersById.ToArray(), actual.PeersById.ToArray());
        Assert.Equal(expected.Cause, actual.Cause);
        Assert.Equal(expected.History.Entries, actual.History.Entries);
        Assert.True(expected.History.ContentEquals(actual.History));
    }
}
