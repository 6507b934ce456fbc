using System.IO.Hashing;

namespace Dva.Shared.Flows;

/// <summary>
/// Bucket selection (DESIGN.md §3): XxHash3 over the canonical <see cref="FlowKey"/> bytes, seeded
/// with the DVA's secret 64-bit seed so outsiders cannot aim flows at one bucket; bucket = hash &amp; (M − 1).
/// </summary>
public static class FlowHasher
{
    public static ulong Hash(in FlowKey key, ulong seed) => XxHash3.HashToUInt64(key.Bytes, unchecked((long)seed));

    /// <summary>The bucket of a hash; <paramref name="bucketCount"/> must be a power of two.</summary>
    public static int Bucket(ulong hash, int bucketCount) => (int)(hash & (ulong)(bucketCount - 1));

    public static int Bucket(in FlowKey key, ulong seed, int bucketCount) => Bucket(Hash(key, seed), bucketCount);

    public static bool IsValidBucketCount(int bucketCount) => bucketCount > 0 && (bucketCount & (bucketCount - 1)) == 0;
}
