using System.Collections.Concurrent;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;

namespace Dva.Manager.Services;

/// <summary>One point of a node's live charts, computed from two consecutive heartbeats.</summary>
/// <param name="PpsIn">Frames in per second over the interval (counter delta / elapsed time).</param>
/// <param name="CpuBusy">Share of the engine thread's time spent on packets, 0..1, as the node reported it.</param>
/// <param name="ShortcutPps">
/// Frames per second a dispatcher's kernel forwarded through the kernel shortcut (docs/node.md, "Kernel shortcut"): traffic
/// the dispatcher's own <paramref name="PpsIn"/> and <paramref name="PpsOut"/> do not include. 0 for other nodes.
/// </param>
/// <param name="ShortcutBitsPerSecond">Bits per second of those frames (Ethernet frames, as the kernel counts them).</param>
internal sealed record NodeSample(
    DateTimeOffset At, double PpsIn, double PpsOut, double CpuBusy, long FlowsActive, double ShortcutPps, double ShortcutBitsPerSecond);

/// <summary>The latest heartbeat of a node and when it arrived.</summary>
internal sealed record NodeLive(long NodeKey, NodeHeartbeat Heartbeat, DateTimeOffset At, NodeSample? Latest);

/// <summary>A flow sample and when its heartbeat arrived.</summary>
internal sealed record LiveFlow(DateTimeOffset At, long NodeKey, FlowSample Flow);

/// <summary>One table version as rolled out: what the era timeline shows.</summary>
internal sealed record EraRecord(ulong Version, int Era, string Cause, int MovedBuckets, TimeSpan RolloutDuration, DateTimeOffset At);

/// <summary>
/// A firewall rule's counters (summed over the data planes that reported it): packets and bytes of its flows,
/// first packets it decided (evaluations) and flows created under it.
/// </summary>
internal sealed record RuleCounter(long Packets, long Bytes, long Evaluations = 0, long Flows = 0)
{
    public RuleCounter Plus(RuleCounter other) =>
        new(Packets + other.Packets, Bytes + other.Bytes, Evaluations + other.Evaluations, Flows + other.Flows);
}

/// <summary>A load balancer member's counters summed over the data planes: live flows, connections ever assigned, bytes.</summary>
internal sealed record LiveMember(string Address, long ActiveFlows, long TotalConnections, long Bytes);

/// <summary>A VIP's counters summed over the data planes, with its members in the order the data planes report them.</summary>
internal sealed record LiveVip(string Address, long ActiveFlows, long TotalConnections, long Bytes, IReadOnlyList<LiveMember> Members);

/// <summary>What changed, so a subscriber can ignore what it does not show.</summary>
internal enum LiveChangeKind { Heartbeat, Table, RuleCounters }

/// <param name="Key">Node key for <see cref="LiveChangeKind.Heartbeat"/>, DVA key otherwise.</param>
internal readonly record struct LiveChange(LiveChangeKind Kind, long Key);

/// <summary>
/// In-memory live state of the data path, fed by the node hub (heartbeats) and the table rollout, read by
/// the dashboard. Nothing here is persisted: it is rebuilt from the next heartbeats after a restart.
/// Writers lock one node or DVA entry; readers get copies, so a render never sees a half-written ring.
/// Subscribers are told of every change and throttle their own rendering.
/// </summary>
internal sealed class LiveState(TimeProvider time)
{
    /// <summary>How far back the per-node chart samples go.</summary>
    public static readonly TimeSpan SampleWindow = TimeSpan.FromMinutes(10);

    /// <summary>Recent flow samples kept per DVA (the oldest go first).</summary>
    public const int FlowSamplesPerDva = 500;

    /// <summary>Era records kept per DVA.</summary>
    public const int ErasPerDva = 200;

    /// <summary>A data plane silent for this long no longer counts in the live flows of VIPs and members (its cumulative counters still do).</summary>
    public static readonly TimeSpan ActiveFlowsStaleAfter = TimeSpan.FromSeconds(15);

    // A burst of heartbeats faster than one a second must not grow the ring past the window's worth.
    private const int MaxSamplesPerNode = 1200;

    private readonly ConcurrentDictionary<long, NodeEntry> _nodes = new();
    private readonly ConcurrentDictionary<long, DvaEntry> _dvas = new();
    private readonly ConcurrentDictionary<Guid, long> _dvaKeys = new();
    private readonly Lock _subscribersLock = new();
    private Action<LiveChange>[] _subscribers = [];

