using Dva.Node.Agent;
using Dva.Node.Io;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

// Keep or punt (DESIGN.md §6) and the hand-offs between data planes (§7).
internal sealed partial class DataPlaneRole
{
    /*
     DISPATCH (I own bucket b):
       flow in my flow table            -> process
       history[b] empty                 -> new flow: create state, process
       packet can only open a flow (TCP SYN without ACK) -> create, process
       otherwise                        -> PUNT to history[b][0]
     PUNT (I am history[b][i]):
       flow in my flow table            -> process (I keep it)
       history[b][i+1] exists           -> PUNT to it
       otherwise                        -> CLAIM to owner[b]
     CLAIM (I own b): create state and process; a TCP packet that is not a SYN gets the mid-stream policy.
     Anything else (table moved under the packet) -> forward to the current owner as CLAIM; TTL bounds it.

     A flow this node holds is kept whatever the TYPE: state is never split between two data planes. STEER is
     kept by the bucket's owner (it is sent to the owner after a rewrite) and is "anything else" elsewhere.
     Predecessors that are no longer peers are skipped, as if they were not in the history.
    */
    private Verdict KeepOrPunt(PacketBuffer buffer, in TunnelHeader rx, TableVersion table, TableVersion current)
    {
        // The decision needs the flow key only: a TCP/UDP frame's key is read straight from its bytes (or was,
        // with its hash, by the batch's prefetch pass), and the full parse waits until the packet is processed here.
        // A punted packet is never parsed. Every other frame is parsed first, as before.
        var inner = buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength);
        _parkedBytes = rx.Park.PayloadLength;
        PacketInfo info = default;
        var parsed = false;
        FlowKey key;
        bool isForward;
        TcpFlags tcpFlags;
        ulong hash;
        if (TakePrefetched(table.Seed, out var prefetched))
        {
            (key, isForward, tcpFlags, hash) = (prefetched.Key, prefetched.IsForward, prefetched.TcpFlags, prefetched.Hash);
        }
        else if (FlowKey.TryFromFrame(inner, out key, out isForward, out tcpFlags))
        {
            hash = FlowHasher.Hash(key, table.Seed);
        }
        else
        {
            if (PacketParser.TryParse(inner, out info) != ParseError.None)
            {
                return Drop(DropReason.MalformedFrame);
            }

            if (!FlowKey.TryFrom(info, out key, out isForward))
            {
                // Non-IP frames travel the broadcast chain, never a bucket.
                return Drop(DropReason.UnsupportedEtherType);
            }

            parsed = true;
            tcpFlags = info.Protocol == PacketConstants.ProtocolTcp ? info.TcpFlags : 0;
            hash = FlowHasher.Hash(key, table.Seed);
        }

        // A super-frame or a checksum left to the device must be one TCP/UDP packet (the egress kernel finishes it): such a
        // packet is parsed now, even if it is then punted, to check that.
        if (rx.Offload.IsPresent)
        {
            ParseOnce(inner, ref info, ref parsed);
            if (!FrameOffload.Fits(rx.Offload, info))
            {
                return Drop(DropReason.OffloadMismatch);
            }
        }

        var bucket = FlowHasher.Bucket(hash, table.BucketCount);

        // Whatever this packet becomes (punt, claim, egress), it leaves from its flow's outer port (DESIGN.md §2).
        buffer.SourcePort = TunnelLayout.UdpSourcePort(hash);
        if (_engineSlot.Count > 1 && _engineSlot.EngineOf(hash) != _engineSlot.Index)
        {
            _counters.Count(TunnelCounter.OffEngine);
        }

        var now = _time.GetTimestamp();
        var slot = _flows.FindFlow(key, hash, out var viaReplyKey);
        if (rx.Type == TunnelType.Handoff && rx.Handoff == Handoff.Steer && rx.Hook == Hook.PostRouting)
        {
            ParseOnce(inner, ref info, ref parsed);
            return InstallSteer(buffer, rx, ref info, slot, key, hash, bucket, isForward, now);
        }

        if (slot >= 0 && _flows[slot].SteerTo != 0)
        {
            ParseOnce(inner, ref info, ref parsed);
            _flows.Touch(slot, isForward, PacketBytes(info), info.TcpFlags, now);
            return HandOff(buffer, rx, _flows[slot].SteerTo, Handoff.Steer);
        }

        if (slot >= 0)
        {
            // Found under a translated flow's reply key: the packet travels in the flow's reply direction.
            ParseOnce(inner, ref info, ref parsed);
            return Keep(buffer, rx, ref info, slot, viaReplyKey ? !_flows[slot].OriginIsForward : isForward, now, created: false);
        }

