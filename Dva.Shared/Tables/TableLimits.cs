using System.Numerics;

namespace Dva.Shared.Tables;

/// <summary>Ranges every table, its builders and its codec agree on (DESIGN.md §1 and §4).</summary>
public static class TableLimits
{
    /// <summary>Lowest node id; 0 means "none" on the wire.</summary>
    public const ushort MinNodeId = 1;

    /// <summary>Highest node id: 12 bits, 4095 reserved.</summary>
    public const ushort MaxNodeId = 4094;

    public const int MinBucketCount = 256;
    public const int MaxBucketCount = 65536;
    public const int DefaultBucketCount = 4096;

    /// <summary>Most predecessors a bucket remembers.</summary>
    public const int MaxHistoryDepth = 4;

    /// <summary>Longest cause text, in UTF-8 bytes.</summary>
    public const int MaxCauseBytes = 1024;

    public static bool IsValidNodeId(int nodeId) => nodeId is >= MinNodeId and <= MaxNodeId;

    public static bool IsValidBucketCount(int bucketCount) =>
        bucketCount is >= MinBucketCount and <= MaxBucketCount && BitOperations.IsPow2(bucketCount);
}
