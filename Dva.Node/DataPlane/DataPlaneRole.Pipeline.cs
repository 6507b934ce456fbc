using Dva.Node.Agent;
using Dva.Node.Io;
using Dva.Node.Routing;
using Dva.Node.Services.Firewall;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

/// <summary>What one pipeline stage decided about a packet.</summary>
internal readonly record struct StageResult(bool Accepted, DropReason Reason)
{
    public static StageResult Accept => new(true, default);

    public static StageResult Dropped(DropReason reason) => new(false, reason);
}

// The processing pipeline of a kept packet (DESIGN.md §8): PREROUTING (nat: the load balancer's DNAT) → routing →
// FORWARD (filter: the firewall) or INPUT → POSTROUTING (nat: SNAT) → output. The service stages live in
// DataPlaneRole.Services.cs; each returns a StageResult.
internal sealed partial class DataPlaneRole
{
    private Verdict RunPipeline(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, int slot, bool original, bool created)
    {
        _partialChecksum = rx.Offload.NeedsChecksum;
        if (!created && _flows[slot].Firewall != FirewallAction.Accept)
        {
            return Denied(buffer, rx, ref info, slot);
        }

        _flows.RememberIngress(slot, original, rx.IfId, rx.VlanTci);

        // The tuple the packet arrived with: a translated flow's shortcut offer names it (PREROUTING and POSTROUTING
        // rewrite info in place).
        var arrived = _shortcuts && info.HasPorts ? OriginOf(info) : default;
        var frame = buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength);
        var stage = PreRouting(frame, ref info, slot, original, created);
        if (!stage.Accepted)
        {
            if (created)
            {
                // Nothing was decided for it: the client's retransmission may find a member or a port.
                ForgetFlow(slot);
            }

            return Drop(stage.Reason);
        }

        if (_routes.IsLocal(info.Destination, out _) || _routes.IsLinkLocalOf(rx.IfId, info.Destination))
        {
            var local = Input(buffer, rx, ref info);
            if (created && local == Verdict.Drop)
            {
                // Nothing here answers it (e.g. a stray reply to an SNAT address whose flow is gone): keeping a flow
                // for it would only hold its bucket's history until the flow timed out.
                ForgetFlow(slot);
            }

            return local;
        }

        if (!_routes.TryRoute(info.Destination, out var route))
        {
            if (created)
            {
                ForgetFlow(slot);
            }

            return Drop(DropReason.NoRoute);
        }

        stage = Forward(ref info, rx.IfId, rx.VlanId, slot, created);
        if (!stage.Accepted)
        {
            return stage.Reason == DropReason.FirewallReject ? Reject(buffer, rx, ref info, slot) : Drop(stage.Reason);
        }

        if (PacketRewriter.DecrementHopLimit(frame, info) != RewriteError.None)
        {
            return TimeExceeded(buffer, rx, ref info);
        }

        stage = SourceNat(frame, ref info, slot, original, created, route.Ifid, route.Vlan);
        if (!stage.Accepted)
        {
            if (created)
            {
                ForgetFlow(slot);
            }

            return Drop(stage.Reason);
        }

        var natIndex = _flows[slot].NatIndex;
        if (original && natIndex != 0)
        {
            ref var nat = ref _nat[natIndex];
            if (nat.SteerVia != 0 && !nat.ReplySeen)
            {
                // The owner records its stub under the reply key: send from that key's port, so the stub is on the
                // owner's engine that the replies reach.
                buffer.SourcePort = TunnelLayout.UdpSourcePort(nat.ReplyHash);
                return HandOff(buffer, rx, nat.SteerVia, Handoff.Steer, Hook.PostRouting, NetfilterTable.Nat);
            }
        }