        var owner = table.OwnerOf(bucket);
        switch (rx.Type == TunnelType.Dispatch ? Handoff.None : rx.Handoff)
        {
            case Handoff.None when owner == _self:
            {
                var predecessors = table.PredecessorsOf(bucket);
                if (predecessors.IsEmpty || OnlyOpens(key, tcpFlags))
                {
                    ParseOnce(inner, ref info, ref parsed);
                    return Create(buffer, rx, ref info, key, hash, bucket, isForward, now);
                }

                return PuntOrClaim(buffer, rx, predecessors, 0, owner);
            }

            case Handoff.Punt:
            {
                var predecessors = table.PredecessorsOf(bucket);
                var position = predecessors.IndexOf(_self);
                if (position >= 0)
                {
                    return PuntOrClaim(buffer, rx, predecessors, position + 1, owner);
                }

                break;
            }

            case Handoff.Claim or Handoff.Steer when owner == _self:
                ParseOnce(inner, ref info, ref parsed);
                return ClaimHere(buffer, rx, ref info, key, hash, bucket, isForward, now);
        }

        // The table moved under the packet: the owner under the current table decides.
        var currentBucket = FlowHasher.Bucket(hash, current.BucketCount);
        var currentOwner = current.OwnerOf(currentBucket);
        if (currentOwner == _self)
        {
            ParseOnce(inner, ref info, ref parsed);
            return ClaimHere(buffer, rx, ref info, key, hash, currentBucket, isForward, now);
        }

