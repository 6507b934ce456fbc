namespace Dva.Node.Routing;

/// <summary>
/// A token bucket for the ICMP errors a role sends (RFC 1812 §4.3.2.8: a router must be able to limit them): a flood
/// of packets that each earn an error (too big, TTL exceeded, rejected) must not become a flood of errors. One per
/// role instance, so per engine thread, without locking. The defaults are Linux's (<c>net.ipv4.icmp_msgs_per_sec</c>
/// 1 000, <c>icmp_msgs_burst</c> 50). An error over the limit is not sent and is counted by the caller
/// (<c>DropReason.IcmpRateLimited</c>); the packet that earned it is dropped as it would have been.
/// </summary>
internal sealed class IcmpRateLimiter
{
    public const int DefaultPerSecond = 1000;
    public const int DefaultBurst = 50;

    private readonly TimeProvider _time;
    private readonly double _perTick;
    private readonly double _burst;
    private double _tokens;
    private long _last;

    public IcmpRateLimiter(TimeProvider time, int perSecond = DefaultPerSecond, int burst = DefaultBurst)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _time = time;
        _perTick = (double)perSecond / time.TimestampFrequency;
        _burst = burst;
        _tokens = burst;
        _last = time.GetTimestamp();
    }

    /// <summary>True when one more error may go now (and takes its token).</summary>
    public bool TryTake()
    {
        var now = _time.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + ((now - _last) * _perTick));
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
