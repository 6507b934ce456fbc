using Dva.Manager.Rollout;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// The manager's own stalls: a reconcile loop that wakes over a second late marks one, and a unit's silence then
/// counts from its end, so heartbeats still unread after a pause do not get live units declared failed.
/// </summary>
public class ManagerStallClockTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 15, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Woke_WithinTheSlack_NoStall_SilenceCountsFromTheLastHeartbeat()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));

        clock.Sleeping(T0, TimeSpan.FromSeconds(1));

        Assert.Null(clock.Woke(T0.AddSeconds(1.9)));
        Assert.Equal(T0.AddSeconds(-2), clock.SilentSince(T0.AddSeconds(-2)));
        Assert.Equal(DateTimeOffset.MinValue, clock.LastStallEnd);
    }

    [Fact]
    public void Woke_SeveralSecondsLate_AStall_SilenceOfEveryUnitCountsFromItsEnd()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));
        clock.Sleeping(T0, TimeSpan.FromSeconds(1));

        var late = clock.Woke(T0.AddSeconds(4));

        Assert.Equal(TimeSpan.FromSeconds(3), late);
        // Heard 2.5 s before the stall ended: silent only from its end, so a 3 s failure timeout has not run out.
        Assert.Equal(T0.AddSeconds(4), clock.SilentSince(T0.AddSeconds(1.5)));
        // Heard after it: from that heartbeat, as always.
        Assert.Equal(T0.AddSeconds(5), clock.SilentSince(T0.AddSeconds(5)));
    }

    [Fact]
    public void Woke_WithoutSleeping_OrTwice_NotAStall()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));

        Assert.Null(clock.Woke(T0));
        clock.Sleeping(T0, TimeSpan.FromSeconds(1));
        Assert.Null(clock.Woke(T0.AddSeconds(1)));
        Assert.Null(clock.Woke(T0.AddSeconds(60)));
    }
}
