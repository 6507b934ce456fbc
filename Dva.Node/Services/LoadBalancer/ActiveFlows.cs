namespace Dva.Node.Services.LoadBalancer;

/// <summary>
/// A count of live flows (a member's or a VIP's). One instance lives as long as the member or VIP
/// stays configured, across compiled configurations, so a flow created under one configuration is
/// still subtracted correctly when it ends under the next.
/// </summary>
internal sealed class ActiveFlows
{
    private long _count;

    public long Count => Volatile.Read(ref _count);

    public void Increment() => Interlocked.Increment(ref _count);

    public void Decrement() => Interlocked.Decrement(ref _count);
}
