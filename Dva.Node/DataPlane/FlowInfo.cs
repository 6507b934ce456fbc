namespace Dva.Node.DataPlane;

/// <summary>
/// One flow as the control API shows it. <see cref="Source"/> is the endpoint that sent the flow's first packet;
/// "original" counters count packets from it, "reply" counters the other way.
/// </summary>
internal sealed record FlowInfo(
    string Protocol,
    string Source,
    string Destination,
    int Bucket,
    string State,
    long PacketsOriginal,
    long BytesOriginal,
    long PacketsReply,
    long BytesReply,
    DateTimeOffset Created,
    DateTimeOffset LastSeen,
    bool Closed,
    ushort NodeId,
    int Engine = 0);

/// <summary>Live flows per bucket on one data plane, for history pruning ("A reports no live flow in b", DESIGN.md §4).</summary>
/// <param name="Counts">Index = bucket; length = the bucket count of the current table.</param>
internal sealed record BucketFlowCounts(ushort NodeId, ulong TableVersion, int[] Counts)
{
    public int BucketCount => Counts.Length;

    /// <summary>Buckets with no live flow on this node.</summary>
    public IEnumerable<int> EmptyBuckets => Enumerable.Range(0, Counts.Length).Where(b => Counts[b] == 0);
}
