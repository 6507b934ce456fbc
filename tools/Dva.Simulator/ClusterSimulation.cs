using System.Net;
using Dva.Shared.Flows;
using Dva.Shared.Tables;

namespace Dva.Simulator;

/// <summary>Size and behaviour of a simulation run.</summary>
internal sealed record SimulationOptions
{
    public int Flows { get; init; } = 1_000_000;

    /// <summary>Our M (power of two, 256..65536).</summary>
    public int BucketCount { get; init; } = TableLimits.MaxBucketCount;

    /// <summary>Maglev's M (prime).</summary>
    public int MaglevSize { get; init; } = MaglevTable.DefaultSize;

    /// <summary>Chance that a flow ends (and a new one starts) between two steps.</summary>
    public double Churn { get; init; } = 0.1;

    /// <summary>Before each change, remove history entries whose unit holds no live flow in the bucket (DESIGN.md §4).</summary>
    public bool PruneEmptyHistory { get; init; } = true;

    public ulong Seed { get; init; } = 1;
}

internal enum UnitState : byte
{
    None,
    Active,
    Draining,
    Failed,
    Left,
}

/// <summary>
/// Replays a scenario through the real table code (<see cref="TableVersion"/>, <see cref="HistoryTable"/>,
/// <see cref="BucketAssignment"/>) and, side by side, through <see cref="MaglevTable"/>.
/// </summary>
/// <remarks>
/// A flow is its 64-bit <see cref="FlowHasher"/> hash and the unit that created it (its holder): 10 bytes,
/// so 10 M flows take 100 MB. A flow stays with its holder for life. After each change one packet per
/// live flow is dispatched to the owner of its bucket and walks DESIGN.md §6's keep-or-punt chain.
/// </remarks>
internal sealed class ClusterSimulation
{
    private const int Depth = TableLimits.MaxHistoryDepth;
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan StepInterval = TimeSpan.FromMinutes(1);
    private static readonly IPAddress UnitAddress = IPAddress.Parse("198.51.100.1");

    private readonly SimulationOptions _options;
    private readonly ulong[] _hashes;
    private readonly ushort[] _holders;
    private readonly int[] _flowsPerBucket;
    private readonly int[] _flowsPerEntry;
    private readonly int[] _heldFlows = new int[TableLimits.MaxNodeId + 1];
    private readonly UnitState[] _state = new UnitState[TableLimits.MaxNodeId + 1];
    private readonly int[] _weight = new int[TableLimits.MaxNodeId + 1];
    private readonly List<ushort> _joinOrder = [];
    private readonly ulong _dvaSeed;
    private readonly int _bucketMask;
    private SplitMix64 _random;
    private ushort _nextId = TableLimits.MinNodeId;
    private int _step;
    private TableVersion? _table;
    private MaglevTable? _maglev;

