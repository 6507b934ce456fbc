namespace Dva.Manager.Rollout;

/// <summary>
/// Notices when the manager itself stopped running for a while (a long GC pause, a starved host, a stalled thread
/// pool): a watch that ticks every <see cref="TickInterval"/> on a timer ticked much later than due. Heartbeats that
/// came meanwhile still wait unread in the units' connections, so after such a stall every unit looks silent, and the
/// failure check would declare live units failed, all at once, and take them out of their DVAs.
/// <list type="bullet">
/// <item>After a stall a unit's silence counts from the stall's end (<see cref="SilentSince"/>), so it has the whole
/// failure timeout to be heard again.</item>
/// <item>While the watch is overdue (<see cref="Stalling"/>) no unit is judged at all: a reconcile pass that was itself
/// paused between reading the sessions and judging them resumes before the watch's late tick has run, and must not
/// take that pause for the units' silence.</item>
/// </list>
/// </summary>
/// <param name="slack">How much later than due the watch may tick before that counts as a stall.</param>
internal sealed class ManagerStallClock(TimeSpan slack)
{
    /// <summary>How often the watch ticks.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private DateTimeOffset? _due;
    private DateTimeOffset _lastStallEnd = DateTimeOffset.MinValue;

    /// <summary>When the last stall noticed ended (<see cref="DateTimeOffset.MinValue"/>: none yet).</summary>
    public DateTimeOffset LastStallEnd
    {
        get
        {
            lock (_lock)
            {
                return _lastStallEnd;
            }
        }
    }

    /// <summary>The watch starts at <paramref name="now"/>: its first tick is due one interval later.</summary>
    public void Start(DateTimeOffset now)
    {
        lock (_lock)
        {
            _due = now + TickInterval;
        }
    }

    /// <summary>The watch ticked at <paramref name="now"/>; how late it was, when later than the slack (a stall), else null.</summary>
    public TimeSpan? Tick(DateTimeOffset now)
    {
        lock (_lock)
        {
            var late = _due is { } due ? now - due : TimeSpan.Zero;
            _due = now + TickInterval;
            if (late <= slack)
            {
                return null;
            }

            _lastStallEnd = now;
            return late;
        }
    }

    /// <summary>True when the watch's tick is overdue by more than the slack at <paramref name="now"/>: the manager is
    /// in a stall, or has just come out of one whose tick has not run yet. False before <see cref="Start"/>.</summary>
    public bool Stalling(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _due is { } due && now - due > slack;
        }
    }

    /// <summary>Since when a unit last heard at <paramref name="lastSeen"/> counts as silent.</summary>
    public DateTimeOffset SilentSince(DateTimeOffset lastSeen)
    {
        var end = LastStallEnd;
        return lastSeen > end ? lastSeen : end;
    }
}
