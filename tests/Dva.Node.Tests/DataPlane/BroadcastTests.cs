using Dva.Node.Agent;
using Dva.Node.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

public class BroadcastTests
{
    private static readonly byte[] HostMac = [0x02, 0xBB, 0, 0, 0, 0x07];

    // Joined 12, then 10, then 11: the chain is in join order, not node-id order.
    private static readonly TableVersion Table = Next(Next(First(12), 12, 10), 12, 10, 11);

    [Fact]
    public void Broadcast_ArpFromDispatcher_VisitsEveryDataPlaneOnceInJoinOrderAndEachLearns()
    {
        Assert.Equal(new ushort[] { 12, 10, 11 }, Table.Chain.ToArray());
        var rigs = Table.Chain.ToDictionary(n => n, n => new DataPlaneRig(n));
        foreach (var rig in rigs.Values)
        {
            rig.Install(Table);
        }

        var arp = TestFrames.ArpRequest(HostMac, "192.0.2.7", "192.0.2.1");
        var buffer = Datagram(arp, BroadcastFields(12, Table));
        var visited = new List<ushort>();
        var node = Table.Chain[0];
        Verdict verdict;
        while (true)
        {
            visited.Add(node);
            verdict = rigs[node].Process(buffer);
            if (verdict != Verdict.Send)
            {
                break;
            }

            var (header, _, inner) = Read(buffer);
            Assert.Equal(Handoff.Broadcast, header.Handoff);
            Assert.Equal(node, header.HNode);
            Assert.Equal(255 - visited.Count, header.Ttl);
            Assert.Equal(arp, inner);
            ArriveFrom(buffer, node);
            node = header.DNode;
        }

        Assert.Equal(Verdict.Consumed, verdict);
        Assert.Equal(new ushort[] { 12, 10, 11 }, visited);
        var last = Read(buffer);
        Assert.Equal(new ushort[] { 12, 10 }, last.Nids);
        Span<byte> mac = stackalloc byte[6];
        foreach (var rig in rigs.Values)
        {
            Assert.True(rig.Role.Neighbours.TryGet(Outside, IpAddr.FromV4(TestFrames.V4("192.0.2.7")), mac));
            Assert.Equal(HostMac, mac.ToArray());
            Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.BroadcastReceived));
            rig.Dispose();
        }

        Assert.Equal(1, rigs[12].Snapshot.Tunnel(TunnelCounter.BroadcastSent));
        Assert.Equal(0, rigs[11].Snapshot.Tunnel(TunnelCounter.BroadcastSent));
    }

    [Fact]
    public void Broadcast_Ipv6NeighbourSolicitation_SenderLearnedFromSourceLinkLayerOption()
    {
        using var rig = new DataPlaneRig(11);
        rig.Install(Table);

        var ns = TestFrames.NeighbourSolicitation(HostMac, "2001:db8::7", "2001:db8::1");
        Assert.Equal(Verdict.Consumed, rig.Process(Datagram(ns, BroadcastFields(11, Table))));

        Span<byte> mac = stackalloc byte[6];
        Assert.True(rig.Role.Neighbours.TryGet(Outside, TestFrames.Parse(ns).Source, mac));
        Assert.Equal(HostMac, mac.ToArray());
    }

    [Fact]
    public void Broadcast_DuplicateAddressDetection_NothingLearned()
    {
        using var rig = new DataPlaneRig(11);
        rig.Install(Table);

        var dad = TestFrames.NeighbourSolicitation(HostMac, "::", "2001:db8::7");
        Assert.Equal(Verdict.Consumed, rig.Process(Datagram(dad, BroadcastFields(11, Table))));

        Assert.Equal(0, rig.Role.Neighbours.Count);
    }

    [Fact]
    public void Broadcast_AtNodeOutsideChain_DroppedNotInChain()
    {
        var table = First(10);
        using var outsider = new DataPlaneRig(14);
        outsider.Install(table);

        var buffer = Datagram(TestFrames.ArpRequest(HostMac, "192.0.2.7", "192.0.2.1"), BroadcastFields(14, table));

        Assert.Equal(Verdict.Drop, outsider.Process(buffer));
        Assert.Equal(DropReason.NotInChain, outsider.Role.LastDrop);
    }
}
