using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Dva.Node.Services.Firewall;

/// <summary>The decision for a flow's first packet: which rule (or the default policy) and its action.</summary>
internal readonly record struct FirewallMatch(int RuleIndex, int RuleId, FirewallAction Action)
{
    /// <summary>Rule index used for the default policy (no rule matched).</summary>
    public const int DefaultIndex = -1;

    public bool IsDefault => RuleIndex == DefaultIndex;
}

/// <summary>
/// A compiled, immutable firewall policy. Enabled rules are put in evaluation order (priority, then id);
/// <see cref="Classify"/> returns the first that matches. Publish a new instance by one reference write
/// to replace the policy; readers never lock.
/// </summary>
/// <remarks>
/// Classification is the bit-vector scheme (see <see cref="BitVectorField"/>): seven field lookups
/// (two binary searches for the addresses, five direct table reads) pick seven rows. Their summaries
/// are ANDed first; only words whose summary bit survives are ANDed, and the first non-zero word's
/// lowest bit is the first matching rule. Cost grows with rules/4096 summary words plus the words
/// whose summaries collide, not with the rules themselves. Memory is about (distinct rows per field)
/// x rules/8 bytes per field.
/// Benchmark: FirewallBenchmarks.
/// </remarks>
internal sealed class RuleSet
{
    // Field values without meaning for the packet get a value of their own past the real domain,
    // so a rule that names ports or an ICMP type never matches a packet that has none.
    private const int PortDomain = 65_537;
    private const int NoPorts = 65_536;
    private const int IcmpDomain = 257;
    private const int NotIcmp = 256;
    private const int ByteDomain = 256;

    /// <summary>The largest VLAN id a rule may name (0 is untagged); a tuple's VLAN is read through <see cref="MaxVlanBits"/>.</summary>
    public const int MaxVlan = 4094;

    private const int VlanDomain = 4096;
    private const int MaxVlanBits = 0x0FFF;

    private readonly FirewallMatch _default;
    private readonly FirewallMatch[] _matches;

    private readonly uint[] _srcV4Starts;
    private readonly int[] _srcV4Ids;
    private readonly FieldRows _srcV4;
    private readonly UInt128[] _srcV6Starts;
    private readonly int[] _srcV6Ids;
    private readonly FieldRows _srcV6;
    private readonly uint[] _dstV4Starts;
    private readonly int[] _dstV4Ids;
    private readonly FieldRows _dstV4;
    private readonly UInt128[] _dstV6Starts;
    private readonly int[] _dstV6Ids;
    private readonly FieldRows _dstV6;

    // Fields of at most 65 537 values map each value straight to its row id.
    private readonly int[] _protocolIds;
    private readonly FieldRows _protocol;
    private readonly int[] _srcPortIds;
    private readonly FieldRows _srcPort;
    private readonly int[] _dstPortIds;
    private readonly FieldRows _dstPort;
    private readonly int[] _ifidIds;
    private readonly FieldRows _ifid;
    private readonly int[] _icmpIds;
    private readonly FieldRows _icmp;
    private readonly int[] _vlanIds;
    private readonly FieldRows _vlan;