    public ClusterSimulation(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!TableLimits.IsValidBucketCount(options.BucketCount))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BucketCount, "Bucket count must be a power of two in 256..65536.");
        }

        if (options.Flows < 1 || options.Churn is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Flows must be positive and churn in 0..1.");
        }

        _options = options;
        _random = new SplitMix64(options.Seed);
        _dvaSeed = _random.Next();
        _bucketMask = options.BucketCount - 1;
        _hashes = new ulong[options.Flows];
        _holders = new ushort[options.Flows];
        _flowsPerBucket = new int[options.BucketCount];
        _flowsPerEntry = new int[options.MaglevSize];
    }

    public TableVersion Table => _table ?? throw new InvalidOperationException("The scenario has not started.");

    public MaglevTable Maglev => _maglev ?? throw new InvalidOperationException("The scenario has not started.");

    /// <summary>The unit holding each flow's state.</summary>
    public ReadOnlySpan<ushort> Holders => _holders;

    public IReadOnlyList<StepReport> Run(IEnumerable<ScenarioStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        return [.. steps.Select(Apply)];
    }

    /// <exception cref="InvalidOperationException">A start after the first step, a change before it, a step that
    /// would leave no active unit, or node ids exhausted.</exception>
    public StepReport Apply(ScenarioStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if ((step.Kind == StepKind.Start) != (_table is null))
        {
            throw new InvalidOperationException("A scenario starts with exactly one 'start' step.");
        }

        return step.Kind == StepKind.Start ? Start(step) : Change(step);
    }

    private StepReport Start(ScenarioStep step)
    {
        for (int i = 0; i < step.Count; i++)
        {
            Join(step.Weight);
        }

        _table = TableVersion.CreateFirst(Guid.Empty, _dvaSeed, _options.BucketCount, Peers(), step.ToString());
        _maglev = MaglevTable.Build([.. Weights()], _options.MaglevSize);
        ReadOnlySpan<ushort> owners = _table.Owners;
        for (int i = 0; i < _hashes.Length; i++)
        {
            ulong hash = FlowSource.NextFlowHash(ref _random, _dvaSeed);
            _hashes[i] = hash;
            ushort owner = owners[(int)(hash & (ulong)_bucketMask)];
            _holders[i] = owner;
            Count(hash, owner, +1);
        }

        return Measure(step, moved: [], previousOwners: _table.Owners, previousMaglev: _maglev, pruned: 0);
    }

    private StepReport Change(ScenarioStep step)
    {
        _step++;
        if (_options.Churn > 0)
        {
            Churn();
        }

        int pruned = _options.PruneEmptyHistory ? PruneEmptyHistory() : 0;
        ChangeUnits(step);
        ushort[] previousOwners = Table.Owners.ToArray();
        MaglevTable previousMaglev = Maglev;
        _table = Table.Next(Peers(), Epoch + (_step * StepInterval), step.ToString(), out ReadOnlyMemory<BucketMove> moves);
        _maglev = MaglevTable.Build([.. Weights()], _options.MaglevSize);
        return Measure(step, moves.Span, previousOwners, previousMaglev, pruned);
    }

    private void ChangeUnits(ScenarioStep step)
    {
        List<ushort> active = [.. _joinOrder.Where(id => _state[id] == UnitState.Active)];
        int count = step.ResolveCount(active.Count);
        if (step.Kind is StepKind.Drain or StepKind.Fail && count >= active.Count)
        {
            throw new InvalidOperationException($"'{step}' would leave no active unit of {active.Count}.");
        }

        switch (step.Kind)
        {
            case StepKind.Add:
                for (int i = 0; i < count; i++)
                {
                    Join(ScenarioScript.BaseWeight);
                }

                break;
            case StepKind.Drain:
                foreach (ushort id in Pick(active, count))
                {
                    _state[id] = UnitState.Draining;
                }

                break;
            case StepKind.Fail:
                foreach (ushort id in Pick(active, count))
                {
                    _state[id] = UnitState.Failed;
                }

                break;
            case StepKind.Replace:
                foreach (ushort id in active.Take(Math.Min(count, active.Count)))
                {
                    _state[id] = UnitState.Draining;
                    Join(_weight[id]);
                }

                break;
            case StepKind.Weight:
                foreach (ushort id in Pick(active, Math.Min(count, active.Count)))
                {
                    _weight[id] = step.Weight;
                }

                break;
            default:
                throw new InvalidOperationException($"Unexpected step '{step}'.");
        }

        // A drained unit leaves once it holds no flow; until then it stays a peer so punts can reach it.
        foreach (ushort id in _joinOrder)
        {
            if (_state[id] == UnitState.Draining && _heldFlows[id] == 0)
            {
                _state[id] = UnitState.Left;
            }
        }
    }

    private void Join(int weight)
    {
        if (_nextId > TableLimits.MaxNodeId)
        {
            throw new InvalidOperationException($"Node ids exhausted after {TableLimits.MaxNodeId} units.");
        }

        ushort id = _nextId++;
        _state[id] = UnitState.Active;
        _weight[id] = weight;
        _joinOrder.Add(id);
    }

    /// <summary>A seeded random choice of <paramref name="count"/> units (partial Fisher–Yates).</summary>
    private List<ushort> Pick(List<ushort> units, int count)
    {
        ushort[] pool = [.. units];
        for (int i = 0; i < count; i++)
        {
            int j = i + _random.Below(pool.Length - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }

        return [.. pool.Take(count)];
    }

    private IEnumerable<PeerInfo> Peers() =>
        _joinOrder
            .Where(id => _state[id] is UnitState.Active or UnitState.Draining)
            .Select(id => new PeerInfo(id, PeerRole.DataPlane, new IPEndPoint(UnitAddress, 10_000 + id), _state[id] == UnitState.Active ? _weight[id] : 0));

    private IEnumerable<NodeWeight> Weights() =>
        _joinOrder.Where(id => _state[id] == UnitState.Active).Select(id => new NodeWeight(id, _weight[id]));

    /// <summary>Each flow ends with probability churn; a new flow starts in its place, held by its bucket's owner.</summary>
    private void Churn()
    {
        ReadOnlySpan<ushort> owners = Table.Owners;
        for (int i = 0; i < _hashes.Length; i++)
        {
            if (!_random.Chance(_options.Churn))
            {
                continue;
            }

            Count(_hashes[i], _holders[i], -1);
            ulong hash = FlowSource.NextFlowHash(ref _random, _dvaSeed);
            ushort owner = owners[(int)(hash & (ulong)_bucketMask)];
            _hashes[i] = hash;
            _holders[i] = owner;
            Count(hash, owner, +1);
        }
    }

    /// <summary>
    /// The units' reports "no live flow of mine in bucket b" (DESIGN.md §4): entries whose unit holds no flow
    /// of the bucket are removed, as one table change through <see cref="TableVersion.WithHistory"/>.
    /// </summary>
    private int PruneEmptyHistory()
    {
        TableVersion table = Table;
        ushort[] history = DenseHistory(table.History);
        var live = new bool[history.Length];
        ReadOnlySpan<ushort> owners = table.Owners;
        for (int i = 0; i < _hashes.Length; i++)
        {
            int b = (int)(_hashes[i] & (ulong)_bucketMask);
            ushort holder = _holders[i];
            if (holder != owners[b])
            {
                int d = history.AsSpan(b * Depth, Depth).IndexOf(holder);
                if (d >= 0)
                {
                    live[(b * Depth) + d] = true;
                }
            }
        }

        var empty = new List<(int Bucket, ushort Node)>();
        for (int s = 0; s < history.Length; s++)
        {
            if (history[s] != 0 && !live[s])
            {
                empty.Add((s / Depth, history[s]));
            }
        }

        if (empty.Count > 0)
        {
            _table = table.WithHistory(table.History.RemoveEntries(empty), $"{empty.Count} history entries without live flows");
        }

        return empty.Count;
    }

    /// <summary>history[b] as Depth node slots per bucket, 0-padded.</summary>
    private ushort[] DenseHistory(HistoryTable history)
    {
        var dense = new ushort[_options.BucketCount * Depth];
        foreach (HistoryEntry entry in history.Entries)
        {
            dense[(entry.Bucket * Depth) + entry.Depth] = entry.Node;
        }

        return dense;
    }

    private StepReport Measure(ScenarioStep step, ReadOnlySpan<BucketMove> moved, ReadOnlySpan<ushort> previousOwners, MaglevTable previousMaglev, int pruned)
    {
        TableVersion table = Table;
        List<NodeWeight> weights = [.. Weights()];
        long ownerChanged = 0;
        foreach (BucketMove move in moved)
        {
            ownerChanged += _flowsPerBucket[move.Bucket];
        }

        // Maglev first: it compares the flows as they were placed before the change.
        (int maglevChanged, long disrupted, long onFailed) = CompareMaglev(previousMaglev.Entries, Maglev.Entries);
        ushort[] history = DenseHistory(table.History);
        PuntWalk walk = WalkPackets(table.Owners, history);
        var depthHistogram = new int[Depth + 1];
        for (int b = 0; b < _options.BucketCount; b++)
        {
            int depth = history.AsSpan(b * Depth, Depth).IndexOf((ushort)0);
            depthHistogram[depth < 0 ? Depth : depth]++;
        }

        long packets = _hashes.Length - walk.Lost;
        return new StepReport
        {
            Step = _step,
            Change = step.ToString(),
            TableVersion = table.Version,
            ActiveUnits = weights.Count,
            DrainingUnits = _joinOrder.Count(id => _state[id] == UnitState.Draining),
            Flows = _hashes.Length,
            MovedBuckets = moved.Length,
            MinimumMoves = moved.IsEmpty ? 0 : MoveBounds.Minimum(previousOwners, weights),
            LowerBoundMoves = moved.IsEmpty ? 0 : MoveBounds.LowerBound(previousOwners, weights),
            BucketBalance = Balance(weights, table.Owners, null),
            FlowBalance = Balance(weights, table.Owners, _flowsPerBucket),
            HeldFlowBalance = MaxRatio(weights, id => _heldFlows[id], _hashes.Length),
            OwnerChangedFlows = ownerChanged,
            PuntHistogram = walk.Histogram,
            PuntsPerPacket = packets == 0 ? 0 : (double)walk.Punts / packets,
            MaxPunts = walk.MaxPunts,
            BrokenFlows = walk.Broken,
            LostFlows = walk.Lost,
            PrunedEntries = pruned,
            HistoryEntries = table.History.EntryCount,
            HistoryDepthHistogram = depthHistogram,
            HistoryMaxDepth = Array.FindLastIndex(depthHistogram, n => n > 0),
            MaglevChangedEntries = maglevChanged,
            MaglevMinimumChanges = maglevChanged == 0 ? 0 : MoveBounds.Minimum(previousMaglev.Entries, weights),
            MaglevDisruptedFlows = disrupted,
            MaglevDisruptedOnFailed = onFailed,
            MaglevEntryBalance = Balance(weights, Maglev.Entries, null),
            MaglevFlowBalance = Balance(weights, Maglev.Entries, _flowsPerEntry),
        };
    }

    private readonly record struct PuntWalk(long[] Histogram, long Punts, int MaxPunts, long Broken, long Lost);

    /// <summary>
    /// One packet per live flow through DESIGN.md §6: the owner processes it if it holds the flow, else punts
    /// to history[b][0], each predecessor keeps it or punts to the next, and the last CLAIMs it back to the
    /// owner, which creates new state: the flow is broken. Flows of failed units are lost and re-created at
    /// the owner; broken ones too, so each counts once.
    /// </summary>
    private PuntWalk WalkPackets(ReadOnlySpan<ushort> owners, ushort[] history)
    {
        var histogram = new long[Depth + 1];
        long punts = 0;
        long broken = 0;
        long lost = 0;
        int maxPunts = 0;
        for (int i = 0; i < _hashes.Length; i++)
        {
            int b = (int)(_hashes[i] & (ulong)_bucketMask);
            ushort owner = owners[b];
            ushort holder = _holders[i];
            if (holder == owner)
            {
                histogram[0]++;
                continue;
            }

            if (_state[holder] == UnitState.Failed)
            {
                lost++;
                Rehome(i, owner);
                continue;
            }

            ReadOnlySpan<ushort> predecessors = history.AsSpan(b * Depth, Depth);
            int d = predecessors.IndexOf(holder);
            if (d >= 0)
            {
                histogram[d + 1]++;
                punts += d + 1;
                maxPunts = Math.Max(maxPunts, d + 1);
                continue;
            }

            // Walked every predecessor (if any) and the CLAIM back to the owner.
            int length = predecessors.IndexOf((ushort)0) is int z and >= 0 ? z : Depth;
            punts += length == 0 ? 0 : length + 1;
            broken++;
            Rehome(i, owner);
        }

        return new PuntWalk(histogram, punts, maxPunts, broken, lost);
    }

    private (int Changed, long Disrupted, long OnFailed) CompareMaglev(ReadOnlySpan<ushort> before, ReadOnlySpan<ushort> after)
    {
        int changed = 0;
        long disrupted = 0;
        long onFailed = 0;
        for (int e = 0; e < before.Length; e++)
        {
            if (before[e] != after[e])
            {
                changed++;
                disrupted += _flowsPerEntry[e];
                if (_state[before[e]] == UnitState.Failed)
                {
                    onFailed += _flowsPerEntry[e];
                }
            }
        }

        return (changed, disrupted, onFailed);
    }

    private void Rehome(int flow, ushort owner)
    {
        _heldFlows[_holders[flow]]--;
        _heldFlows[owner]++;
        _holders[flow] = owner;
    }

    private void Count(ulong hash, ushort holder, int delta)
    {
        _flowsPerBucket[(int)(hash & (ulong)_bucketMask)] += delta;
        _flowsPerEntry[(int)(hash % (ulong)_flowsPerEntry.Length)] += delta;
        _heldFlows[holder] += delta;
    }

    /// <summary>Max over units of load ÷ weighted share, load = entries owned (or flows in them when <paramref name="flowsPerEntry"/> is given).</summary>
    private static double Balance(List<NodeWeight> weights, ReadOnlySpan<ushort> owners, int[]? flowsPerEntry)
    {
        var load = new long[TableLimits.MaxNodeId + 1];
        long total = 0;
        for (int e = 0; e < owners.Length; e++)
        {
            long amount = flowsPerEntry is null ? 1 : flowsPerEntry[e];
            load[owners[e]] += amount;
            total += amount;
        }

        return MaxRatio(weights, id => load[id], total);
    }

    private static double MaxRatio(List<NodeWeight> weights, Func<ushort, long> load, long total)
    {
        double weightSum = weights.Sum(w => (double)w.Weight);
        return total == 0 ? 0 : weights.Max(w => load(w.NodeId) / (total * w.Weight / weightSum));
    }
}
