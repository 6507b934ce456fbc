using Dva.Manager.Rollout;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// The manager's own stalls: a watch that ticks over a second later than due marks one, a unit's silence then counts
/// from its end, and while the watch is overdue no unit is judged, so heartbeats and acks still unread after a pause
/// do not get live units declared failed.
/// </summary>
public class ManagerStallClockTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 15, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Tick = ManagerStallClock.TickInterval;

    [Fact]
    public void Tick_WithinTheSlack_NoStall_SilenceCountsFromTheLastHeartbeat()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));
        clock.Start(T0);

        Assert.Null(clock.Tick(T0 + Tick + TimeSpan.FromSeconds(0.9)));

        Assert.Equal(T0.AddSeconds(-2), clock.SilentSince(T0.AddSeconds(-2)));
        Assert.Equal(DateTimeOffset.MinValue, clock.LastStallEnd);
    }

    [Fact]
    public void Tick_SeveralSecondsLate_AStall_SilenceOfEveryUnitCountsFromItsEnd()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));
        clock.Start(T0);

        var late = clock.Tick(T0 + Tick + TimeSpan.FromSeconds(3));

        Assert.Equal(TimeSpan.FromSeconds(3), late);
        var end = T0 + Tick + TimeSpan.FromSeconds(3);
        Assert.Equal(end, clock.LastStallEnd);
        // Heard 2.5 s before the stall ended: silent only from its end, so a 3 s failure timeout has not run out.
        Assert.Equal(end, clock.SilentSince(end.AddSeconds(-2.5)));
        // Heard after it: from that heartbeat, as always.
        Assert.Equal(end.AddSeconds(1), clock.SilentSince(end.AddSeconds(1)));
    }

    [Fact]
    public void Tick_EachDueOneIntervalAfterTheLast_OnTimeTicksNeverAddUpToAStall()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));
        clock.Start(T0);

        // Forty ticks each 0.2 s late: 8 s of lateness in all, but never more than the slack after the one before.
        var at = T0;
        for (var i = 0; i < 40; i++)
        {
            at += Tick + TimeSpan.FromSeconds(0.2);
            Assert.Null(clock.Tick(at));
        }

        Assert.Equal(DateTimeOffset.MinValue, clock.LastStallEnd);
    }

    [Fact]
    public void Stalling_WhileTheTickIsOverdue_ThenNotOnceTheLateTickRan()
    {
        var clock = new ManagerStallClock(TimeSpan.FromSeconds(1));
        Assert.False(clock.Stalling(T0.AddHours(1)));

        clock.Start(T0);
        Assert.False(clock.Stalling(T0 + Tick + TimeSpan.FromSeconds(0.9)));

        // A reconcile pass paused for 4 s resumes before the watch's late tick has run: it must not judge anyone.
        var resumed = T0 + Tick + TimeSpan.FromSeconds(4);
        Assert.True(clock.Stalling(resumed));

        Assert.NotNull(clock.Tick(resumed.AddMilliseconds(10)));
        Assert.False(clock.Stalling(resumed.AddMilliseconds(20)));
        Assert.Equal(resumed.AddMilliseconds(10), clock.SilentSince(resumed.AddSeconds(-3)));
    }
}
