using System.Net.Sockets;

namespace Dva.Node.Services.LoadBalancer;

/// <summary>A VIP as compiled into one <see cref="LoadBalancerConfig"/>, with the state its pool method needs.</summary>
internal sealed class VipEntry
{
    private readonly MemberEntry[] _members;
    private readonly MemberEntry[] _eligible;
    private readonly bool _equalWeights;
    private readonly ulong _hashSeed;
    private readonly Lock _wrrGate = new();
    private readonly long[] _wrrCurrent;
    private long _next;

    public VipEntry(Vip vip, ActiveFlows activeFlows, Func<VipEntry, Member, ActiveFlows> memberFlows, ulong hashSeed)
    {
        ArgumentNullException.ThrowIfNull(vip);
        ArgumentNullException.ThrowIfNull(memberFlows);
        Vip = vip;
        Key = VipKey.Of(vip.Address, vip.Port, vip.Protocol);
        ActiveFlows = activeFlows;
        _hashSeed = hashSeed;
        _members = [.. vip.Pool.Members.Select(m => new MemberEntry(this, m, memberFlows(this, m)))];
        _eligible = [.. _members.Where(m => m.AcceptsNewFlows)];
        _equalWeights = _eligible.All(m => m.Weight == _eligible[0].Weight);
        _wrrCurrent = new long[_eligible.Length];
    }

    public Vip Vip { get; }
    public VipKey Key { get; }
    public ActiveFlows ActiveFlows { get; }
    public LbMethod Method => Vip.Pool.Method;

    /// <summary>All members in configured order, including those that take no new flows.</summary>
    public IReadOnlyList<MemberEntry> Members => _members;

    /// <summary>
    /// Picks a member for a new flow and counts the flow on it and on the VIP; false when no member
    /// accepts new flows. The caller stores the member in the flow and calls <see cref="MemberEntry.Release"/>
    /// when the flow ends. No allocation.
    /// </summary>
    public bool TryAssign(in FlowTuple tuple, out MemberEntry member)
    {
        MemberEntry? chosen = Pick(tuple);
        if (chosen is null)
        {
            member = null!;
            return false;
        }

        chosen.ActiveFlows.Increment();
        ActiveFlows.Increment();
        member = chosen;
        return true;
    }

    private MemberEntry? Pick(in FlowTuple tuple)
    {
        MemberEntry[] eligible = _eligible;
        if (eligible.Length == 0)
        {
            return null;
        }

        return Method switch
        {
            LbMethod.WeightedRoundRobin => PickSmoothWeighted(eligible),
            LbMethod.LeastConnections => PickLeastConnections(eligible),
            LbMethod.SourceHash => PickRendezvous(eligible, tuple.Source),
            _ => eligible[(int)((ulong)(Interlocked.Increment(ref _next) - 1) % (ulong)eligible.Length)],
        };
    }

    /// <summary>nginx's smooth weighted round robin: every pick adds each weight to its member's current value, takes the largest, and subtracts the total from it.</summary>
    private MemberEntry PickSmoothWeighted(MemberEntry[] eligible)
    {
        // A short lock: the picks of one pool must see each other's updates to stay exact, and this
        // runs once per new flow, not per packet.
        lock (_wrrGate)
        {
            long total = 0;
            int best = 0;
            for (int i = 0; i < eligible.Length; i++)
            {
                _wrrCurrent[i] += eligible[i].Weight;
                total += eligible[i].Weight;
                if (_wrrCurrent[i] > _wrrCurrent[best])
                {
                    best = i;
                }
            }

            _wrrCurrent[best] -= total;
            return eligible[best];
        }
    }

    /// <summary>Fewest active flows per unit of weight; ties go round robin so equal members share evenly.</summary>
    private MemberEntry PickLeastConnections(MemberEntry[] eligible)
    {
        int n = eligible.Length;
        int start = (int)((ulong)(Interlocked.Increment(ref _next) - 1) % (ulong)n);
        MemberEntry best = eligible[start];
        long bestCount = best.ActiveFlows.Count;
        for (int k = 1; k < n; k++)
        {
            MemberEntry candidate = eligible[(start + k) % n];
            long count = candidate.ActiveFlows.Count;

            // count/weight < bestCount/bestWeight without division.
            if (count * best.Weight < bestCount * candidate.Weight)
            {
                best = candidate;
                bestCount = count;
            }
        }

        return best;
    }

    /// <summary>
    /// Highest random weight (rendezvous) hashing: each member scores the source, the highest score
    /// wins. Removing a member changes only the choice of sources it was winning; weights use
    /// the logarithmic method (score = weight / -ln(u)) so shares follow weights.
    /// </summary>
    private MemberEntry PickRendezvous(MemberEntry[] eligible, UInt128 source)
    {
        ulong sourceHash = Mix.Hash64(Mix.Hash64((ulong)(source >> 64) ^ _hashSeed) ^ (ulong)source);
        MemberEntry best = eligible[0];
        if (_equalWeights)
        {
            ulong bestScore = Mix.Hash64(sourceHash ^ best.HashKey);
            for (int i = 1; i < eligible.Length; i++)
            {
                ulong score = Mix.Hash64(sourceHash ^ eligible[i].HashKey);
                if (score > bestScore)
                {
                    best = eligible[i];
                    bestScore = score;
                }
            }

            return best;
        }

        double bestWeighted = double.NegativeInfinity;
        foreach (MemberEntry member in eligible)
        {
            // u in (0, 1): the top 53 bits plus a half step, so ln(u) is finite and negative.
            double u = ((Mix.Hash64(sourceHash ^ member.HashKey) >> 11) + 0.5) * (1.0 / (1UL << 53));
            double weighted = member.Weight / -Math.Log(u);
            if (weighted > bestWeighted)
            {
                best = member;
                bestWeighted = weighted;
            }
        }

        return best;
    }
}

/// <summary>What identifies a VIP on the wire: address, port and protocol.</summary>
internal readonly record struct VipKey(AddressFamily Family, UInt128 Address, ushort Port, byte Protocol)
{
    public static VipKey Of(System.Net.IPAddress address, ushort port, byte protocol)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new VipKey(address.AddressFamily, AddressBits.ToUInt128(address), port, protocol);
    }

    public static VipKey Destination(in FlowTuple tuple) => new(tuple.Family, tuple.Destination, tuple.DestinationPort, tuple.Protocol);
}