    /// <summary>The dispatcher's cumulative count of frames its kernel forwarded through the shortcut (a heartbeat's tunnel counter).</summary>
    public const string ShortcutFramesForwarded = "ShortcutFramesForwarded";

    /// <summary>The bytes of those frames, cumulative.</summary>
    public const string ShortcutBytesForwarded = "ShortcutBytesForwarded";

    /// <summary>Live entries of the dispatcher's shortcut map (a gauge): one per flow direction the kernel carries.</summary>
    public const string ShortcutEntries = "ShortcutEntries";

    /// <summary>Entries the dispatcher ever installed, cumulative.</summary>
    public const string ShortcutInstalled = "ShortcutInstalled";

    /// <summary>
    /// Records a heartbeat that arrived at <paramref name="at"/>: the node's latest state, one chart sample
    /// (rates from the counter deltas since its previous heartbeat) and its flow samples under its DVA.
    /// </summary>
    public void Record(NodeHeartbeat heartbeat, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        var node = _nodes.GetOrAdd(heartbeat.NodeKey, static _ => new NodeEntry());
        lock (node.Lock)
        {
            var previous = node.Latest;
            NodeSample? sample = null;
            if (previous is not null && at > previous.At)
            {
                var seconds = (at - previous.At).TotalSeconds;
                var framesIn = heartbeat.Stats.FramesIn - previous.Heartbeat.Stats.FramesIn;
                var framesOut = heartbeat.Stats.FramesOut - previous.Heartbeat.Stats.FramesOut;
                var shortcutFrames = Tunnel(heartbeat, ShortcutFramesForwarded) - Tunnel(previous.Heartbeat, ShortcutFramesForwarded);
                var shortcutBytes = Tunnel(heartbeat, ShortcutBytesForwarded) - Tunnel(previous.Heartbeat, ShortcutBytesForwarded);
                // Counters going backwards mean the agent restarted: that interval has no rate.
                if (framesIn >= 0 && framesOut >= 0 && shortcutFrames >= 0 && shortcutBytes >= 0)
                {
                    sample = new NodeSample(at, framesIn / seconds, framesOut / seconds, heartbeat.Stats.CpuBusy, heartbeat.Stats.FlowsActive,
                        shortcutFrames / seconds, shortcutBytes * 8 / seconds);
                    node.Samples.Enqueue(sample);
                }
            }

            node.Latest = new NodeLive(heartbeat.NodeKey, heartbeat, at, sample);
            Trim(node.Samples, at - SampleWindow);
        }

        var services = heartbeat.Rules is not null || heartbeat.Vips is not null;
        if (heartbeat.RecentFlows.Count > 0 || services)
        {
            var dva = DvaFor(heartbeat.DvaId);
            lock (dva.Lock)
            {
                foreach (var flow in heartbeat.RecentFlows)
                {
                    dva.Flows.Enqueue(new LiveFlow(at, heartbeat.NodeKey, flow));
                }

                while (dva.Flows.Count > FlowSamplesPerDva)
                {
                    dva.Flows.Dequeue();
                }

                if (heartbeat.Rules is { } rules)
                {
                    dva.RuleCounters[heartbeat.NodeKey] = rules.ToDictionary(
                        r => r.IsDefault ? DefaultPolicyRule : r.RuleId, r => new RuleCounter(r.Packets, r.Bytes, r.Evaluations, r.Flows));
                }

                if (heartbeat.Vips is { } vips)
                {
                    dva.Vips[heartbeat.NodeKey] = (at, vips);
                }
            }
        }

        Notify(new LiveChange(LiveChangeKind.Heartbeat, heartbeat.NodeKey));
        if (services)
        {
            Notify(new LiveChange(LiveChangeKind.RuleCounters, _dvaKeys.TryGetValue(heartbeat.DvaId, out var dvaKey) ? dvaKey : UnmappedKey(heartbeat.DvaId)));
        }
    }

    /// <summary>
    /// Records that <paramref name="table"/> is now the current table of DVA <paramref name="dvaKey"/> (the
    /// manager's id); its rollout took <paramref name="rolloutDuration"/> and moved <paramref name="movedBuckets"/>.
    /// Also learns that heartbeats naming <see cref="TableVersion.DvaId"/> belong to this DVA.
    /// </summary>
    public void SetTable(long dvaKey, TableVersion table, TimeSpan rolloutDuration, int movedBuckets)
    {
        ArgumentNullException.ThrowIfNull(table);
        var dva = DvaFor(table.DvaId, dvaKey);
        lock (dva.Lock)
        {
            if (dva.Table is { } current && current.Version >= table.Version)
            {
                return;
            }

            dva.Table = table;
            dva.Eras.Enqueue(new EraRecord(table.Version, table.Era, table.Cause, movedBuckets, rolloutDuration, time.GetUtcNow()));
            while (dva.Eras.Count > ErasPerDva)
            {
                dva.Eras.Dequeue();
            }
        }

        Notify(new LiveChange(LiveChangeKind.Table, dvaKey));
    }

