namespace Dva.Manager.Rollout;

/// <summary>
/// Notices when the manager itself stopped running for a while (a long GC pause, a starved host, a stalled disk): its
/// reconcile loop woke much later than it asked to. Heartbeats that came meanwhile still wait unread in the units'
/// connections, so after such a stall every unit looks silent, and the failure check would declare live units
/// failed, all at once, and take them out of their DVAs. After a stall a unit's silence counts from the stall's end
/// (<see cref="SilentSince"/>), so it has the whole failure timeout to be heard again.
/// </summary>
/// <param name="slack">How much later than asked the loop may wake before that counts as a stall.</param>
internal sealed class ManagerStallClock(TimeSpan slack)
{
    private DateTimeOffset? _wakeBy;

    /// <summary>When the last stall noticed ended (<see cref="DateTimeOffset.MinValue"/>: none yet).</summary>
    public DateTimeOffset LastStallEnd { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>The loop goes to sleep at <paramref name="now"/> for at most <paramref name="interval"/>.</summary>
    public void Sleeping(DateTimeOffset now, TimeSpan interval) => _wakeBy = now + interval;

    /// <summary>The loop woke at <paramref name="now"/>; how late it was, when later than the slack (a stall), else null.</summary>
    public TimeSpan? Woke(DateTimeOffset now)
    {
        var late = _wakeBy is { } wakeBy ? now - wakeBy : TimeSpan.Zero;
        _wakeBy = null;
        if (late <= slack)
        {
            return null;
        }

        LastStallEnd = now;
        return late;
    }

    /// <summary>Since when a unit last heard at <paramref name="lastSeen"/> counts as silent.</summary>
    public DateTimeOffset SilentSince(DateTimeOffset lastSeen) => lastSeen > LastStallEnd ? lastSeen : LastStallEnd;
}
