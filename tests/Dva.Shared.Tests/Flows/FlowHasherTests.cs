using System.IO.Hashing;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using static Dva.Shared.Tests.Packets.TestAddresses;

namespace Dva.Shared.Tests.Flows;

public class FlowHasherTests
{
    private const ulong Seed = 0x0123_4567_89AB_CDEF;

    private static FlowKey GoldenKey() =>
        FlowKey.FromTuple(Parse("198.51.100.2"), Parse("192.0.2.1"), 80, 50000, PacketConstants.ProtocolTcp);

    [Fact]
    public void Hash_GoldenKey_HasTheDocumentedLayoutAndAStableValue()
    {
        // The canonical layout written out by hand, as documented on FlowKey.
        byte[] canonical =
        [
            4, 6, 1, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 2,
            0xC3, 0x50, 0x00, 0x50,
        ];
        FlowKey key = GoldenKey();
        byte[] copied = new byte[FlowKey.Size];

        Assert.True(key.TryCopyTo(copied));
        Assert.Equal(canonical, copied);
        Assert.Equal(XxHash3.HashToUInt64(canonical, unchecked((long)Seed)), FlowHasher.Hash(key, Seed));
        Assert.Equal(GoldenHash, FlowHasher.Hash(key, Seed));
    }

    private const ulong GoldenHash = 0x1E08615AB2F8B765UL;

    [Fact]
    public void Bucket_MasksTheLowBits()
    {
        Assert.Equal(1023, FlowHasher.Bucket(ulong.MaxValue, 1024));
        Assert.Equal(0x2A, FlowHasher.Bucket(0xFFFF_0000_0000_002AUL, 64));
        Assert.True(FlowHasher.IsValidBucketCount(4096));
        Assert.False(FlowHasher.IsValidBucketCount(1000));
    }

    [Fact]
    public void Bucket_DifferentSeeds_SpreadTheSameKeysDifferently()
    {
        var random = new Random(3);
        int differing = 0;
        for (int i = 0; i < 200; i++)
        {
            FlowKey key = FlowKey.FromTuple(IpAddr.FromV4((uint)random.Next()), IpAddr.FromV4((uint)random.Next()),
                (ushort)random.Next(65536), (ushort)random.Next(65536), PacketConstants.ProtocolUdp);
            if (FlowHasher.Bucket(key, 1, 1024) != FlowHasher.Bucket(key, 2, 1024))
            {
                differing++;
            }
        }

        Assert.True(differing > 190, $"only {differing} of 200 keys moved");
    }

    [Fact]
    public void Bucket_ManyFlows_UseEveryBucket()
    {
        var random = new Random(5);
        int[] counts = new int[256];
        for (int i = 0; i < 25_600; i++)
        {
            FlowKey key = FlowKey.FromTuple(IpAddr.FromV4(0xC0000200 | (uint)random.Next(256)), IpAddr.FromV4(0xC6336402),
                (ushort)random.Next(1024, 65536), 443, PacketConstants.ProtocolTcp);
            counts[FlowHasher.Bucket(key, Seed, counts.Length)]++;
        }

        // 100 expected per bucket; a poor hash over these low-entropy keys would leave buckets empty or crowded.
        Assert.All(counts, count => Assert.InRange(count, 50, 160));
    }
}
