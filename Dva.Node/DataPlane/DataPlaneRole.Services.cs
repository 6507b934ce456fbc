using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Io;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

/*
 The network services in the pipeline (DESIGN.md §8, docs/services.md).

 A flow's first packet (the one that created its entry):
   PREROUTING nat   a flow to a VIP gets a member (VipEntry.TryAssign) and a NAT slot; destination := member.
   FORWARD filter   classified once (RuleSet.Classify on the post-DNAT tuple, like netfilter's FORWARD); the rule
                    and verdict are stored on the flow. Drop/reject: the flow stays, denied, until it idles out.
   POSTROUTING nat  source := the egress interface's SNAT address, with a port whose REPLY key hashes to a bucket
                    this data plane owns in the current table; the flow is indexed under the reply key too.
 Later packets: original direction DNAT+SNAT as stored, reply direction (found through the reply key) the inverse:
 destination := client at PREROUTING, source := VIP at POSTROUTING. Denied flows are dropped (or answered again, for
 reject) before any stage. When a flow is removed its member count and SNAT port are given back (NatTable.Release).

 No owned port after DataPlaneOptions.SnatTries candidates (probability (1-1/N)^16 with N equal data planes): the
 flow keeps the first free port anyway, and the reply's bucket owner R is told (DESIGN.md §2 HANDOFF STEER):
   here → R    HANDOFF STEER, HOOK POSTROUTING / TABLE nat: the finished original-direction packet. R records a steer
               stub under the packet's key (= the reply key) naming this node, and sends the packet out as EGRESS.
               Sent so until the first reply arrives here, so a lost packet cannot leave the reply without its stub.
   R → here    every packet found under the stub (the replies, DISPATCHed or PUNTed to R): HANDOFF STEER, HOOK none.
               Found here under the reply alias and processed like any reply.
 Counted as SteerSent / SteerReceived on both sides; the stub idles out like a flow and counts in R's bucket.
*/
internal sealed partial class DataPlaneRole
{
    private readonly NatTable _nat;
    private readonly LoadBalancerState _loadBalancer;
    private readonly SnatPortAllocator _snatPorts;
    private readonly IpAddr[] _snatV4 = new IpAddr[256];
    private readonly IpAddr[] _snatV6 = new IpAddr[256];

    /// <summary>Interfaces whose SNAT address of the family is configured (<c>loadBalancer.snat</c>), not the default.</summary>
    private readonly bool[] _snatConfiguredV4 = new bool[256];
    private readonly bool[] _snatConfiguredV6 = new bool[256];
    private volatile RuleSet? _firewall;

    /// <summary>The compiled firewall; null when none is configured (every flow is accepted).</summary>
    internal RuleSet? Firewall => _firewall;

    /// <summary>The compiled load balancer configuration (VIPs, members with their active-flow counts).</summary>
    internal LoadBalancerConfig LoadBalancer => _loadBalancer.Current;

    /// <summary>Translated flows on this node; engine thread only.</summary>
    internal NatTable Nat => _nat;

    private MidStreamPolicy MidStream => _firewall is { } rules
        ? (rules.Policy.MidStream == Services.Firewall.MidStreamPolicy.Loose ? MidStreamPolicy.Loose : MidStreamPolicy.Strict)
        : _options.MidStreamPolicy;

    /// <summary>Replaces the firewall of every engine (one reference write each); counters of rules that stay carry over. Null removes it.</summary>
    internal RuleSet? PublishFirewall(FirewallPolicy? policy)
    {
        var next = policy is null ? null : RuleSet.Compile(policy, _firewall);
        foreach (var role in _group)
        {
            role._firewall = next;
        }

        return next;
    }

    /// <summary>Replaces the VIPs (one reference write, in the state every engine shares); flows keep their member; members' flow counts carry over.</summary>
    internal LoadBalancerConfig PublishLoadBalancer(IReadOnlyList<Vip> vips) => _loadBalancer.Publish(vips, _tables.State.Current?.Seed ?? 0);

