namespace Dva.Node.Services.Firewall;

/// <summary>A point-in-time copy of one rule's counters (or the default policy's).</summary>
internal readonly record struct RuleCounterSnapshot(
    int RuleIndex, int RuleId, bool IsDefault, long Evaluations, long Flows, long Packets, long Bytes);

/// <summary>
/// Per-rule hit counters of one <see cref="RuleSet"/>, updated from any data-plane thread.
/// Evaluations: first packets this rule decided (accepted, dropped or rejected). Flows: flows created
/// under it. Packets/Bytes: every packet attributed to it, the first packet and the rest of its flows.
/// </summary>
/// <remarks>
/// Each rule owns a 64-byte slot so that two cores counting neighbouring rules do not share a cache
/// line; the default policy has the slot after the last rule. Carrying values over from a previous
/// rule set copies them once at compile time: packets the data plane still counts on the old rule
/// set after the swap (flows decided before it) stay there.
/// </remarks>
internal sealed class RuleCounters
{
    private const int Stride = 8;
    private const int EvaluationsOffset = 0;
    private const int FlowsOffset = 1;
    private const int PacketsOffset = 2;
    private const int BytesOffset = 3;

    private readonly FirewallRule[] _rules;
    private readonly long[] _values;

    public RuleCounters(FirewallRule[] rules, RuleCounters? carryFrom = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _rules = rules;
        _values = new long[(rules.Length + 1) * Stride];
        if (carryFrom is not null)
        {
            CarryOver(carryFrom);
        }
    }

    /// <summary>Counts a classification and its packet.</summary>
    public void RecordEvaluation(in FirewallMatch match, int bytes)
    {
        int slot = Slot(match.RuleIndex);
        Interlocked.Increment(ref _values[slot + EvaluationsOffset]);
        Interlocked.Increment(ref _values[slot + PacketsOffset]);
        Interlocked.Add(ref _values[slot + BytesOffset], bytes);
    }

    /// <summary>Counts a flow created under the rule.</summary>
    public void RecordFlow(int ruleIndex) => Interlocked.Increment(ref _values[Slot(ruleIndex) + FlowsOffset]);

    /// <summary>Counts a later packet of a flow the rule decided.</summary>
    public void RecordPacket(int ruleIndex, int bytes)
    {
        int slot = Slot(ruleIndex);
        Interlocked.Increment(ref _values[slot + PacketsOffset]);
        Interlocked.Add(ref _values[slot + BytesOffset], bytes);
    }

    /// <summary>All rules in evaluation order, then the default policy.</summary>
    public RuleCounterSnapshot[] Snapshot()
    {
        var result = new RuleCounterSnapshot[_rules.Length + 1];
        for (int i = 0; i <= _rules.Length; i++)
        {
            bool isDefault = i == _rules.Length;
            int slot = i * Stride;
            result[i] = new RuleCounterSnapshot(
                isDefault ? FirewallMatch.DefaultIndex : i,
                isDefault ? -1 : _rules[i].Id,
                isDefault,
                Volatile.Read(ref _values[slot + EvaluationsOffset]),
                Volatile.Read(ref _values[slot + FlowsOffset]),
                Volatile.Read(ref _values[slot + PacketsOffset]),
                Volatile.Read(ref _values[slot + BytesOffset]));
        }

        return result;
    }

    private void CarryOver(RuleCounters previous)
    {
        var slotById = new Dictionary<int, int>(_rules.Length);
        for (int i = 0; i < _rules.Length; i++)
        {
            slotById[_rules[i].Id] = i * Stride;
        }

        foreach (RuleCounterSnapshot old in previous.Snapshot())
        {
            int slot;
            if (old.IsDefault)
            {
                slot = _rules.Length * Stride;
            }
            else if (!slotById.TryGetValue(old.RuleId, out slot))
            {
                continue;
            }

            _values[slot + EvaluationsOffset] = old.Evaluations;
            _values[slot + FlowsOffset] = old.Flows;
            _values[slot + PacketsOffset] = old.Packets;
            _values[slot + BytesOffset] = old.Bytes;
        }
    }

    private int Slot(int ruleIndex)
    {
        // An index outside the rule set (a flow decided by an older rule set) lands on the default slot
        // rather than throwing on the data path.
        uint index = (uint)ruleIndex;
        return (index < (uint)_rules.Length ? (int)index : _rules.Length) * Stride;
    }
}
