using System.Text.Json.Nodes;
using Dva.Manager.Rollout;
using Dva.Manager.Tests.Hub;
using Dva.Shared.Tables;

namespace Dva.Manager.Tests.Rollout;

/// <summary>Era rollout (DESIGN.md §5) against real node agent clients over a real socket.</summary>
public sealed class TwoPhaseRolloutTests : HubTestBase
{
    [Fact]
    public async Task Rollout_DispatcherAndDataPlanes_DataPlanesAckBeforeAnyDispatcherAndEveryUnitRunsTheVersion()
    {
        var dva = await Factory.CreateDvaAsync("two-phase", "disp-1", dataPlanes: 2);
        var dispatcher = await StartNodeAsync("disp-1", 7100);
        var a = await StartNodeAsync("dp-a", 7101);
        var b = await StartNodeAsync("dp-b", 7102);

        var (table, log) = await Factory.WaitForCommitAsync(dva, (t, _) =>
            HubFactory.ServingDataPlanes(t) == 2 && HubFactory.Dispatchers(t) == 1);

        var dataPlaneAcks = log.Acks.Where(x => x.Role == PeerRole.DataPlane).ToList();
        var dispatcherAcks = log.Acks.Where(x => x.Role == PeerRole.Dispatcher).ToList();
        Assert.Equal(2, dataPlaneAcks.Count);
        Assert.Single(dispatcherAcks);
        Assert.All(log.Acks, x => Assert.True(x.Installed, x.Error));
        Assert.True(dataPlaneAcks.Max(x => x.At) <= dispatcherAcks.Min(x => x.At), "a dispatcher acked before every data plane had");
        Assert.True(dataPlaneAcks.Max(x => x.At) <= log.DispatchersStarted, "dispatchers were sent the table before every data plane acked");
        Assert.Equal(RolloutPhase.Committed, log.Phase);
        Assert.Empty(log.Failed);
        foreach (var node in new[] { dispatcher, a, b })
        {
            Assert.Equal(table.Version, node.Tables.State.Current?.Version);
        }
    }

    [Fact]
    public async Task Assign_DispatcherAndDataPlane_ConfigsNameRoleInterfaceSourceAndDispatcherNodeId()
    {
        var dva = await Factory.CreateDvaAsync("assign-config", "disp-1", dataPlanes: 1);
        var dispatcher = await StartNodeAsync("disp-1", 7110);
        var dataPlane = await StartNodeAsync("dp-a", 7111);
        var (table, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);

        var dispatcherConfig = JsonNode.Parse(dispatcher.Assignments.Last(x => x.Role != "unallocated").ConfigJson)!;
        var dataPlaneConfig = JsonNode.Parse(dataPlane.Assignments.Last(x => x.Role != "unallocated").ConfigJson)!;
        var dispatcherId = table.Peers.Values.Single(p => p.Role == PeerRole.Dispatcher).NodeId;
        Assert.Equal("dispatcher", (string)dispatcherConfig["role"]!);
        Assert.Equal("127.0.0.1:7110", (string)dispatcherConfig["tunnel"]!["listen"]!);
        Assert.Equal("udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002", (string)dispatcherConfig["interfaces"]![0]!["source"]!);
        Assert.Equal("dataplane", (string)dataPlaneConfig["role"]!);
        Assert.Equal(dispatcherId, (int)dataPlaneConfig["interfaces"]![0]!["dispatcher"]!);
        Assert.Null(dataPlaneConfig["interfaces"]![0]!["source"]);
        Assert.Equal(table.DvaId, dataPlane.Client.Assignment.DvaId);
        Assert.Equal((int)dataPlane.Client.Assignment.NodeId, (int)dataPlaneConfig["nodeId"]!);
    }
}
