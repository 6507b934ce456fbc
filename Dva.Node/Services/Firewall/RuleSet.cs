using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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

    private readonly int _summaryWords;
    private readonly FirewallMatch _default;
    private readonly FirewallMatch[] _matches;

    private readonly uint[] _srcV4Starts;
    private readonly int[] _srcV4Rows;
    private readonly UInt128[] _srcV6Starts;
    private readonly int[] _srcV6Rows;
    private readonly uint[] _dstV4Starts;
    private readonly int[] _dstV4Rows;
    private readonly UInt128[] _dstV6Starts;
    private readonly int[] _dstV6Rows;
    private readonly int[] _protocol;
    private readonly int[] _srcPort;
    private readonly int[] _dstPort;
    private readonly int[] _ifid;
    private readonly int[] _icmp;

    private readonly ulong[] _srcV4Bits;
    private readonly ulong[] _srcV6Bits;
    private readonly ulong[] _dstV4Bits;
    private readonly ulong[] _dstV6Bits;
    private readonly ulong[] _protocolBits;
    private readonly ulong[] _srcPortBits;
    private readonly ulong[] _dstPortBits;
    private readonly ulong[] _ifidBits;
    private readonly ulong[] _icmpBits;

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
        _summaryWords = BitVectorField.SummaryWords(words);
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
        }

        (_srcV4Starts, _srcV4Rows, _srcV4Bits) = BuildV4(srcV4, words);
        (_srcV6Starts, _srcV6Rows, _srcV6Bits) = BitVectorField.Build(srcV6, UInt128.MaxValue, words);
        (_dstV4Starts, _dstV4Rows, _dstV4Bits) = BuildV4(dstV4, words);
        (_dstV6Starts, _dstV6Rows, _dstV6Bits) = BitVectorField.Build(dstV6, UInt128.MaxValue, words);
        (_protocol, _protocolBits) = BuildDirect(protocol, ByteDomain, words);
        (_srcPort, _srcPortBits) = BuildDirect(srcPort, PortDomain, words);
        (_dstPort, _dstPortBits) = BuildDirect(dstPort, PortDomain, words);
        (_ifid, _ifidBits) = BuildDirect(ifid, ByteDomain, words);
        (_icmp, _icmpBits) = BuildDirect(icmp, IcmpDomain, words);
    }

    public static RuleSet Empty { get; } = new(new FirewallPolicy(), [], null);

    public FirewallPolicy Policy { get; }

    /// <summary>The enabled rules in evaluation order; <see cref="FirewallMatch.RuleIndex"/> indexes this.</summary>
    public IReadOnlyList<FirewallRule> Rules { get; }

    public RuleCounters Counters { get; }

    /// <summary>Total bytes held by the classification rows (for the operator's view of memory).</summary>
    public long RowBytes =>
        8L * (_srcV4Bits.Length + _srcV6Bits.Length + _dstV4Bits.Length + _dstV6Bits.Length + _protocolBits.Length
            + _srcPortBits.Length + _dstPortBits.Length + _ifidBits.Length + _icmpBits.Length);

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
        int src;
        int dst;
        ref ulong srcBits = ref Unsafe.NullRef<ulong>();
        ref ulong dstBits = ref Unsafe.NullRef<ulong>();
        if (tuple.IsIPv6)
        {
            src = _srcV6Rows[BitVectorField.Find(_srcV6Starts, tuple.Source)];
            dst = _dstV6Rows[BitVectorField.Find(_dstV6Starts, tuple.Destination)];
            srcBits = ref MemoryMarshal.GetArrayDataReference(_srcV6Bits);
            dstBits = ref MemoryMarshal.GetArrayDataReference(_dstV6Bits);
        }
        else
        {
            src = _srcV4Rows[BitVectorField.Find(_srcV4Starts, (uint)tuple.Source)];
            dst = _dstV4Rows[BitVectorField.Find(_dstV4Starts, (uint)tuple.Destination)];
            srcBits = ref MemoryMarshal.GetArrayDataReference(_srcV4Bits);
            dstBits = ref MemoryMarshal.GetArrayDataReference(_dstV4Bits);
        }

        bool ports = tuple.HasPorts;
        ref ulong s = ref Unsafe.Add(ref srcBits, src);
        ref ulong d = ref Unsafe.Add(ref dstBits, dst);
        ref ulong p = ref Row(_protocolBits, _protocol, tuple.Protocol);
        ref ulong sp = ref Row(_srcPortBits, _srcPort, ports ? tuple.SourcePort : NoPorts);
        ref ulong dp = ref Row(_dstPortBits, _dstPort, ports ? tuple.DestinationPort : NoPorts);
        ref ulong i = ref Row(_ifidBits, _ifid, tuple.IngressIfid);
        ref ulong t = ref Row(_icmpBits, _icmp, tuple.IsIcmp ? tuple.IcmpType : NotIcmp);

        int summaryWords = _summaryWords;
        for (int sw = 0; sw < summaryWords; sw++)
        {
            ulong candidates = Unsafe.Add(ref s, sw) & Unsafe.Add(ref d, sw) & Unsafe.Add(ref p, sw) & Unsafe.Add(ref sp, sw)
                & Unsafe.Add(ref dp, sw) & Unsafe.Add(ref i, sw) & Unsafe.Add(ref t, sw);
            while (candidates != 0)
            {
                int w = summaryWords + (sw << 6) + BitOperations.TrailingZeroCount(candidates);
                ulong x = Unsafe.Add(ref s, w) & Unsafe.Add(ref d, w) & Unsafe.Add(ref p, w) & Unsafe.Add(ref sp, w)
                    & Unsafe.Add(ref dp, w) & Unsafe.Add(ref i, w) & Unsafe.Add(ref t, w);
                if (x != 0)
                {
                    return _matches[((w - summaryWords) << 6) + BitOperations.TrailingZeroCount(x)];
                }

                candidates &= candidates - 1;
            }
        }

        return _default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref ulong Row(ulong[] bits, int[] table, int value) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(bits), table[value]);

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

    private static (uint[] Starts, int[] Rows, ulong[] Bits) BuildV4(BitVectorField.FieldRange[] ranges, int words)
    {
        BitVectorField.Built built = BitVectorField.Build(ranges, uint.MaxValue, words);
        uint[] starts = [.. built.Starts.Select(s => (uint)s)];
        return (starts, built.RowOffsets, built.Rows);
    }

    private static (int[] Table, ulong[] Bits) BuildDirect(BitVectorField.FieldRange[] ranges, int domain, int words)
    {
        BitVectorField.Built built = BitVectorField.Build(ranges, (UInt128)(domain - 1), words);
        return (BitVectorField.ExpandDirect(built, domain), built.Rows);
    }
}