    private RuleSet(FirewallPolicy policy, FirewallRule[] rules, RuleCounters? previousCounters)
    {
        Policy = policy;
        Rules = rules;
        Counters = new RuleCounters(rules, previousCounters);
        _default = new FirewallMatch(FirewallMatch.DefaultIndex, -1, policy.DefaultAction);
        _matches = new FirewallMatch[rules.Length];
        for (int i = 0; i < rules.Length; i++)
        {
            _matches[i] = new FirewallMatch(i, rules[i].Id, rules[i].Action);
        }

        // At least one word, so an empty rule set still has rows to AND (all zero: the default applies).
        int words = Math.Max(1, (rules.Length + 63) / 64);
        int n = rules.Length;
        var srcV4 = new BitVectorField.FieldRange[n];
        var srcV6 = new BitVectorField.FieldRange[n];
        var dstV4 = new BitVectorField.FieldRange[n];
        var dstV6 = new BitVectorField.FieldRange[n];
        var protocol = new BitVectorField.FieldRange[n];
        var srcPort = new BitVectorField.FieldRange[n];
        var dstPort = new BitVectorField.FieldRange[n];
        var ifid = new BitVectorField.FieldRange[n];
        var icmp = new BitVectorField.FieldRange[n];
        var vlan = new BitVectorField.FieldRange[n];
        for (int r = 0; r < n; r++)
        {
            FirewallRule rule = rules[r];
            AddressFamily? family = rule.Family;
            srcV4[r] = AddressRange(rule.Source, family, AddressFamily.InterNetwork);
            srcV6[r] = AddressRange(rule.Source, family, AddressFamily.InterNetworkV6);
            dstV4[r] = AddressRange(rule.Destination, family, AddressFamily.InterNetwork);
            dstV6[r] = AddressRange(rule.Destination, family, AddressFamily.InterNetworkV6);
            protocol[r] = Exact(rule.Protocol, ByteDomain);
            srcPort[r] = rule.SourcePorts is { } sp ? new(true, sp.From, sp.To) : BitVectorField.FieldRange.All(PortDomain - 1);
            dstPort[r] = rule.DestinationPorts is { } dp ? new(true, dp.From, dp.To) : BitVectorField.FieldRange.All(PortDomain - 1);
            ifid[r] = Exact(rule.IngressIfid, ByteDomain);
            icmp[r] = Exact(rule.IcmpType, IcmpDomain);
            vlan[r] = rule.IngressVlan is { } v ? new(true, v, v) : BitVectorField.FieldRange.All(VlanDomain - 1);
        }

        (_srcV4Starts, _srcV4Ids, _srcV4) = BuildV4(srcV4, words);
        (_srcV6Starts, _srcV6Ids, _srcV6) = BitVectorField.Build(srcV6, UInt128.MaxValue, words);
        (_dstV4Starts, _dstV4Ids, _dstV4) = BuildV4(dstV4, words);
        (_dstV6Starts, _dstV6Ids, _dstV6) = BitVectorField.Build(dstV6, UInt128.MaxValue, words);
        (_protocolIds, _protocol) = BuildDirect(protocol, ByteDomain, words);
        (_srcPortIds, _srcPort) = BuildDirect(srcPort, PortDomain, words);
        (_dstPortIds, _dstPort) = BuildDirect(dstPort, PortDomain, words);
        (_ifidIds, _ifid) = BuildDirect(ifid, ByteDomain, words);
        (_icmpIds, _icmp) = BuildDirect(icmp, IcmpDomain, words);
        (_vlanIds, _vlan) = BuildDirect(vlan, VlanDomain, words);
    }

    public static RuleSet Empty { get; } = new(new FirewallPolicy(), [], null);

    public FirewallPolicy Policy { get; }

    /// <summary>The enabled rules in evaluation order; <see cref="FirewallMatch.RuleIndex"/> indexes this.</summary>
    public IReadOnlyList<FirewallRule> Rules { get; }

    public RuleCounters Counters { get; }

    /// <summary>Total bytes held by the classification rows (for the operator's view of memory).</summary>
    public long RowBytes =>
        new[] { _srcV4, _srcV6, _dstV4, _dstV6, _protocol, _srcPort, _dstPort, _ifid, _icmp, _vlan }.Sum(f => f.Bytes);

    /// <summary>
    /// Compiles a policy; throws <see cref="ArgumentException"/> listing every problem if it is invalid.
    /// Counters of rules (by id) and of the default policy start from their values in <paramref name="previous"/>,
    /// so editing one rule does not zero the others' hit counts.
    /// </summary>
    public static RuleSet Compile(FirewallPolicy policy, RuleSet? previous = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        IReadOnlyList<string> errors = policy.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid firewall policy: " + string.Join("; ", errors), nameof(policy));
        }

