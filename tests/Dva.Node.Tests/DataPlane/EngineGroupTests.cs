using System.Net;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;
using Dva.Node.Tests.Nfv;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

/// <summary>
/// Data planes of two engines each (one role per engine, datagrams handed to the engine their outer source port
/// reaches): a translated flow's reply reaches the engine that holds the flow, directly or through STEER, and the
/// node's snapshots and service counters cover every engine.
/// </summary>
public sealed class EngineGroupTests : IDisposable
{
    private const string Client = LoadBalancerPipelineTests.Client;
    private const string Vip = LoadBalancerPipelineTests.Vip;
    private const string SnatAddress = LoadBalancerPipelineTests.SnatAddress;
    private static readonly TableVersion Table = First(10, 11);
    private readonly List<DataPlaneRig> _owned = [];

    public void Dispose()
    {
        foreach (var rig in _owned)
        {
            rig.Dispose();
        }
    }

    private Dictionary<ushort, DataPlaneRig> LoadBalancers(int snatTries = SnatPortPool.DefaultTries)
    {
        var rigs = new Dictionary<ushort, DataPlaneRig>();
        foreach (ushort node in (ushort[])[10, 11])
        {
            var rig = new DataPlaneRig(node, new DataPlaneOptions { FlowCapacity = 1024, NatCapacity = 1024, SnatTries = snatTries },
                configure: s => s with { LoadBalancer = new LoadBalancerSettings(LoadBalancerPipelineTests.Vips(MemberAdminState.Enabled), new Dictionary<byte, IPAddress>()) },
                engines: 2);
            rig.Install(Table);
            _owned.Add(rig);
            rigs[node] = rig;
        }

        return rigs;
    }

    /// <summary>A datagram from a dispatcher, followed through every hand-off until it leaves as EGRESS (or is not sent).</summary>
    private static (Verdict Verdict, TunnelHeader Header, byte[] Inner, List<(ushort Node, int Engine)> Path) Deliver(
        Dictionary<ushort, DataPlaneRig> rigs, byte[] frame, bool fromInside)
    {
        var node = Table.OwnerOf(BucketOf(frame, Table));
        var fields = Dispatch(node, Table);
        var buffer = Datagram(frame, fromInside ? fields with { HNode = InsideDispatcher, IfId = Inside } : fields);
        var path = new List<(ushort, int)>();
        for (var hop = 0; hop < 8; hop++)
        {
            var rig = rigs[node];
            var verdict = rig.Process(buffer);
            path.Add((node, rig.LastEngine));
            if (verdict != Verdict.Send)
            {
                return (verdict, default, [], path);
            }

            var (header, _, inner) = Read(buffer);
            if (header.Type != TunnelType.Handoff)
            {
                return (verdict, header, inner, path);
            }

            ArriveFrom(buffer, node);
            node = header.DNode;
        }

        throw new InvalidOperationException("the datagram was still handed on after 8 hops");
    }

    private static int EngineOf(byte[] frame) => new EngineSlot(0, 2).EngineOf(HashOf(frame, Table));