        return currentOwner == 0 ? Drop(DropReason.NoOwner) : HandOff(buffer, rx, currentOwner, Handoff.Claim);
    }

    /// <summary>
    /// A finished packet of a translated flow whose state lives at HNODE and whose reply key hashes to a bucket of
    /// this node (HANDOFF STEER, HOOK POSTROUTING): record the steer stub (or refresh it), then send the packet out.
    /// The packet was routed and rewritten by its sender; only the output step is left.
    /// </summary>
    private Verdict InstallSteer(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, int slot, in FlowKey key, ulong hash, int bucket, bool isForward, long now)
    {
        // A slot holding the flow itself (SteerTo 0) means the sender's view is stale; the packet is finished all the
        // same, so it only goes out.
        if (slot < 0)
        {
            slot = _flows.Add(key, hash, bucket, isForward, now);
            if (slot < 0)
            {
                return Drop(DropReason.FlowTableFull);
            }

            _flows[slot].SteerTo = rx.HNode;
            _counters.FlowsCreated++;
            _counters.FlowsActive = _flows.Count;
        }

        _flows.Touch(slot, isForward, PacketBytes(info), info.TcpFlags, now);
        if (!_routes.TryRoute(info.Destination, out var route))
        {
            return Drop(DropReason.NoRoute);
        }

        // The owner steers only until the flow's first reply (NatEntry.ReplySeen), so no reply side is known yet
        // whose VLAN the packet would go back on: the next hop's VLAN or the same-segment rule decides.
        return PostRouting(buffer, rx, rx.InnerOffset, rx.InnerLength, route, rx.Offload, flowTci: null);
    }

    // The whole parse of a frame whose key was read fast, before this node processes it. TryFromFrame accepts only
    // frames the parser accepts, so it cannot fail here.
    private static void ParseOnce(ReadOnlySpan<byte> inner, ref PacketInfo info, ref bool parsed)
    {
        if (!parsed)
        {
            _ = PacketParser.TryParse(inner, out info);
            parsed = true;
        }
    }

    private static bool OnlyOpens(in PacketInfo info) =>
        info.Protocol == PacketConstants.ProtocolTcp && info.HasTransportHeader
        && (info.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;

    private static bool OnlyOpens(in FlowKey key, TcpFlags tcpFlags) =>
        key.Kind == FlowKeyKind.Ports && key.Protocol == PacketConstants.ProtocolTcp
        && (tcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;

    private Verdict PuntOrClaim(PacketBuffer buffer, in TunnelHeader rx, ReadOnlySpan<ushort> predecessors, int from, ushort owner)
    {
        for (var i = from; i < predecessors.Length; i++)
        {
            if (predecessors[i] != _self && !_peerAddresses[predecessors[i]].IsEmpty)
            {
                return HandOff(buffer, rx, predecessors[i], Handoff.Punt);
            }
        }

        return owner == 0 ? Drop(DropReason.NoOwner) : HandOff(buffer, rx, owner, Handoff.Claim);
    }

    private Verdict ClaimHere(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, in FlowKey key, ulong hash, int bucket, bool isForward, long now)
    {
        if (info.Protocol == PacketConstants.ProtocolTcp && !OnlyOpens(info) && MidStream == MidStreamPolicy.Strict)
        {
            return Drop(DropReason.MidStreamNoState);
        }

        return Create(buffer, rx, ref info, key, hash, bucket, isForward, now);
    }

    private Verdict Create(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, in FlowKey key, ulong hash, int bucket, bool isForward, long now)
    {
        var slot = _flows.Add(key, hash, bucket, isForward, now);
        if (slot < 0)
        {
            return Drop(DropReason.FlowTableFull);
        }

        // A TCP flow picked up without its SYN (no history to ask, or CLAIMed loosely) is already established.
        var pickedUp = info.Protocol == PacketConstants.ProtocolTcp && !OnlyOpens(info);
        if (pickedUp)
        {
            _flows.MarkEstablished(slot);
        }

        _counters.FlowsCreated++;
        _counters.FlowsActive = _flows.Count;
        var closing = pickedUp && (info.TcpFlags & (TcpFlags.Fin | TcpFlags.Rst)) != 0;
        var verdict = Keep(buffer, rx, ref info, slot, isForward, now, created: true);
        if (closing && _flows.FindFlow(key, hash, out _) is var kept and >= 0)
        {
            // A FIN or RST of a connection this unit never saw (a late retransmission after the flow expired here, or
            // a close that outlived its unit): the rules' verdict stands for the packet, but no state is kept, as
            // conntrack keeps none for such an INVALID packet. Kept, it would sit in FIN_WAIT for the transitory
            // timeout (120 s), and on a draining unit hold its bucket's history and the unit in the tables that long.
            ForgetFlow(kept);
        }

        return verdict;
    }

    private Verdict Keep(PacketBuffer buffer, in TunnelHeader rx, ref PacketInfo info, int slot, bool isForward, long now, bool created)
    {
        _flows.Touch(slot, isForward, PacketBytes(info), info.TcpFlags, now);
        _counters.PacketsProcessed++;
        return RunPipeline(buffer, rx, ref info, slot, isForward == _flows[slot].OriginIsForward, created);
    }

    /// <summary>
    /// Sends the received datagram on to <paramref name="next"/> as HANDOFF <paramref name="handoff"/>, rewriting its
    /// header in place: TTL − 1 (at 1 the packet is dropped here, TtlExceeded), TYPE/HANDOFF, HOOK/TABLE = none
    /// (keep-or-punt runs before any pipeline stage), DNODE/HNODE, and this node's nid when T is set.
    /// </summary>
    private Verdict HandOff(PacketBuffer buffer, in TunnelHeader rx, ushort next, Handoff handoff) =>
        HandOff(buffer, rx, next, handoff, Hook.None, NetfilterTable.None);

    /// <summary>As above, with the stage the packet completed here (STEER of a finished packet: POSTROUTING / nat).</summary>
    private Verdict HandOff(PacketBuffer buffer, in TunnelHeader rx, ushort next, Handoff handoff, Hook hook, NetfilterTable stage)
    {
        ref readonly var address = ref _peerAddresses[next];
        if (address.IsEmpty)
        {
            return Drop(DropReason.NoOwner);
        }

        var datagram = buffer.Frame;
        if (TunnelRewriter.DecrementTtl(datagram) != WireError.None)
        {
            return Drop(DropReason.TtlExceeded);
        }

        _ = TunnelRewriter.SetType(datagram, TunnelType.Handoff, handoff);
        _ = TunnelRewriter.SetStage(datagram, hook, stage);
        _ = TunnelRewriter.SetNodes(datagram, next, _self);
        AppendTrace(buffer, rx);
        buffer.Peer = address;
        _counters.Count(handoff switch
        {
            Handoff.Punt => TunnelCounter.PuntSent,
            Handoff.Broadcast => TunnelCounter.BroadcastSent,
            Handoff.Steer => TunnelCounter.SteerSent,
            _ => TunnelCounter.ClaimSent,
        });
        return Verdict.Send;
    }

    // T set: record this hop. A full list (15 nids) stays as it is rather than costing the packet.
    private void AppendTrace(PacketBuffer buffer, in TunnelHeader rx)
    {
        if (!rx.Trr || rx.NidCount >= TunnelLayout.MaxNids)
        {
            return;
        }

        if ((rx.NidCount & 1) != 0)
        {
            _ = TunnelRewriter.AppendNid(buffer.Frame, 0, _self, out _);
            return;
        }

        // An even list grows the header by one word at the front: take it from the headroom.
        if (buffer.TryPrepend(4, out _)
            && TunnelRewriter.AppendNid(buffer.Frame, 4, _self, out var start) == WireError.None)
        {
            _ = buffer.TryTrimFront(start);
        }
    }

    /// <summary>
    /// BROADCAST (DESIGN.md §7): learn the neighbour an ARP packet announces, then pass the frame to this node's
    /// successor in the chain of the table the ERA names; the last data plane of the chain ends it.
    /// </summary>
    private Verdict PassBroadcast(PacketBuffer buffer, in TunnelHeader rx, TableVersion table)
    {
        var frame = buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength);
        if (PacketParser.TryParse(frame, out var info) == ParseError.None)
        {
            if (info.IsArp && info.ArpSenderIp != 0)
            {
                _neighbours.Learn(rx.IfId, IpAddr.FromV4(info.ArpSenderIp), frame.Slice(info.ArpSenderMacOffset, 6), rx.VlanTci);
            }
            else if (NeighbourDiscovery.TryReadNeighbour(frame, info, out var address, out var mac))
            {
                _neighbours.Learn(rx.IfId, address, mac, rx.VlanTci);
            }
        }

        var chain = table.Chain.AsSpan();
        var position = chain.IndexOf(_self);
        if (position < 0)
        {
            return Drop(DropReason.NotInChain);
        }

        for (var i = position + 1; i < chain.Length; i++)
        {
            if (!_peerAddresses[chain[i]].IsEmpty)
            {
                return HandOff(buffer, rx, chain[i], Handoff.Broadcast);
            }
        }

        return Verdict.Consumed;
    }
}