        FirewallRule[] ordered = [.. policy.Rules.Where(r => r.Enabled).OrderBy(r => r.Priority).ThenBy(r => r.Id)];
        return new RuleSet(policy, ordered, previous?.Counters);
    }

    /// <summary>The first rule in evaluation order matching the tuple, or the default policy. No allocation.</summary>
    public FirewallMatch Classify(in FlowTuple tuple)
    {
        FieldRows srcRows;
        FieldRows dstRows;
        int src;
        int dst;
        if (tuple.IsIPv6)
        {
            (srcRows, src) = (_srcV6, _srcV6Ids[BitVectorField.Find(_srcV6Starts, tuple.Source)]);
            (dstRows, dst) = (_dstV6, _dstV6Ids[BitVectorField.Find(_dstV6Starts, tuple.Destination)]);
        }
        else
        {
            (srcRows, src) = (_srcV4, _srcV4Ids[BitVectorField.Find(_srcV4Starts, (uint)tuple.Source)]);
            (dstRows, dst) = (_dstV4, _dstV4Ids[BitVectorField.Find(_dstV4Starts, (uint)tuple.Destination)]);
        }

        bool ports = tuple.HasPorts;
        int p = _protocolIds[tuple.Protocol];
        int sp = _srcPortIds[ports ? tuple.SourcePort : NoPorts];
        int dp = _dstPortIds[ports ? tuple.DestinationPort : NoPorts];
        int i = _ifidIds[tuple.IngressIfid];
        int t = _icmpIds[tuple.IsIcmp ? tuple.IcmpType : NotIcmp];
        int v = _vlanIds[tuple.IngressVlan & MaxVlanBits];

        int summaryWords = srcRows.SummaryWords;
        for (int sw = 0; sw < summaryWords; sw++)
        {
            ulong candidates = Unsafe.Add(ref srcRows.Summary(src), sw) & Unsafe.Add(ref dstRows.Summary(dst), sw)
                & Unsafe.Add(ref _protocol.Summary(p), sw) & Unsafe.Add(ref _srcPort.Summary(sp), sw)
                & Unsafe.Add(ref _dstPort.Summary(dp), sw) & Unsafe.Add(ref _ifid.Summary(i), sw)
                & Unsafe.Add(ref _icmp.Summary(t), sw) & Unsafe.Add(ref _vlan.Summary(v), sw);
            while (candidates != 0)
            {
                int w = (sw << 6) + BitOperations.TrailingZeroCount(candidates);
                ulong x = Unsafe.Add(ref srcRows.Row(src), w) & Unsafe.Add(ref dstRows.Row(dst), w)
                    & Unsafe.Add(ref _protocol.Row(p), w) & Unsafe.Add(ref _srcPort.Row(sp), w)
                    & Unsafe.Add(ref _dstPort.Row(dp), w) & Unsafe.Add(ref _ifid.Row(i), w)
                    & Unsafe.Add(ref _icmp.Row(t), w) & Unsafe.Add(ref _vlan.Row(v), w);
                if (x != 0)
                {
                    return _matches[(w << 6) + BitOperations.TrailingZeroCount(x)];
                }

                candidates &= candidates - 1;
            }
        }

        return _default;
    }

    private static BitVectorField.FieldRange AddressRange(IPNetwork? network, AddressFamily? ruleFamily, AddressFamily field)
    {
        if (ruleFamily is { } f && f != field)
        {
            return BitVectorField.FieldRange.None;
        }

        UInt128 max = field == AddressFamily.InterNetwork ? uint.MaxValue : UInt128.MaxValue;
        if (network is not { } n)
        {
            return BitVectorField.FieldRange.All(max);
        }

        (UInt128 low, UInt128 high) = PrefixRange.Of(n);
        return new(true, low, high);
    }

    private static BitVectorField.FieldRange Exact(byte? value, int domain) =>
        value is { } v ? new(true, v, v) : BitVectorField.FieldRange.All((UInt128)(domain - 1));

    private static (uint[] Starts, int[] Ids, FieldRows Rows) BuildV4(BitVectorField.FieldRange[] ranges, int words)
    {
        BitVectorField.Built built = BitVectorField.Build(ranges, uint.MaxValue, words);
        uint[] starts = [.. built.Starts.Select(s => (uint)s)];
        return (starts, built.RowIds, built.Rows);
    }

    private static (int[] Ids, FieldRows Rows) BuildDirect(BitVectorField.FieldRange[] ranges, int domain, int words)
    {
        BitVectorField.Built built = BitVectorField.Build(ranges, (UInt128)(domain - 1), words);
        return (BitVectorField.ExpandDirect(built, domain), built.Rows);
    }
}
