using System.Text.Json.Nodes;
using Dva.Manager.Rollout;
using Dva.Manager.Tests.Hub;
using Dva.Shared.Tables;
using Microsoft.Extensions.DependencyInjection;

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
    public async Task Rollout_Committed_AuditHasStartDataPlanesAndCommitInOrderAndTheVersionIsMarkedRolledOut()
    {
        var dva = await Factory.CreateDvaAsync("audit-order", "disp-1", dataPlanes: 2);
        await StartNodeAsync("disp-1", 7150);
        var a = await StartNodeAsync("dp-a", 7151);
        await StartNodeAsync("dp-b", 7152);
        var (table, log) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2 && HubFactory.Dispatchers(t) == 1);
        using var client = Factory.AdminClient();

        // The entries of every committed version: written in two transactions (with the version record, and with the
        // rolled-out mark after the commits went out), they must still read start, data planes, commit.
        var entries = (await Factory.AuditAsync(dva)).Where(e => (string?)e!["targetType"] == "table")
            .Select(e => (Id: (long)e!["id"]!, Version: (long)e["targetId"]!, Operation: (string)e["operation"]!,
                Time: e["time"]!.GetValue<DateTimeOffset>(), After: JsonNode.Parse((string)e["after"]!)!))
            .OrderBy(e => e.Id).ToList();
        var mine = entries.Where(e => e.Version == (long)table.Version).ToList();
        var stored = JsonNode.Parse(await client.GetStringAsync($"/api/v1/dvas/{dva}/tables/{table.Version}"))!;

        Assert.Equal(["rollout-start", "rollout-dataplanes", "rollout-commit"], mine.Select(e => e.Operation).ToArray());
        Assert.True(mine[0].Time <= mine[1].Time && mine[1].Time <= mine[2].Time, "the entries' times are out of order");
        Assert.Equal(log.DispatchersStarted, mine[1].Time);
        Assert.Equal(3, (int)mine[0].After["units"]!);
        Assert.All(mine.Skip(1), e => Assert.Empty(e.After["failed"]!.AsArray()));
        foreach (var version in entries.Select(e => e.Version).Distinct().Where(v => entries.Any(e => e.Version == v && e.Operation == "rollout-commit")))
        {
            Assert.Equal(["rollout-start", "rollout-dataplanes", "rollout-commit"], entries.Where(e => e.Version == version).Select(e => e.Operation).ToArray());
        }

        Assert.NotNull((string?)stored["summary"]!["rolledOut"]);
        Assert.Equal(table.Version, a.Tables.State.Current?.Version);
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

    [Fact]
    public async Task RolloutAsync_WhileAnotherVersionIsInFlight_AnswersBusy()
    {
        var dva = await Factory.CreateDvaAsync("busy", "disp-1", dataPlanes: 1);
        await StartNodeAsync("disp-1", 7120);
        var unit = await StartNodeAsync("dp-a", 7121);
        var (table, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);
        var next = table.WithHistory(table.History, "operator test");
        RolloutMember[] members = [new(unit.Client.NodeKey, unit.Client.Assignment.NodeId, PeerRole.DataPlane)];

        // The commit event fires inside the reconciler's rollout, just before it lets go of the DVA; on a loaded
        // machine this test can get here first and would see that rollout, not its own, as the busy one.
        await WhileInFlightAsync(dva);

        var first = Factory.Rollout.RolloutAsync(dva, next, members, CancellationToken.None);
        var second = await Factory.Rollout.RolloutAsync(dva, next, members, CancellationToken.None);

        Assert.Equal(RolloutOutcome.Busy, second.Outcome);
        Assert.Contains($"rolling out table version {next.Version}", second.Message, StringComparison.Ordinal);
        Assert.Equal(RolloutOutcome.Committed, (await first).Outcome);
        var stale = await Factory.Rollout.RolloutAsync(dva, next, members, CancellationToken.None);
        Assert.Equal(RolloutOutcome.Rejected, stale.Outcome);
    }

    [Fact]
    public async Task RolloutAsync_VersionRecordedAlready_IsRejectedAndNoUnitIsSentIt()
    {
        var dva = await Factory.CreateDvaAsync("recorded", "disp-1", dataPlanes: 1);
        await StartNodeAsync("disp-1", 7125);
        var unit = await StartNodeAsync("dp-a", 7126);
        var (table, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);
        await WhileInFlightAsync(dva);

        // The record of a rollout that stopped after writing it (the coordinator writes the version with one INSERT and
        // leaves it to the database's unique index to refuse a version recorded already).
        var current = Factory.Rollout.Current(dva)!;
        var next = current.WithHistory(current.History, "operator test");
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var recorded = await scope.ServiceProvider.GetRequiredService<Dva.Manager.Services.TableHistoryService>()
                .RecordAsync(dva, (long)next.Version, "interrupted", [1, 2, 3], CancellationToken.None);
            Assert.Null(recorded.Failure);
        }

        RolloutMember[] members = [new(unit.Client.NodeKey, unit.Client.Assignment.NodeId, PeerRole.DataPlane)];
        var result = await Factory.Rollout.RolloutAsync(dva, next, members, CancellationToken.None);

        Assert.Equal(RolloutOutcome.Rejected, result.Outcome);
        Assert.Contains($"Version {next.Version} of DVA {dva} was not recorded", result.Message, StringComparison.Ordinal);
        Assert.Null(Factory.Rollout.GetLog(dva, next.Version));
        Assert.NotEqual(next.Version, unit.Tables.State.Current?.Version);
        Assert.DoesNotContain((await Factory.AuditAsync(dva)), e => (string?)e!["operation"] == "rollout-start" && (long?)e["targetId"] == (long)next.Version);
    }

    [Fact]
    public async Task RolloutAsync_ForNoSuchDva_IsRejectedByTheDatabase()
    {
        var first = TableVersion.CreateFirst(Guid.NewGuid(), 1, 256, [new PeerInfo(1, PeerRole.DataPlane, System.Net.IPEndPoint.Parse("127.0.0.1:7000"), 1)], "test");

        var result = await Factory.Rollout.RolloutAsync(987_654, first, [], CancellationToken.None);

        Assert.Equal(RolloutOutcome.Rejected, result.Outcome);
        Assert.Contains("was not recorded", result.Message, StringComparison.Ordinal);
        Assert.Null(Factory.Rollout.Current(987_654));
    }

    [Fact]
    public async Task RolloutsApi_AfterACommit_ListsAcksPerVersionAndAcceptsAReconcileRequest()
    {
        var dva = await Factory.CreateDvaAsync("api", "disp-1", dataPlanes: 1);
        await StartNodeAsync("disp-1", 7130);
        await StartNodeAsync("dp-a", 7131);
        var (table, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);
        using var client = Factory.AdminClient();

        var log = JsonNode.Parse(await client.GetStringAsync($"/api/v1/dvas/{dva}/rollouts/{table.Version}"))!;
        var list = JsonNode.Parse(await client.GetStringAsync($"/api/v1/dvas/{dva}/rollouts"))!.AsArray();
        var kick = await client.PostAsync($"/api/v1/dvas/{dva}/rollouts", null);
        var missing = await client.GetAsync($"/api/v1/dvas/{dva}/rollouts/999");

        Assert.Equal("committed", (string)log["phase"]!);
        Assert.Equal(["dataPlane", "dispatcher"], log["acks"]!.AsArray().Select(a => (string)a!["role"]!).Order().ToArray());
        Assert.Equal((long)table.Version, (long)list[0]!["version"]!);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, kick.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Reconcile_AfterTheWantedDataPlanesServe_DvaReportsConvergedSufficientAndActive()
    {
        var dva = await Factory.CreateDvaAsync("status", "disp-1", dataPlanes: 2);
        await StartNodeAsync("disp-1", 7140);
        await StartNodeAsync("dp-a", 7141);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);
        var fleet = Factory.Services.GetRequiredService<FleetReconciler>();
        await fleet.ReconcileAsync(dva, CancellationToken.None);
        using var client = Factory.AdminClient();
        var waiting = JsonNode.Parse(await client.GetStringAsync($"/api/v1/dvas/{dva}"))!;

        await StartNodeAsync("dp-b", 7142);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        // A unit confirms its assignment with a heartbeat after its ack (about a second): passes until then say PENDING.
        JsonNode ready;
        var patience = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            await fleet.ReconcileAsync(dva, CancellationToken.None);
            ready = JsonNode.Parse(await client.GetStringAsync($"/api/v1/dvas/{dva}"))!;
            if ((string?)ready["status"]!["provisioningStatus"] == "ACTIVE" || patience.Elapsed > HubFactory.Patience)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal("False", Condition(waiting, FleetReconciler.CapacitySufficient));
        Assert.Equal("DEGRADED", (string)waiting["status"]!["operatingStatus"]!);
        Assert.Equal("True", Condition(ready, FleetReconciler.CapacitySufficient));
        Assert.Equal("True", Condition(ready, FleetReconciler.TablesConverged));
        Assert.Equal("ACTIVE", (string)ready["status"]!["provisioningStatus"]!);
        Assert.Equal("ONLINE", (string)ready["status"]!["operatingStatus"]!);
    }

    private static string? Condition(JsonNode dva, string type) =>
        (string?)dva["status"]!["conditions"]!.AsArray().FirstOrDefault(c => (string)c!["type"]! == type)?["status"];

    /// <summary>Waits until no rollout of the DVA is in flight (the reconciler's own may still be finishing).</summary>
    private async Task WhileInFlightAsync(long dva)
    {
        var deadline = DateTime.UtcNow + HubFactory.Patience;
        while (Factory.Rollout.InFlight(dva) is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }
}