        return PostRouting(buffer, rx, rx.InnerOffset, rx.InnerLength, route, rx.Offload,
            _flows.TryGetPeerTci(slot, original, route.Ifid, out var flowTci) ? flowTci : null,
            !_shortcuts || created || !MayShortcut(slot, info) ? TunnelShortcut.None
            : natIndex == 0 ? new TunnelShortcut(rx.IfId, rx.VlanId)
            : new TunnelShortcut(rx.IfId, rx.VlanId, arrived));
    }

    /// <summary>The packet's addresses and ports as a SHORTCUT word's ORIGIN block has them (an IPv4 address in the first 4 bytes).</summary>
    private static TunnelShortcutOrigin OriginOf(in PacketInfo info) => new(
        info.Source.IsV4 ? (UInt128)info.Source.V4 << 96 : info.Source.Value,
        info.Destination.IsV4 ? (UInt128)info.Destination.V4 << 96 : info.Destination.Value,
        info.SrcPort,
        info.DstPort);

    /// <summary>
    /// A flow whose packets need nothing of this node but their verdict and its translation, which stand (docs/node.md
    /// "Kernel shortcut"): accepted, not a steer stub, and a TCP connection established (its SYN, FIN and RST still come
    /// here: the kernel sends those to the data plane) or UDP after its first packet. A translated flow's offer carries
    /// the tuple its packets arrive with. Its packets are still counted here one per lease.
    /// </summary>
    private bool MayShortcut(int slot, in PacketInfo info)
    {
        ref readonly var flow = ref _flows[slot];
        return flow.Firewall == FirewallAction.Accept && flow.SteerTo == 0 && info.Protocol switch
        {
            PacketConstants.ProtocolTcp => flow.Tcp.State == Services.Conntrack.TcpState.Established,
            PacketConstants.ProtocolUdp => true,
            _ => false,
        };
    }

    /// <summary>
    /// The packet's own VLAN TCI when it leaves by the interface it came in on (a hairpin on one segment), else untagged
    /// (another interface is another L2 segment): the last rule of <see cref="PostRouting"/>'s choice. Not when it came
    /// in on a sub-interface's VLAN: its route did not lead back into that VLAN's subnets (<see cref="RouteResult.Vlan"/>
    /// would have said so), so it is routed between VLANs and its next hop is looked for on the whole trunk.
    /// </summary>
    private ushort SameSegmentTci(in TunnelHeader rx, byte egressIfId) =>
        egressIfId == rx.IfId && !_routes.IsSubInterfaceVlan(egressIfId, rx.VlanId) ? rx.VlanTci : (ushort)0;

    /// <summary>
    /// INPUT: a packet to one of the DVA's own shared addresses. The DVA answers ping (ICMP and ICMPv6 echo) from the
    /// address that was pinged; it runs no other local service, so anything else is a counted drop.
    /// </summary>
    private Verdict Input(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info)
    {
        var request = buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength);
        var length = info.IpVersion == 4
            ? PacketBuilder.Icmpv4EchoReply(_scratch, request, info)
            : PacketBuilder.Icmpv6EchoReply(_scratch, request, info);
        return length == 0 ? Drop(DropReason.LocalUnhandled) : SendAnswer(buffer, rx, length);
    }

    /// <summary>
    /// The IP TTL / hop limit ran out here: the packet is dropped (counted IpTtlExpired) and, so traceroute works
    /// through the DVA, ICMP time exceeded goes back from the shared address of the interface it came in on.
    /// No answer when that interface has no address of the packet's family or the packet is itself an ICMP error.
    /// </summary>
    private Verdict TimeExceeded(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info)
    {
        Drop(DropReason.IpTtlExpired);
        if (!_routes.TryGetLocalAddress(rx.IfId, info.IpVersion, rx.VlanId, out var source))
        {
            return Verdict.Drop;
        }

        if (!_icmpLimit.TryTake())
        {
            _counters.Count(TunnelCounter.IcmpRateLimited);
            return Verdict.Drop;
        }

        var request = buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength);
        var length = info.IpVersion == 4
            ? PacketBuilder.Icmpv4TimeExceeded(_scratch, request, info, source.V4)
            : PacketBuilder.Icmpv6TimeExceeded(_scratch, request, info, source.Value);
        return length == 0 ? Verdict.Drop : SendAnswer(buffer, rx, length);
    }

    // An answer built in _scratch replaces the request's frame in the same buffer and is routed like any packet; one to a
    // link-local address goes back on the link the request came from, where that address means something.
    private Verdict SendAnswer(PacketBuffer buffer, in TunnelHeader rx, int length)
    {
        var answer = _scratch.AsSpan(0, length);
        if (PacketParser.TryParse(answer, out var parsed) != ParseError.None)
        {
            return Drop(DropReason.NoRoute);
        }

        RouteResult route;
        if (RouteTable.IsLinkLocal(parsed.Destination))
        {
            route = new RouteResult(rx.IfId, parsed.Destination, Connected: true);
        }
        else if (!_routes.TryRoute(parsed.Destination, out route))
        {
            return Drop(DropReason.NoRoute);
        }

        var room = buffer.Writable;
        if (rx.InnerOffset + length > room.Length)
        {
            return Drop(DropReason.Oversize);
        }

        answer.CopyTo(room[rx.InnerOffset..]);
        _ = buffer.SetFrameLength(rx.InnerOffset + length);
        return PostRouting(buffer, rx, rx.InnerOffset, length, route, TunnelOffload.None, flowTci: null);
    }

    /// <summary>
    /// Output, after POSTROUTING: the Ethernet header gets the egress
    /// interface's shared MAC as source and the next hop's MAC from the neighbour table as destination, or zeros
    /// and HANDOFF RESOLVE so the dispatcher fills it. The tunnel header is rewritten in front of the frame as
    /// EGRESS to the interface's dispatcher. With T set the nid list carries on, with this node. A forwarded packet keeps
    /// the <paramref name="offload"/> it came with (a super-frame stays one); an answer this node built has none.
    /// The VLAN TCI it leaves with (0 = untagged), first rule that knows: <paramref name="flowTci"/>, the tag the flow's
    /// other side last came in with when it came in by the egress interface (a reply goes back on its originator's VLAN,
    /// also when the flow crossed interfaces); the VLAN of the sub-interface whose subnet holds the next hop (the
    /// configuration says where that subnet is); the tag the next hop's ARP or neighbour discovery came in with (a host
    /// sits on the VLAN it announced itself on); the packet's own tag when it leaves by the interface it came in on;
    /// untagged.
    /// </summary>
    private Verdict PostRouting(PacketBuffer buffer, in TunnelHeader rx, int innerStart, int innerLength, in RouteResult route, in TunnelOffload offload, ushort? flowTci,
        TunnelShortcut shortcut = default)
    {
        var egress = _interfaces[route.Ifid];
        var mac = _interfaceMacs[route.Ifid];
        if (egress is null || mac is null)
        {
            return Drop(DropReason.UnknownInterface);
        }

        ref readonly var dispatcher = ref _peerAddresses[egress.Dispatcher];
        if (dispatcher.IsEmpty)
        {
            return Drop(DropReason.EgressDispatcherUnknown);
        }

        // A parked payload waits at the dispatcher that received the frame: only that dispatcher can send it out. An
        // answer this node built (offload none) carries no park; the dispatcher lets the payload go after a while.
        var park = offload.IsPresent ? rx.Park : TunnelPark.None;
        if (park.IsPresent && egress.Dispatcher != rx.SNode)
        {
            return Drop(DropReason.ParkedPayloadElsewhere);
        }

        Span<ushort> nids = stackalloc ushort[TunnelLayout.MaxNids];
        var datagram = buffer.Frame;
        var nidCount = 0;
        if (rx.Trr)
        {
            nidCount = rx.CopyNids(datagram, nids);
            if (nidCount < nids.Length)
            {
                nids[nidCount++] = _self;
            }
        }

        var frame = datagram.Slice(innerStart, innerLength);
        mac.CopyTo(frame[6..]);
        var resolve = !_neighbours.TryGet(route.Ifid, route.NextHop, frame[..6], out var neighbourTci);
        if (resolve)
        {
            frame[..6].Clear();
        }

        var fields = new TunnelFields
        {
            Type = TunnelType.Egress,
            Handoff = resolve ? Handoff.Resolve : Handoff.None,
            DNode = egress.Dispatcher,
            HNode = _self,
            Hook = Hook.PostRouting,
            Table = NetfilterTable.Nat,
            Trr = rx.Trr,
            Era = rx.Era,
            Ttl = rx.Ttl,
            SNode = rx.SNode,
            IfId = route.Ifid,
            VlanTci = flowTci ?? (route.Vlan != 0 ? route.Vlan : resolve ? SameSegmentTci(rx, route.Ifid) : neighbourTci),
            Offload = offload,
            Park = park,

            // The kernel forwards only between the interfaces of one dispatcher: the one the packet came in by.
            Shortcut = !resolve && egress.Dispatcher == rx.SNode ? shortcut : TunnelShortcut.None,
        };
        var headerLength = TunnelLayout.HeaderLength(fields, nidCount);
        if (headerLength > innerStart)
        {
            if (!buffer.TryPrepend(headerLength - innerStart, out _))
            {
                return Drop(DropReason.WireOther);
            }

            innerStart = headerLength;
        }

        var error = TunnelWriter.TryWriteInFront(buffer.Frame, innerStart, innerLength, fields, nids[..nidCount], out var start, out var length);
        if (error != WireError.None)
        {
            return Drop(WireDrops.ToDropReason(error));
        }

        _ = buffer.TryTrimFront(start);
        _ = buffer.SetFrameLength(length);
        buffer.Peer = dispatcher;
        _counters.Count(TunnelCounter.EgressSent);
        if (fields.Shortcut.IsPresent)
        {
            _counters.Count(TunnelCounter.ShortcutOffered);
        }

        if (resolve)
        {
            _counters.Count(TunnelCounter.ResolveSent);
        }

        return Verdict.Send;
    }
}
