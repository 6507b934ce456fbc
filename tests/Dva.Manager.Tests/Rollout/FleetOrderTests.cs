using System.Text.Json.Nodes;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Rollout;
using Dva.Manager.Tests.Hub;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// The order the reconciler changes a fleet in: dispatchers before data planes, drains recorded in the database,
/// and scale-in paced so that no change pushes a predecessor with live flows out of a bucket's history.
/// </summary>
public sealed class FleetOrderTests : HubTestBase
{
    [Fact]
    public async Task Reconcile_DataPlanesRegisterBeforeTheDispatcher_TheyWaitAndTheFirstTablesHoldTheDispatcher()
    {
        var dva = await Factory.CreateDvaAsync("order", "disp-1", dataPlanes: 2);
        var a = await StartNodeAsync("dp-a", 7801);
        var b = await StartNodeAsync("dp-b", 7802);
        var fleet = Factory.Services.GetRequiredService<FleetReconciler>();
        await fleet.ReconcileAsync(dva, CancellationToken.None);
        using var client = Factory.AdminClient();
        var waiting = JsonNode.Parse(await client.GetStringAsync($"/api/v1/dvas/{dva}"))!;

        Assert.Equal("WaitingForDispatcher", Reason(waiting, FleetReconciler.CapacitySufficient));
        Assert.Null(Factory.Rollout.Current(dva));
        Assert.All([a, b], unit => Assert.DoesNotContain(unit.Assignments, x => x.Role != "unallocated"));

        var dispatcher = await StartNodeAsync("disp-1", 7800);
        var (table, log) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);

        // The data planes were admitted in the first tables, which already name the configured dispatcher.
        Assert.Equal(1UL, table.Version);
        Assert.Equal(1, HubFactory.Dispatchers(table));
        Assert.Contains(log.Acks, x => x.Role == PeerRole.Dispatcher && x.Installed);
        Assert.Equal(table.DvaId, dispatcher.Client.Assignment.DvaId);
    }

    [Fact]
    public async Task ScaleIn_DrainStarted_IsRecordedInTheDatabaseUntilTheUnitLeaves()
    {
        var dva = await Factory.CreateDvaAsync("drain-mark", "disp-1", dataPlanes: 2);
        await StartNodeAsync("disp-1", 7810);
        var first = await StartNodeAsync("dp-1", 7811);
        var second = await StartNodeAsync("dp-2", 7812);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        first.BucketFlows = second.BucketFlows = [.. Enumerable.Range(0, 4096).Select(b => new BucketFlowCount(b, 1))];

        await Factory.ScaleAsync(dva, 1);
        var (drained, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);
        var leaving = Assert.Single(drained.Peers.Values, p => p.Role == PeerRole.DataPlane && p.Weight == 0);
        var leaver = leaving.NodeId == first.Client.Assignment.NodeId ? first : second;
        var marks = await MarksAsync(dva);

        var mark = Assert.Single(marks);
        Assert.Equal(FleetMarkKind.DrainStarted, mark.Kind);
        Assert.Equal(leaver.Client.NodeKey, mark.NodeKey);

        leaver.BucketFlows = [];
        await Factory.WaitForCommitAsync(dva, (t, _) => !t.Peers.ContainsKey(leaving.NodeId));
        Assert.Empty(await MarksAsync(dva));
    }

    [Fact]
    public async Task Drain_FifthMoveWouldDropALivePredecessor_IsHeldUntilThePredecessorReportsNoFlows()
    {
        var committed = new List<TableVersion>();
        var (dva, units, held) = await HeldDrain.RunUntilHeldAsync(Factory, StartNodeAsync, 7820, id => Factory.Rollout.Committed += (table, log) =>
        {
            if (log.DvaId == id)
            {
                lock (committed)
                {
                    committed.Add(table);
                }
            }
        });
        Assert.True(Factory.Rollout.Current(dva) is { } stillTwo && HubFactory.ServingDataPlanes(stillTwo) == 2, "the held drain went out");
        Assert.Contains("livePredecessorsDropped", held, StringComparison.Ordinal);

        // The unit drained first has no flows left: its entries are pruned, and the drain goes out.
        units[0].BucketFlows = [];
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);
        await Factory.WaitForAuditAsync(dva, "rollout-released");

        List<TableVersion> versions;
        lock (committed)
        {
            versions = [.. committed.OrderBy(t => t.Version)];
        }

        // No version that moved buckets pushed out a predecessor with live flows (a prune drops only entries without).
        var moves = versions.Zip(versions.Skip(1)).Where(p => !p.First.Owners.SequenceEqual(p.Second.Owners)).ToList();
        Assert.True(moves.Count >= 5, $"{moves.Count} versions moved buckets; the five drains alone move some");
        Assert.All(moves, p => Assert.Equal(0, p.First.LivePredecessorsDroppedBy(p.Second)));
    }

    private async Task<List<FleetMark>> MarksAsync(long dva)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ManagerDbContext>().FleetMarks.AsNoTracking().Where(m => m.DvaId == dva).ToListAsync();
    }

    private static string? Reason(JsonNode dva, string type) =>
        (string?)dva["status"]!["conditions"]!.AsArray().FirstOrDefault(c => (string)c!["type"]! == type)?["reason"];
}
