using Dva.Manager.Infrastructure;
using Dva.Manager.Model;

namespace Dva.Manager.Rollout;

/// <summary>
/// One DVA's <see cref="FleetMark"/>s for one reconcile pass. Changes are tracked by the pass's context and saved
/// with the node change they belong to (the audit log's save), so a drain and its start time are written together.
/// </summary>
internal sealed class FleetMarks(ManagerDbContext db, List<FleetMark> marks, long dvaKey)
{
    public long DvaKey { get; } = dvaKey;

    public FleetMark? Get(FleetMarkKind kind, long? nodeKey) => marks.Find(m => m.Kind == kind && m.NodeKey == nodeKey);

    /// <summary>Starts the clock of <paramref name="kind"/> at <paramref name="since"/>, or keeps the one already running.</summary>
    public FleetMark Set(FleetMarkKind kind, long? nodeKey, DateTimeOffset since)
    {
        if (Get(kind, nodeKey) is { } existing)
        {
            return existing;
        }

        var mark = new FleetMark { DvaId = DvaKey, NodeKey = nodeKey, Kind = kind, Since = since };
        marks.Add(mark);
        db.FleetMarks.Add(mark);
        return mark;
    }

    public void Clear(FleetMarkKind kind, long? nodeKey)
    {
        if (Get(kind, nodeKey) is { } mark)
        {
            marks.Remove(mark);
            db.FleetMarks.Remove(mark);
        }
    }
}