    private void ConfigureServices(NodeSettings settings, DataPlaneRole? sharesServicesOf)
    {
        if (sharesServicesOf is not null)
        {
            _firewall = sharesServicesOf._firewall;
        }
        else if (settings.Firewall is { } firewall)
        {
            _ = PublishFirewall(firewall);
        }

        foreach (var i in settings.Interfaces)
        {
            foreach (var address in i.Addresses)
            {
                var a = IpAddr.From(address);
                ref var slot = ref a.IsV4 ? ref _snatV4[i.Ifid] : ref _snatV6[i.Ifid];
                if (slot.Version == 0)
                {
                    slot = a;
                }
            }
        }

        if (settings.LoadBalancer is { } lb)
        {
            foreach (var (ifid, address) in lb.SnatAddresses)
            {
                var a = IpAddr.From(address);
                (a.IsV4 ? _snatV4 : _snatV6)[ifid] = a;
                (a.IsV4 ? _snatConfiguredV4 : _snatConfiguredV6)[ifid] = true;
            }

            if (sharesServicesOf is null)
            {
                _ = _loadBalancer.Publish(lb.Vips, settings.Table?.Seed ?? 0);
            }
        }
    }

    /// <summary>Removes a flow that was created for this packet but not decided (no member, no SNAT port).</summary>
    private void ForgetFlow(int slot)
    {
        _flows.RemoveAt(slot);
        _counters.FlowsActive = _flows.Count;
    }

    /// <summary>PREROUTING (nat): a new flow to a VIP is assigned a member; every packet of a translated flow has its destination rewritten.</summary>
    private StageResult PreRouting(Span<byte> frame, ref PacketInfo info, int slot, bool original, bool created)
    {
        ref var flow = ref _flows[slot];
        if (created)
        {
            return AssignMember(frame, ref info, slot);
        }

        if (flow.NatIndex == 0)
        {
            return StageResult.Accept;
        }

        ref var nat = ref _nat[flow.NatIndex];
        nat.Binding.Member?.CountBytes(PacketBytes(info));
        if (info.IsIcmpError)
        {
            return TranslateIcmpError(frame, ref info, ref nat, original);
        }

        if (original)
        {
            return Rewrite(frame, ref info, destination: true, nat.Member, nat.MemberPort);
        }

        return nat.HasSnat ? Rewrite(frame, ref info, destination: true, nat.Client, nat.ClientPort) : StageResult.Accept;
    }

    private StageResult AssignMember(Span<byte> frame, ref PacketInfo info, int slot)
    {
        var config = _loadBalancer.Current;
        if (config.Table.Count == 0 || !info.HasPorts)
        {
            return StageResult.Accept;
        }

        var tuple = TupleOf(info, 0);
        if (!config.Table.TryFind(tuple, out var vip))
        {
            return StageResult.Accept;
        }

        if (!vip.TryAssign(tuple, out var member))
        {
            return StageResult.Dropped(DropReason.NoBackend);
        }

        var index = _nat.Allocate();
        if (index == 0)
        {
            member.Release();
            return StageResult.Dropped(DropReason.NoBackend);
        }

        ref var flow = ref _flows[slot];
        flow.NatIndex = index;
        ref var nat = ref _nat[index];
        nat.Binding = NatBinding.Dnat(member);
        nat.Client = info.Source;
        nat.ClientPort = info.SrcPort;
        nat.Vip = info.Destination;
        nat.VipPort = info.DstPort;
        nat.Member = member.Family == System.Net.Sockets.AddressFamily.InterNetwork ? IpAddr.FromV4((uint)member.Address) : IpAddr.FromV6(member.Address);
        nat.MemberPort = member.Port;
        nat.OriginalKey = flow.Key;
        nat.OriginalHash = flow.Hash;
        member.CountBytes(PacketBytes(info));
        return Rewrite(frame, ref info, destination: true, nat.Member, nat.MemberPort);
    }

    /// <summary>FORWARD (filter): the first packet of a flow is classified and the verdict stored; later packets are counted on the rule.</summary>
    private StageResult Forward(ref PacketInfo info, byte ingressIfid, ushort ingressVlan, int slot, bool created)
    {
        var rules = _firewall;
        if (rules is null)
        {
            return StageResult.Accept;
        }

        ref var flow = ref _flows[slot];
        if (!created)
        {
            rules.Counters.RecordPacket(flow.RuleIndex, PacketBytes(info));
            return StageResult.Accept;
        }

        var match = rules.Classify(TupleOf(info, ingressIfid, ingressVlan));
        rules.Counters.RecordEvaluation(match, PacketBytes(info));
        rules.Counters.RecordFlow(match.RuleIndex);
        flow.RuleIndex = match.RuleIndex;
        flow.Firewall = match.Action;
        return match.Action switch
        {
            FirewallAction.Accept => StageResult.Accept,
            FirewallAction.Reject => StageResult.Dropped(DropReason.FirewallReject),
            _ => DenyTranslated(slot, DropReason.FirewallDrop),
        };
    }