    /// <summary>Replaces the rule counters <paramref name="nodeKey"/> reported for DVA <paramref name="dvaKey"/> (cumulative, by rule id).</summary>
    public void SetRuleCounters(long dvaKey, long nodeKey, IReadOnlyDictionary<long, RuleCounter> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var dva = _dvas.GetOrAdd(dvaKey, static key => new DvaEntry());
        lock (dva.Lock)
        {
            dva.RuleCounters[nodeKey] = new Dictionary<long, RuleCounter>(counters);
        }

        Notify(new LiveChange(LiveChangeKind.RuleCounters, dvaKey));
    }

    /// <summary>The key <see cref="RuleCounters"/> uses for the default policy's counters (rule ids are positive).</summary>
    public const long DefaultPolicyRule = -1;

    /// <summary>
    /// Load balancer counters of a DVA summed over its data planes, VIPs and members by address. Cumulative counters
    /// include every data plane that ever reported; live flows only those heard from within <see cref="ActiveFlowsStaleAfter"/>.
    /// </summary>
    public IReadOnlyList<LiveVip> Vips(long dvaKey)
    {
        if (!_dvas.TryGetValue(dvaKey, out var dva))
        {
            return [];
        }

        var fresh = time.GetUtcNow() - ActiveFlowsStaleAfter;
        var vips = new List<(string Address, long Active, long Total, long Bytes, List<LiveMember> Members)>();
        lock (dva.Lock)
        {
            foreach (var (at, reported) in dva.Vips.Values)
            {
                var live = at >= fresh;
                foreach (var vip in reported)
                {
                    var i = vips.FindIndex(v => v.Address == vip.Address);
                    if (i < 0)
                    {
                        vips.Add((vip.Address, 0, 0, 0, []));
                        i = vips.Count - 1;
                    }

                    var sum = vips[i];
                    sum.Active += live ? vip.ActiveFlows : 0;
                    sum.Total += vip.TotalConnections;
                    sum.Bytes += vip.Bytes;
                    foreach (var member in vip.Members)
                    {
                        var m = sum.Members.FindIndex(x => x.Address == member.Address);
                        var add = new LiveMember(member.Address, live ? member.ActiveFlows : 0, member.TotalConnections, member.Bytes);
                        if (m < 0)
                        {
                            sum.Members.Add(add);
                        }
                        else
                        {
                            var old = sum.Members[m];
                            sum.Members[m] = old with
                            {
                                ActiveFlows = old.ActiveFlows + add.ActiveFlows,
                                TotalConnections = old.TotalConnections + add.TotalConnections,
                                Bytes = old.Bytes + add.Bytes,
                            };
                        }
                    }

                    vips[i] = sum;
                }
            }
        }

        return [.. vips.Select(v => new LiveVip(v.Address, v.Active, v.Total, v.Bytes, v.Members))];
    }

    /// <summary>Latest heartbeat of a node, or null when it sent none since the manager started.</summary>
    public NodeLive? Node(long nodeKey) => _nodes.TryGetValue(nodeKey, out var node) ? node.Latest : null;

    /// <summary>Chart samples of a node, oldest first, within <see cref="SampleWindow"/> of now.</summary>
    public IReadOnlyList<NodeSample> Samples(long nodeKey)
    {
        if (!_nodes.TryGetValue(nodeKey, out var node))
        {
            return [];
        }

        var since = time.GetUtcNow() - SampleWindow;
        lock (node.Lock)
        {
            return [.. node.Samples.Where(s => s.At >= since)];
        }
    }

    /// <summary>Recent flow samples of a DVA, newest first.</summary>
    public IReadOnlyList<LiveFlow> Flows(long dvaKey)
    {
        if (!_dvas.TryGetValue(dvaKey, out var dva))
        {
            return [];
        }

        lock (dva.Lock)
        {
            return [.. dva.Flows.Reverse()];
        }
    }

    /// <summary>The current table of a DVA, or null before its first rollout since the manager started.</summary>
    public TableVersion? Table(long dvaKey) => _dvas.TryGetValue(dvaKey, out var dva) ? Volatile.Read(ref dva.Table) : null;

