using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;

namespace Dva.Manager.Tests.Rollout;

/// <summary>Scale-out, scale-in with draining, failure detection and history pruning, through the era rollout.</summary>
public sealed class ScalingRolloutTests : HubTestBase
{
    [Fact]
    public async Task Scale_TwoToFourToThree_MovesTheMinimumAndDrainsBeforeRemoving()
    {
        var dva = await Factory.CreateDvaAsync("scale", "disp-1", dataPlanes: 2);
        await StartNodeAsync("disp-1", 7200);
        var units = new List<SimNode>();
        for (var i = 1; i <= 4; i++)
        {
            units.Add(await StartNodeAsync($"dp-{i}", 7200 + i));
        }

        var (two, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        await Factory.ScaleAsync(dva, 4);
        var (four, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 4);

        // 4096 buckets, 2048 each → 1024 each: each old unit gives up exactly its excess.
        Assert.Equal(2048, HubFactory.MovedBuckets(two, four));
        Assert.All(four.Peers.Values.Where(p => p.Role == PeerRole.DataPlane), p => Assert.Equal(1024, HubFactory.BucketsOf(four, p.NodeId)));

        await Factory.ScaleAsync(dva, 3);
        var (drained, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 3);
        var leaving = Assert.Single(drained.Peers.Values, p => p.Role == PeerRole.DataPlane && p.Weight == 0);
        Assert.Equal(0, HubFactory.BucketsOf(drained, leaving.NodeId));
        // Only the drained unit's 1024 buckets move; the others go from 1024 to 1365 or 1366.
        Assert.Equal(1024, HubFactory.MovedBuckets(four, drained));
        Assert.All(drained.Peers.Values.Where(p => p.Weight > 0), p => Assert.InRange(HubFactory.BucketsOf(drained, p.NodeId), 1365, 1366));
        Assert.True(drained.History.Entries.Any(e => e.Node == leaving.NodeId), "the drained unit's buckets must remember it");

        // Its heartbeats report no live flow, so its history goes and then the unit itself.
        var (after, left) = await Factory.WaitForCommitAsync(dva, (t, _) => !t.Peers.ContainsKey(leaving.NodeId));
        Assert.Equal(3, HubFactory.ServingDataPlanes(after));
        Assert.Contains($"node {leaving.NodeId} left (drained", left.Cause, StringComparison.Ordinal);
        var leaver = units.Single(u => u.Client.Assignment.NodeId == leaving.NodeId || u.Assignments.Any(a => a.NodeId == leaving.NodeId));
        using var client = Factory.AdminClient();
        var record = JsonNode.Parse(await client.GetStringAsync($"/api/v1/nodes/{leaver.Client.NodeKey}"))!;
        Assert.Equal("unallocated", (string)record["role"]!);
        Assert.Null(record["dvaId"]);
    }

    [Fact]
    public async Task Heartbeats_StopFromADataPlane_ItIsDeclaredFailedAndRemovedInTheNextVersion()
    {
        var dva = await Factory.CreateDvaAsync("failure", "disp-1", dataPlanes: 2);
        await StartNodeAsync("disp-1", 7300);
        var a = await StartNodeAsync("dp-a", 7301);
        await StartNodeAsync("dp-b", 7302);
        var (before, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        var lost = a.Client.Assignment.NodeId;
        Assert.True(before.Peers.ContainsKey(lost));

        await StopNodeAsync(a);
        var (after, log) = await Factory.WaitForCommitAsync(dva, (t, _) => !t.Peers.ContainsKey(lost));

        Assert.Equal(1, HubFactory.ServingDataPlanes(after));
        // The version's cause (GET …/tables) names the unit that went.
        Assert.Contains($"node {lost} removed (no heartbeat", log.Cause, StringComparison.Ordinal);
        Assert.DoesNotContain(lost, after.Owners.ToArray());
        using var client = Factory.AdminClient();
        var audit = JsonNode.Parse(await client.GetStringAsync($"/api/v1/audit?dvaId={dva}&pageSize=200"))!["items"]!.AsArray();
        Assert.Contains(audit, e => (string)e!["operation"]! == "fail" && ((string?)e["after"] ?? "").Contains("no heartbeat", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rollout_DataPlaneNeverAcks_IsDeclaredFailedAndRemovedByTheNextVersion()
    {
        var dva = await Factory.CreateDvaAsync("no-ack", "disp-1", dataPlanes: 1);
        var dispatcher = await StartNodeAsync("disp-1", 7400);
        await StartNodeAsync("dp-a", 7401);
        var (first, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);
        var hung = await StartNodeAsync("dp-hung", 7402, holdAssignments: true);

        await Factory.ScaleAsync(dva, 2);
        var (withHung, failedLog) = await Factory.WaitForCommitAsync(dva, (_, log) => log.Failed.Count > 0);
        var failed = Assert.Single(failedLog.Failed);
        Assert.Equal(2, HubFactory.ServingDataPlanes(withHung));
        Assert.DoesNotContain(failedLog.Acks, x => x.NodeId == failed);
        // The dispatcher still switched: one silent data plane does not stop the rollout.
        Assert.Contains(failedLog.Acks, x => x.Role == PeerRole.Dispatcher && x.Installed);
        var (without, _) = await Factory.WaitForCommitAsync(dva, (t, _) => !t.Peers.ContainsKey(failed));

        Assert.Equal(withHung.Version + 1, without.Version);
        Assert.Equal(1, HubFactory.ServingDataPlanes(without));
        Assert.Equal(without.Version, dispatcher.Tables.State.Current?.Version);
        Assert.Null(hung.Tables.State.Current);
        Assert.True(first.Version < withHung.Version);
    }

    [Fact]
    public async Task History_PredecessorReportsNoFlowsInABucket_EntryIsRemovedInABatchedVersion()
    {
        var dva = await Factory.CreateDvaAsync("prune", "disp-1", dataPlanes: 1);
        await StartNodeAsync("disp-1", 7500);
        var first = await StartNodeAsync("dp-1", 7501);
        await StartNodeAsync("dp-2", 7502);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);
        var predecessor = first.Client.Assignment.NodeId;
        // Live flows everywhere: nothing may be pruned yet.
        first.BucketFlows = [.. Enumerable.Range(0, 4096).Select(b => new BucketFlowCount(b, 1))];

        await Factory.ScaleAsync(dva, 2);
        var (moved, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        Assert.Equal(2048, moved.History.EntryCount);
        Assert.All(moved.History.Entries, e => Assert.Equal(predecessor, e.Node));
        var kept = moved.History.Entries.First().Bucket;

        first.BucketFlows = [new BucketFlowCount(kept, 3)];
        var (pruned, _) = await Factory.WaitForCommitAsync(dva, (t, _) => t.History.EntryCount == 1);
        var entry = Assert.Single(pruned.History.Entries);
        Assert.Equal((kept, predecessor), (entry.Bucket, entry.Node));
        Assert.True(moved.Owners.SequenceEqual(pruned.Owners), "pruning history must not move buckets");

        first.BucketFlows = [];
        var (empty, _) = await Factory.WaitForCommitAsync(dva, (t, _) => t.History.EntryCount == 0);
        Assert.True(empty.Version > pruned.Version);
    }
}
