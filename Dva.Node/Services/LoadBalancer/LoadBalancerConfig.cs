using System.Collections.Frozen;
using System.Net;

namespace Dva.Node.Services.LoadBalancer;

/// <summary>VIP lookup by (address, port, protocol): one frozen-hash probe, no allocation.</summary>
internal sealed class VipTable
{
    private readonly FrozenDictionary<VipKey, VipEntry> _byKey;

    public VipTable(IEnumerable<VipEntry> entries)
    {
        _byKey = entries.ToFrozenDictionary(e => e.Key);
    }

    public int Count => _byKey.Count;

    public bool TryFind(in VipKey key, out VipEntry vip) => _byKey.TryGetValue(key, out vip!);

    /// <summary>The VIP a flow's first packet is addressed to, if any.</summary>
    public bool TryFind(in FlowTuple tuple, out VipEntry vip) => _byKey.TryGetValue(VipKey.Destination(tuple), out vip!);
}

/// <summary>
/// An immutable compiled load balancer configuration. Publish a new one by one reference write
/// (<see cref="LoadBalancerState"/>); readers never lock. Active-flow counters carry over from the
/// previous configuration for every VIP and member (by endpoint) that stays.
/// </summary>
internal sealed class LoadBalancerConfig
{
    private readonly Dictionary<VipKey, ActiveFlows> _vipFlows;
    private readonly Dictionary<(VipKey Vip, IPAddress Address, ushort Port), ActiveFlows> _memberFlows;

    private LoadBalancerConfig(IReadOnlyList<Vip> vips, LoadBalancerConfig? previous, ulong sourceHashSeed)
    {
        Vips = vips;
        SourceHashSeed = sourceHashSeed;
        _vipFlows = [];
        _memberFlows = [];
        var entries = new List<VipEntry>(vips.Count);
        foreach (Vip vip in vips)
        {
            VipKey key = VipKey.Of(vip.Address, vip.Port, vip.Protocol);
            ActiveFlows vipFlows = previous?._vipFlows.GetValueOrDefault(key) ?? new ActiveFlows();
            _vipFlows[key] = vipFlows;
            entries.Add(new VipEntry(vip, vipFlows, MemberFlows, sourceHashSeed));
        }

        Table = new VipTable(entries);
        Entries = entries;

        ActiveFlows MemberFlows(VipEntry vip, Member member)
        {
            var memberKey = (vip.Key, member.Address, member.Port);
            ActiveFlows flows = previous?._memberFlows.GetValueOrDefault(memberKey) ?? new ActiveFlows();
            _memberFlows[memberKey] = flows;
            return flows;
        }
    }

    public static LoadBalancerConfig Empty { get; } = new([], null, 0);

    public IReadOnlyList<Vip> Vips { get; }
    public ulong SourceHashSeed { get; }
    public VipTable Table { get; }

    /// <summary>The compiled VIPs in configuration order (for counters; the data path uses <see cref="Table"/>).</summary>
    public IReadOnlyList<VipEntry> Entries { get; }

    /// <summary>
    /// Compiles VIPs; throws <see cref="ArgumentException"/> listing every problem if any is invalid.
    /// <paramref name="sourceHashSeed"/> keeps outsiders from predicting which member a source lands on.
    /// </summary>
    public static LoadBalancerConfig Compile(IReadOnlyList<Vip> vips, LoadBalancerConfig? previous = null, ulong sourceHashSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(vips);
        IReadOnlyList<string> errors = Validate(vips);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid load balancer configuration: " + string.Join("; ", errors), nameof(vips));
        }

        return new LoadBalancerConfig(vips, previous, sourceHashSeed);
    }

    /// <summary>Every problem with the VIPs, empty when valid.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<Vip> vips)
    {
        ArgumentNullException.ThrowIfNull(vips);
        var errors = new List<string>();
        var keys = new HashSet<VipKey>();
        foreach (Vip vip in vips)
        {
            string name = $"VIP {vip.Address}:{vip.Port}/{vip.Protocol}";
            if (!keys.Add(VipKey.Of(vip.Address, vip.Port, vip.Protocol)))
            {
                errors.Add($"{name}: defined twice");
            }

            if (!IpProtocols.HasPorts(vip.Protocol))
            {
                errors.Add($"{name}: protocol {vip.Protocol} has no ports (use TCP, UDP or SCTP)");
            }

            if (!Enum.IsDefined(vip.Pool.Method))
            {
                errors.Add($"{name}: unknown method {(int)vip.Pool.Method}");
            }

            var endpoints = new HashSet<(IPAddress, ushort)>();
            foreach (Member member in vip.Pool.Members)
            {
                string memberName = $"{name}: member {member.Address}:{member.Port}";
                if (!endpoints.Add((member.Address, member.Port)))
                {
                    errors.Add($"{memberName}: listed twice");
                }

                if (member.Address.AddressFamily != vip.Address.AddressFamily)
                {
                    errors.Add($"{memberName}: address family differs from the VIP's (no NAT between IPv4 and IPv6)");
                }

                if (member.Weight is < 1 or > 1_000_000)
                {
                    errors.Add($"{memberName}: weight {member.Weight} outside 1..1000000 (disable the member instead of weight 0)");
                }

                if (member.Port == 0)
                {
                    errors.Add($"{memberName}: port 0");
                }
            }
        }

        return errors;
    }
}

/// <summary>Holds the current configuration; the data path reads <see cref="Current"/> once per packet.</summary>
internal sealed class LoadBalancerState
{
    private volatile LoadBalancerConfig _current = LoadBalancerConfig.Empty;

    public LoadBalancerConfig Current => _current;

    /// <summary>Compiles and swaps in a new configuration; not for concurrent writers (the node agent's one config loop).</summary>
    public LoadBalancerConfig Publish(IReadOnlyList<Vip> vips, ulong sourceHashSeed)
    {
        LoadBalancerConfig next = LoadBalancerConfig.Compile(vips, _current, sourceHashSeed);
        _current = next;
        return next;
    }
}