    /// <summary>Table versions of a DVA seen since the manager started, newest first.</summary>
    public IReadOnlyList<EraRecord> Eras(long dvaKey)
    {
        if (!_dvas.TryGetValue(dvaKey, out var dva))
        {
            return [];
        }

        lock (dva.Lock)
        {
            return [.. dva.Eras.Reverse()];
        }
    }

    /// <summary>Rule counters of a DVA summed over its data planes; a rule no node reported is absent.</summary>
    public IReadOnlyDictionary<long, RuleCounter> RuleCounters(long dvaKey)
    {
        var sums = new Dictionary<long, RuleCounter>();
        if (!_dvas.TryGetValue(dvaKey, out var dva))
        {
            return sums;
        }

        lock (dva.Lock)
        {
            foreach (var counters in dva.RuleCounters.Values)
            {
                foreach (var (rule, counter) in counters)
                {
                    sums[rule] = sums.TryGetValue(rule, out var sum) ? sum.Plus(counter) : counter;
                }
            }
        }

        return sums;
    }

    /// <summary>
    /// Calls <paramref name="onChange"/> after every change, on the writer's thread (so it must be quick: a
    /// component schedules a render and returns). Dispose the result to stop.
    /// </summary>
    public IDisposable Subscribe(Action<LiveChange> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        lock (_subscribersLock)
        {
            _subscribers = [.. _subscribers, onChange];
        }

        return new Subscription(this, onChange);
    }

    private void Unsubscribe(Action<LiveChange> onChange)
    {
        lock (_subscribersLock)
        {
            _subscribers = [.. _subscribers.Where(s => s != onChange)];
        }
    }

    private void Notify(LiveChange change)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber(change);
        }
    }

    private DvaEntry DvaFor(Guid dvaId, long? knownKey = null)
    {
        if (knownKey is { } key)
        {
            var entry = _dvas.GetOrAdd(key, static _ => new DvaEntry());
            if (_dvaKeys.TryAdd(dvaId, key) && _dvas.TryRemove(UnmappedKey(dvaId), out var early))
            {
                lock (early.Lock)
                {
                    lock (entry.Lock)
                    {
                        foreach (var flow in early.Flows)
                        {
                            entry.Flows.Enqueue(flow);
                        }

                        foreach (var (node, counters) in early.RuleCounters)
                        {
                            entry.RuleCounters.TryAdd(node, counters);
                        }

                        foreach (var (node, vips) in early.Vips)
                        {
                            entry.Vips.TryAdd(node, vips);
                        }
                    }
                }
            }

            return entry;
        }

        // Flows of a DVA whose table was not seen yet wait under a key of their own; they are not lost,
        // but shown only once SetTable tells which DVA the id belongs to.
        return _dvaKeys.TryGetValue(dvaId, out var mapped)
            ? _dvas.GetOrAdd(mapped, static _ => new DvaEntry())
            : _dvas.GetOrAdd(UnmappedKey(dvaId), static _ => new DvaEntry());
    }

    /// <summary>A tunnel counter of a heartbeat; 0 when the node does not report it (an agent older than the counter).</summary>
    public static long Tunnel(NodeHeartbeat heartbeat, string counter) =>
        heartbeat.Stats.Tunnel.TryGetValue(counter, out var value) ? value : 0;

    // Negative keys never collide with database ids, which start at 1.
    private static long UnmappedKey(Guid dvaId) => -1 - (BitConverter.ToInt64(dvaId.ToByteArray()) & long.MaxValue);

    private static void Trim(Queue<NodeSample> samples, DateTimeOffset since)
    {
        while (samples.Count > 0 && (samples.Peek().At < since || samples.Count > MaxSamplesPerNode))
        {
            samples.Dequeue();
        }
    }

    private sealed class NodeEntry
    {
        public readonly Lock Lock = new();
        public readonly Queue<NodeSample> Samples = new();

        public NodeLive? Latest
        {
            get => Volatile.Read(ref _latest);
            set => Volatile.Write(ref _latest, value);
        }

        private NodeLive? _latest;
    }

    private sealed class DvaEntry
    {
        public readonly Lock Lock = new();
        public readonly Queue<LiveFlow> Flows = new();
        public readonly Queue<EraRecord> Eras = new();
        public readonly Dictionary<long, Dictionary<long, RuleCounter>> RuleCounters = [];
        public readonly Dictionary<long, (DateTimeOffset At, IReadOnlyList<VipCounters> Vips)> Vips = [];
        public TableVersion? Table;
    }

    private sealed class Subscription(LiveState owner, Action<LiveChange> onChange) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unsubscribe(onChange);
            }
        }
    }
}
