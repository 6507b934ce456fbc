namespace Dva.Node.Services.LoadBalancer;

/// <summary>
/// Flow counters of a member or a VIP: live flows, flows ever assigned, and bytes of those flows (both directions).
/// One instance lives as long as the member or VIP stays configured, across compiled configurations, so a flow
/// created under one configuration is still subtracted correctly when it ends under the next.
/// </summary>
/// <remarks>
/// Interlocked rather than per-engine blocks: a member is shared by every engine that assigns to it, and least
/// connections must read the sum at once. The three counters live on one line; a member hot enough for that to
/// matter is one whose flows all cross the same engines anyway.
/// </remarks>
internal sealed class ActiveFlows
{
    private long _count;
    private long _total;
    private long _bytes;

    /// <summary>Flows assigned and not yet ended.</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>Flows ever assigned (connections).</summary>
    public long Total => Volatile.Read(ref _total);

    /// <summary>IP bytes of the flows, both directions.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    public void Increment()
    {
        Interlocked.Increment(ref _count);
        Interlocked.Increment(ref _total);
    }

    public void Decrement() => Interlocked.Decrement(ref _count);

    public void AddBytes(int bytes) => Interlocked.Add(ref _bytes, bytes);
}