    // A denied flow keeps no member and no port: it will never be forwarded.
    private StageResult DenyTranslated(int slot, DropReason reason)
    {
        ref var flow = ref _flows[slot];
        if (flow.NatIndex != 0)
        {
            _nat.Release(flow.NatIndex);
            flow.NatIndex = 0;
        }

        return StageResult.Dropped(reason);
    }

    /// <summary>A later packet of a denied flow: counted on its rule, dropped or answered again without classification.</summary>
    private Verdict Denied(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, int slot)
    {
        ref var flow = ref _flows[slot];
        _firewall?.Counters.RecordPacket(flow.RuleIndex, PacketBytes(info));
        return flow.Firewall == FirewallAction.Reject ? Reject(buffer, rx, ref info, slot) : Drop(DropReason.FirewallDrop);
    }

    /// <summary>
    /// A rejected packet is dropped (counted FirewallReject) and its sender told: a TCP RST from the address it
    /// wrote to, or ICMP administratively prohibited from the ingress interface's shared address. A translated
    /// packet is put back as the client sent it first, so the answer comes from the VIP. Never answers an ICMP
    /// error or a RST (PacketBuilder refuses).
    /// </summary>
    private Verdict Reject(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, int slot)
    {
        var frame = buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength);
        ref var flow = ref _flows[slot];
        if (flow.NatIndex != 0)
        {
            ref var nat = ref _nat[flow.NatIndex];
            _ = Rewrite(frame, ref info, destination: true, nat.Vip, nat.VipPort);
        }

        _ = DenyTranslated(slot, DropReason.FirewallReject);
        Drop(DropReason.FirewallReject);
        int length;
        if (info.Protocol == PacketConstants.ProtocolTcp)
        {
            length = PacketBuilder.TcpRst(_scratch, frame, info);
        }
        else if (!_routes.TryGetLocalAddress(rx.IfId, info.IpVersion, rx.VlanId, out var source))
        {
            length = 0;
        }
        else if (!_icmpLimit.TryTake())
        {
            _counters.Count(TunnelCounter.IcmpRateLimited);
            return Verdict.Drop;
        }
        else
        {
            length = info.IpVersion == 4
                ? PacketBuilder.Icmpv4DestinationUnreachable(_scratch, frame, info, Services.Firewall.Reject.IcmpCode, 0, source.V4)
                : PacketBuilder.Icmpv6Error(_scratch, frame, info, Services.Firewall.Reject.IcmpV6Type, Services.Firewall.Reject.IcmpV6Code, 0, source.Value);
        }