    [Theory]
    [InlineData(SnatPortPool.DefaultTries)]
    [InlineData(0)] // every flow settles for the first port of its engine; about half are STEERed
    public void Snat_TwoEngines_ReplyReachesTheEngineHoldingTheFlowAndIsTranslatedBack(int snatTries)
    {
        var rigs = LoadBalancers(snatTries);
        var holders = new HashSet<(ushort Node, int Engine)>();
        for (ushort port = 41000; port < 41064; port++)
        {
            var syn = TestFrames.Tcp(Client, port, Vip, 80, TcpFlags.Syn);
            var outbound = Deliver(rigs, syn, fromInside: false);
            Assert.Equal(Verdict.Send, outbound.Verdict);
            Assert.Equal((TunnelType.Egress, Inside), (outbound.Header.Type, outbound.Header.IfId));
            var sent = TestFrames.Parse(outbound.Inner);
            Assert.Equal(IPAddress.Parse(SnatAddress), sent.Source.ToIPAddress());

            // The port was chosen so that the reply key's outer port lands on the original key's engine.
            var reply = TestFrames.Tcp(sent.Destination.ToString(), 8080, SnatAddress, sent.SrcPort, TcpFlags.Syn | TcpFlags.Ack);
            Assert.Equal(EngineOf(syn), EngineOf(reply));
            Assert.Equal(EngineOf(syn), outbound.Path[0].Engine);

            var back = Deliver(rigs, reply, fromInside: true);
            Assert.Equal(Verdict.Send, back.Verdict);
            Assert.Equal((TunnelType.Egress, Outside), (back.Header.Type, back.Header.IfId));
            var info = TestFrames.Parse(back.Inner);
            Assert.Equal((IPAddress.Parse(Vip), (ushort)80), (info.Source.ToIPAddress(), info.SrcPort));
            Assert.Equal((IPAddress.Parse(Client), port), (info.Destination.ToIPAddress(), info.DstPort));
            Assert.Equal(outbound.Path[0], back.Path[^1]);
            holders.Add(outbound.Path[0]);
        }

        Assert.Equal([0, 1], holders.Select(h => h.Engine).Distinct().Order());
        var steered = rigs.Values.Sum(r => r.Snapshot.Tunnel(TunnelCounter.SteerSent));
        if (snatTries == 0)
        {
            Assert.True(steered > 0, "with no port tried for the bucket some replies should have needed STEER");
        }

        foreach (var rig in rigs.Values)
        {
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.ClaimSent));
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.OffEngine));
        }
    }

    [Fact]
    public async Task Snapshots_FlowsOnBothEngines_FlowsListedWithTheirEngineAndBucketCountsSummed()
    {
        var rig = new DataPlaneRig(10, engines: 2);
        _owned.Add(rig);
        var table = First(10);
        rig.Install(table);
        var frames = Enumerable.Range(0, 40).Select(i => TestFrames.Udp(Client, (ushort)(30000 + i), "198.51.100.7", 53)).ToArray();
        foreach (var frame in frames)
        {
            Assert.Equal(Verdict.Send, rig.Process(Datagram(frame, Dispatch(10, table))));
        }

        var flows = await rig.Role.SnapshotFlowsAsync();
        var counts = await rig.Role.SnapshotBucketCountsAsync();

        Assert.Equal(40, flows.Count);
        Assert.Equal([0, 1], flows.Select(f => f.Engine).Distinct().Order());
        Assert.All(rig.Roles, r => Assert.True(r.Flows.Count > 0));
        Assert.Equal(40, counts.Counts.Sum());
        foreach (var frame in frames)
        {
            var flow = Assert.Single(flows, f => f.Source == $"{Client}:{TestFrames.Parse(frame).SrcPort}");
            Assert.Equal(new EngineSlot(0, 2).EngineOf(HashOf(frame, table)), flow.Engine);
            Assert.True(counts.Counts[BucketOf(frame, table)] > 0);
        }

        Assert.Equal(40, rig.Snapshot.FlowsActive);
    }

    [Fact]
    public void PublishFirewall_TwoEngines_EveryEngineAppliesItAndRuleCountersCoverBoth()
    {
        var rig = new DataPlaneRig(10, engines: 2);
        _owned.Add(rig);
        var table = First(10);
        rig.Install(table);
        var published = rig.Role.PublishFirewall(new FirewallPolicy
        {
            DefaultAction = FirewallAction.Drop,
            Rules = [new FirewallRule { Id = 7, Priority = 10, Action = FirewallAction.Accept, Protocol = IpProtocols.Udp, DestinationPorts = PortRange.Single(53) }],
        });

        var accepted = Enumerable.Range(0, 20).Select(i => TestFrames.Udp(Client, (ushort)(30000 + i), "198.51.100.7", 53)).ToArray();
        var denied = Enumerable.Range(0, 20).Select(i => TestFrames.Udp(Client, (ushort)(31000 + i), "198.51.100.7", 54)).ToArray();
        var engines = new HashSet<int>();
        foreach (var frame in accepted)
        {
            Assert.Equal(Verdict.Send, rig.Process(Datagram(frame, Dispatch(10, table))));
            engines.Add(rig.LastEngine);
        }

        foreach (var frame in denied)
        {
            Assert.Equal(Verdict.Drop, rig.Process(Datagram(frame, Dispatch(10, table))));
        }

        Assert.All(rig.Roles, r => Assert.Same(published, r.Firewall));
        Assert.Equal(2, engines.Count);
        var counters = published!.Counters.Snapshot();
        Assert.Equal(20, counters.Single(c => c.RuleId == 7).Flows);
        Assert.Equal(20, counters.Single(c => c.IsDefault).Evaluations);
    }

    /// <summary>A rule for VLAN 20 of the outside trunk decides the flows that start there; untagged ones go to the default.</summary>
    [Fact]
    public void Firewall_RuleForOneVlan_DecidesOnlyTheFlowsThatCameInOnIt()
    {
        var rig = new DataPlaneRig(10);
        _owned.Add(rig);
        var table = First(10);
        rig.Install(table);
        var published = rig.Role.PublishFirewall(new FirewallPolicy
        {
            DefaultAction = FirewallAction.Accept,
            Rules = [new FirewallRule { Id = 20, Action = FirewallAction.Drop, IngressIfid = 1, IngressVlan = 20 }],
        });

        var fromVlan20 = Datagram(TestFrames.Udp(Client, 30000, "198.51.100.7", 53), Dispatch(10, table) with { VlanTci = 0x2014 });
        var untagged = Datagram(TestFrames.Udp(Client, 30001, "198.51.100.7", 53), Dispatch(10, table));

        Assert.Equal(Verdict.Drop, rig.Process(fromVlan20));
        Assert.Equal(Verdict.Send, rig.Process(untagged));
        Assert.Equal(1, published!.Counters.Snapshot().Single(c => c.RuleId == 20).Flows);
        Assert.Equal(1, rig.Snapshot.Drop(DropReason.FirewallDrop));
    }

    [Fact]
    public void Process_DatagramOnAnotherEngineThanItsFlows_CountedOffEngineAndStillForwarded()
    {
        var rig = new DataPlaneRig(10, engines: 2);
        _owned.Add(rig);
        var table = First(10);
        rig.Install(table);
        var frame = TestFrames.Udp(Client, 30000, "198.51.100.7", 53);
        var wrong = 1 - new EngineSlot(0, 2).EngineOf(HashOf(frame, table));

        Assert.Equal(Verdict.Send, rig.Roles[wrong].Process(Datagram(frame, Dispatch(10, table))));

        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.OffEngine));
    }

    [Fact]
    public void EngineSlot_OneEngine_EveryFlowOnEngineZero()
    {
        var frame = TestFrames.Udp(Client, 30000, "198.51.100.7", 53);

        Assert.Equal(0, EngineSlot.Single.EngineOf(HashOf(frame, Table)));
        Assert.True(EngineSlot.Single.SameEngine(1, 2));
    }

    [Fact]
    public void EngineSlot_TwoEngines_EngineIsTheOuterSourcePortModTwo()
    {
        foreach (var port in (ushort[])[30000, 30001, 30002, 30003])
        {
            var hash = HashOf(TestFrames.Udp(Client, port, "198.51.100.7", 53), Table);

            Assert.Equal(TunnelLayout.UdpSourcePort(hash) % 2, new EngineSlot(1, 2).EngineOf(hash));
        }
    }
}
