using Dva.Shared.Tables;

namespace Dva.Manager.Rollout;

/// <summary>One unit's answer to a table version, with the time the manager received it.</summary>
internal sealed record RolloutAck(ushort NodeId, long NodeKey, PeerRole Role, DateTimeOffset At, bool Installed, string? Error);

/// <summary>A unit taking part in a rollout.</summary>
internal sealed record RolloutMember(long NodeKey, ushort NodeId, PeerRole Role);

internal enum RolloutPhase { DataPlanes, Dispatchers, Committed, Rejected }

/// <summary>
/// What happened to one table version: when each unit acked, which units failed, when it committed. The ack
/// times show data planes switched before any dispatcher (DESIGN.md §5).
/// </summary>
internal sealed class RolloutLog(long dvaKey, ulong version, string cause, DateTimeOffset started)
{
    private readonly List<RolloutAck> _acks = [];
    private readonly List<ushort> _failed = [];

    public long DvaKey { get; } = dvaKey;

    public ulong Version { get; } = version;

    public string Cause { get; } = cause;

    public DateTimeOffset Started { get; } = started;

    public RolloutPhase Phase { get; set; }

    public DateTimeOffset? DispatchersStarted { get; set; }

    public DateTimeOffset? Committed { get; set; }

    public IReadOnlyList<RolloutAck> Acks
    {
        get
        {
            lock (_acks)
            {
                return [.. _acks];
            }
        }
    }

    /// <summary>Units that did not ack in time (or refused the table); their removal is the next change.</summary>
    public IReadOnlyList<ushort> Failed
    {
        get
        {
            lock (_acks)
            {
                return [.. _failed];
            }
        }
    }

    public void Add(RolloutAck ack)
    {
        lock (_acks)
        {
            _acks.Add(ack);
        }
    }

    public void AddFailed(ushort nodeId)
    {
        lock (_acks)
        {
            _failed.Add(nodeId);
        }
    }

    public RolloutLogView ToView() => new(DvaKey, Version, Cause, Phase, Started, DispatchersStarted, Committed, Acks, Failed);
}

internal sealed record RolloutLogView(
    long DvaId,
    ulong Version,
    string Cause,
    RolloutPhase Phase,
    DateTimeOffset Started,
    DateTimeOffset? DispatchersStarted,
    DateTimeOffset? Committed,
    IReadOnlyList<RolloutAck> Acks,
    IReadOnlyList<ushort> Failed);

internal enum RolloutOutcome
{
    /// <summary>Every live unit runs the version and it is committed (failed units are listed).</summary>
    Committed,

    /// <summary>Another change of this DVA is in flight; ask again when it has committed.</summary>
    Busy,

    /// <summary>The version does not follow the current one, or could not be recorded.</summary>
    Rejected,
}

internal sealed record RolloutResult(RolloutOutcome Outcome, string Message, IReadOnlyList<RolloutMember> Failed)
{
    public static RolloutResult Busy(long dvaKey, ulong inFlight) =>
        new(RolloutOutcome.Busy, $"DVA {dvaKey} is rolling out table version {inFlight}; one change at a time.", []);

    public static RolloutResult Rejected(string message) => new(RolloutOutcome.Rejected, message, []);
}