        return length == 0 ? Verdict.Drop : SendAnswer(buffer, rx, length);
    }

    /// <summary>
    /// POSTROUTING (nat): the first packet of a translated flow gets its SNAT address and port, and the flow its
    /// reply key; later packets the stored source (original direction) or the VIP as source (reply direction).
    /// </summary>
    private StageResult SourceNat(Span<byte> frame, ref PacketInfo info, int slot, bool original, bool created, byte egressIfid, ushort egressVlan)
    {
        ref var flow = ref _flows[slot];
        if (flow.NatIndex == 0)
        {
            return StageResult.Accept;
        }

        ref var nat = ref _nat[flow.NatIndex];
        if (created)
        {
            return BindSource(frame, ref info, slot, ref nat, egressIfid, egressVlan);
        }

        if (info.IsIcmpError)
        {
            // Both headers were translated at PREROUTING (TranslateIcmpError).
            if (!original)
            {
                nat.ReplySeen = true;
            }

            return StageResult.Accept;
        }

        if (!original)
        {
            nat.ReplySeen = true;
            return Rewrite(frame, ref info, destination: false, nat.Vip, nat.VipPort);
        }

        return nat.HasSnat ? Rewrite(frame, ref info, destination: false, nat.Snat, nat.SnatPort) : StageResult.Accept;
    }

    /// <summary>
    /// An ICMP error quoting a packet of a translated flow (IcmpErrorNat). Reply direction (from the member's side,
    /// quoting SNAT → member): to the client, quoting client → VIP, from the VIP when the member itself sent it.
    /// Original direction (from the client's side, quoting VIP → client): to the member, from the SNAT address,
    /// quoting member → SNAT address.
    /// </summary>
    private static StageResult TranslateIcmpError(Span<byte> frame, ref PacketInfo info, ref NatEntry nat, bool original)
    {
        var client = nat.HasSnat ? nat.Snat : nat.Client;
        var clientPort = nat.HasSnat ? nat.SnatPort : nat.ClientPort;
        var translated = original
            ? IcmpErrorNat.TryTranslate(frame, ref info, info.Source, nat.HasSnat ? nat.Snat : info.Source, nat.Member,
                nat.Member, nat.MemberPort, client, clientPort)
            : IcmpErrorNat.TryTranslate(frame, ref info, nat.Member, nat.Vip, nat.Client,
                nat.Client, nat.ClientPort, nat.Vip, nat.VipPort);
        return translated ? StageResult.Accept : StageResult.Dropped(DropReason.MalformedFrame);
    }

    /// <summary>
    /// The source a translated flow leaving by <paramref name="ifid"/> gets: the configured SNAT address; else, toward a
    /// sub-interface's subnet (<paramref name="vlan"/> not 0), that sub-interface's address, so the member answers on
    /// its own link; else the interface's first address of the family. None (version 0): DNAT only.
    /// </summary>
    private IpAddr SnatAddress(bool v4, byte ifid, ushort vlan)
    {
        var configured = (v4 ? _snatConfiguredV4 : _snatConfiguredV6)[ifid];
        return !configured && vlan != 0 && _routes.TryGetLocalAddress(ifid, v4 ? (byte)4 : (byte)6, vlan, out var own)
            ? own
            : (v4 ? _snatV4 : _snatV6)[ifid];
    }

    private StageResult BindSource(Span<byte> frame, ref PacketInfo info, int slot, ref NatEntry nat, byte egressIfid, ushort egressVlan)
    {
        ref var flow = ref _flows[slot];
        var table = _tables.State.Current;
        if (table is null)
        {
            return StageResult.Dropped(DropReason.NoTable);
        }

        var member = nat.Binding.Member!;
        var snat = SnatAddress(nat.Member.IsV4, egressIfid, egressVlan);
        FlowKey replyKey;
        if (snat.Version == 0)
        {
            // No shared address of the family on the backend side: DNAT only, the member answers the client itself.
            replyKey = FlowKey.FromTuple(nat.Member, nat.Client, nat.MemberPort, nat.ClientPort, info.Protocol);
        }
        else
        {
            var owner = new ReplyOwner(table, _self, _engineSlot, flow.Hash, nat.Member, nat.MemberPort, snat, info.Protocol);
            var start = (uint)(flow.Hash >> 32) ^ (uint)flow.Created;
            var choice = _snatPorts.Select(member.Family, snat.Value, member, info.Protocol, ref owner, start, out var pool, _options.SnatTries);
            if (choice.Status == SnatStatus.MustSteer && !owner.OnThisEngine(choice.Port))
            {
                // STEER mends a reply that reaches another data plane, not one that reaches another engine of this node:
                // that engine would not find the flow. Settle for a port of this engine instead.
                pool.Release(choice.Port);
                choice = SelectForEngine(pool, ref owner, start);
            }

            if (!choice.HasPort)
            {
                return StageResult.Dropped(DropReason.NoBackend);
            }

            nat.Binding = NatBinding.DnatAndSnat(member, snat.Value, pool, choice);
            nat.Snat = snat;
            nat.SnatPort = choice.Port;
            nat.HasSnat = true;
            replyKey = FlowKey.FromTuple(nat.Member, snat, nat.MemberPort, choice.Port, info.Protocol);
        }

        var replyHash = FlowHasher.Hash(replyKey, table.Seed);
        var replyBucket = FlowHasher.Bucket(replyHash, table.BucketCount);
        nat.ReplyKey = replyKey;
        nat.ReplyHash = replyHash;
        if (!_flows.AddAlias(slot, replyKey, replyHash, replyBucket))
        {
            return StageResult.Dropped(DropReason.FlowTableFull);
        }

        // No port tried gave a reply bucket of ours: its owner will hand the replies here (STEER).
        var replyOwner = table.OwnerOf(replyBucket);
        nat.SteerVia = replyOwner != _self && nat.HasSnat ? replyOwner : (ushort)0;

        nat.HasReply = true;
        return nat.HasSnat ? Rewrite(frame, ref info, destination: false, nat.Snat, nat.SnatPort) : StageResult.Accept;
    }

    /// <summary>
    /// Rewrites an address and its port (checksums fixed incrementally; a checksum left to the device as the pseudo-header
    /// sum it is, <see cref="_partialChecksum"/>) and re-parses, so routing sees the new values.
    /// </summary>
    private StageResult Rewrite(Span<byte> frame, ref PacketInfo info, bool destination, IpAddr address, ushort port)
    {
        var partial = _partialChecksum;
        var error = destination
            ? PacketRewriter.SetDestinationAddress(frame, info, address, partial)
            : PacketRewriter.SetSourceAddress(frame, info, address, partial);
        if (error == RewriteError.None && info.HasPorts)
        {
            error = destination ? PacketRewriter.SetDestinationPort(frame, info, port, partial) : PacketRewriter.SetSourcePort(frame, info, port, partial);
        }

        if (error != RewriteError.None || PacketParser.TryParse(frame, out info) != ParseError.None)
        {
            return StageResult.Dropped(DropReason.MalformedFrame);
        }

        return StageResult.Accept;
    }

    private static FlowTuple TupleOf(in PacketInfo info, byte ingressIfid, ushort ingressVlan = 0) => new(
        info.IpVersion == 6 ? System.Net.Sockets.AddressFamily.InterNetworkV6 : System.Net.Sockets.AddressFamily.InterNetwork,
        info.Source.Value,
        info.Destination.Value,
        info.Protocol,
        info.HasPorts ? info.SrcPort : (ushort)0,
        info.HasPorts ? info.DstPort : (ushort)0,
        ingressIfid,
        info.HasTransportHeader ? info.IcmpType : (byte)0,
        ingressVlan);

    /// <summary>
    /// A free port whose reply reaches this engine, whatever bucket it hashes to (a STEER then covers the bucket). With N
    /// engines a port qualifies with probability 1/N: <see cref="EngineTries"/> candidates leave (1 − 1/N)^64, 10⁻¹⁹ for 2.
    /// </summary>
    private static SnatPortChoice SelectForEngine(SnatPortPool pool, ref ReplyOwner owner, uint start)
    {
        var engineOnly = new ReplyOnEngine(owner);
        var choice = pool.Select(ref engineOnly, start, EngineTries);
        if (choice.Status == SnatStatus.Owned)
        {
            return new SnatPortChoice(owner.OwnsReplyBucket(choice.Port) ? SnatStatus.Owned : SnatStatus.MustSteer, choice.Port);
        }

        if (choice.HasPort)
        {
            pool.Release(choice.Port);
        }

        return new SnatPortChoice(SnatStatus.Exhausted, 0);
    }

    private const int EngineTries = 64;

    /// <summary>
    /// Whether a SNAT source port makes the reply (member → SNAT address:port) hash to a bucket this node owns now, and
    /// reach the engine that holds the flow (the engine of the original key's hash).
    /// </summary>
    private readonly struct ReplyOwner(TableVersion table, ushort self, EngineSlot engines, ulong originalHash, IpAddr member, ushort memberPort, IpAddr snat, byte protocol)
        : IReplyBucketPredicate
    {
        public bool OwnsReplyBucket(ushort sourcePort)
        {
            var hash = ReplyHash(sourcePort);
            return engines.SameEngine(hash, originalHash) && table.OwnerOf(FlowHasher.Bucket(hash, table.BucketCount)) == self;
        }

        public bool OnThisEngine(ushort sourcePort) => engines.SameEngine(ReplyHash(sourcePort), originalHash);

        private ulong ReplyHash(ushort sourcePort) => FlowHasher.Hash(FlowKey.FromTuple(member, snat, memberPort, sourcePort, protocol), table.Seed);
    }

    /// <summary>The engine half of <see cref="ReplyOwner"/> alone.</summary>
    private readonly struct ReplyOnEngine(ReplyOwner owner) : IReplyBucketPredicate
    {
        public bool OwnsReplyBucket(ushort sourcePort) => owner.OnThisEngine(sourcePort);
    }
}
