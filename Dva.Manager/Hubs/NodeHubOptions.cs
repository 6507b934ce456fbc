namespace Dva.Manager.Hubs;

/// <summary>Limits and timings of the node hub and the rollout (section <c>Dva:Hub</c>).</summary>
internal sealed class NodeHubOptions
{
    /// <summary>Registrations accepted per remote address and second; more are refused with a clear error.</summary>
    public int RegistrationsPerSecond { get; set; } = 5;

    /// <summary>Largest hub message a node may send. A heartbeat with every bucket of a 65536-bucket DVA fits.</summary>
    public long MaximumReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>How long a rollout phase waits for a unit's ack before declaring it failed.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A unit without a heartbeat for this long is declared failed and removed from its DVA's tables.</summary>
    public TimeSpan FailureTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>After a manager restart, how long units of existing tables have to reconnect before they are declared failed.</summary>
    public TimeSpan ReconnectGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the allocation loop compares each DVA with what it should be.</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>History entries removed from heartbeats are batched into one change at most this often (DESIGN.md §4).</summary>
    public TimeSpan HistoryPruneInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest a table change is held back because it would drop predecessors that still have live flows
    /// (<see cref="Rollout.RolloutPacing"/>). At the limit it is rolled out anyway and those flows break; the audit
    /// log says how many predecessors were dropped.
    /// </summary>
    public TimeSpan PacingLimit { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest flow idle timeout of the data planes: a history entry (or a draining unit) older than this has
    /// no flow left whatever the heartbeats say. Default: the node's TCP established timeout.
    /// </summary>
    public TimeSpan LongestIdleTimeout { get; set; } = TimeSpan.FromHours(2);
}
