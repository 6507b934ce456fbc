using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Dva.EndToEnd.Tests.Demo;
using Dva.Shared.Tables;
using Xunit.Abstractions;

namespace Dva.EndToEnd.Tests.Fleet;

/// <summary>
/// A DVA's fleet changed under traffic with real processes: scaling through REST, a manager restart, and faults
/// (a data plane killed, the manager down, a dispatcher restarted). Figures are printed for docs/reliability.md.
/// </summary>
[Collection(ManagerProcess.Collection)]
public sealed class FleetTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Scale_TwoFourThreeUnderTrafficThenManagerRestart_NoFlowBreaksAndUnitsKeepTheirTables()
    {
        using var lab = new FleetLab();
        await lab.CreateDvaAsync(2);
        lab.StartUnits(4);
        var two = await lab.WaitForTableAsync("2 data planes and the dispatcher", t => FleetLab.Serving(t) == 2 && Dispatchers(t) == 1);
        lab.StartTraffic();
        await lab.WaitForCompletedAsync(0, 100, "flows across 2 data planes");

        await lab.ScaleAsync(4);
        var four = await lab.WaitForTableAsync("4 data planes", t => FleetLab.Serving(t) == 4);
        await lab.WaitForCompletedAsync(lab.Traffic.Completed, 150, "flows across 4 data planes");
        await lab.ScaleAsync(3);
        // The drained unit leaves once its flows are gone, and every predecessor entry is pruned.
        var three = await lab.WaitForTableAsync("3 data planes, the drained one gone, no history",
            t => FleetLab.Serving(t) == 3 && DataPlanes(t) == 3 && t.History.EntryCount == 0);
        Assert.Equal(0, lab.Traffic.Broken);

        // Every version went to every data plane before any dispatcher.
        var rollouts = await lab.RolloutsAsync();
        Assert.Contains(rollouts, r => r.GetProperty("version").GetInt64() == (long)four.Version);
        foreach (var rollout in rollouts.Where(r => r.GetProperty("phase").GetString() == "committed"))
        {
            var acks = rollout.GetProperty("acks").EnumerateArray().ToList();
            Assert.All(acks, a => Assert.True(a.GetProperty("installed").GetBoolean()));
            var dataPlanes = acks.Where(a => a.GetProperty("role").GetString() == "dataPlane").Select(a => a.GetProperty("at").GetDateTimeOffset()).ToList();
            var dispatchers = acks.Where(a => a.GetProperty("role").GetString() == "dispatcher").Select(a => a.GetProperty("at").GetDateTimeOffset()).ToList();
            Assert.Single(dispatchers);
            Assert.True(dataPlanes.Count == 0 || dataPlanes.Max() <= dispatchers.Min(), $"version {rollout.GetProperty("version")}: a dispatcher acked first");
        }

        var audit = await lab.AuditAsync();
        var operations = audit.Select(e => e.GetProperty("operation").GetString()).ToList();
        Assert.Equal(5, operations.Count(o => o == "allocate"));
        Assert.Single(operations, o => o == "drain");
        Assert.Single(operations, o => o == "release");
        Assert.Equal((int)three.Version, operations.Count(o => o == "rollout-commit"));

        // The manager goes away; the units keep forwarding on their tables and the manager resumes where it was.
        var before = lab.Traffic;
        await lab.KillManagerAsync();
        await lab.WaitForCompletedAsync(before.Completed, 100, "flows while the manager is down");
        await lab.RestartManagerAsync();
        var restarted = DateTimeOffset.UtcNow;
        await lab.Manager.WaitForAsync("every unit back, converged", FleetLab.Patience, async () =>
            await lab.NodesAsync() is { Count: 5 } nodes && nodes.Values.All(n => n.GetProperty("lastHeartbeat").GetDateTimeOffset() > restarted)
            && await lab.Manager.TryGetAsync($"api/v1/dvas/{lab.DvaId}") is { } dva && Condition(dva, "TablesConverged") == "True" ? (object)dva : null);
        var after = await lab.LatestTableAsync();
        await lab.WaitForCompletedAsync(lab.Traffic.Completed, 100, "flows after the restart");

        Assert.NotNull(after);
        Assert.True(after.Value.Table.Version >= three.Version, $"version went back from {three.Version} to {after.Value.Table.Version}");
        Assert.True(three.Owners.SequenceEqual(after.Value.Table.Owners), "a bucket changed owner across the restart");
        Assert.DoesNotContain(await lab.AuditAsync(), e => e.GetProperty("operation").GetString() == "fail");
        Assert.Equal(0, lab.Traffic.Broken);
        output.WriteLine($"scale 2→4→3 and manager restart: versions {two.Version}..{after.Value.Table.Version}, traffic {lab.Traffic}");
    }

    /// <summary>
    /// A dispatcher whose frame source cannot open (its port is taken) runs no role, yet its agent acks tables: the
    /// heartbeat's reason reaches the interface's status as ERROR instead of a false ACTIVE.
    /// </summary>
    [Fact]
    public async Task Dispatcher_FrameSourceCannotOpen_InterfaceStatusIsErrorWithTheAgentsReason()
    {
        using var lab = new FleetLab();
        using var squatter = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        squatter.Bind(lab.InsideDispatcher);
        await lab.CreateDvaAsync(1);
        lab.StartUnits(1);

        var inside = await lab.Manager.WaitForAsync("the inside interface in ERROR", FleetLab.Patience, async () =>
            await lab.Manager.TryGetAsync($"api/v1/dvas/{lab.DvaId}/interfaces") is { ValueKind: JsonValueKind.Array } list
            && list.EnumerateArray().FirstOrDefault(i => i.GetProperty("spec").GetProperty("ifid").GetInt32() == 2) is { ValueKind: JsonValueKind.Object } found
            && found.GetProperty("status").GetProperty("provisioningStatus").GetString() == "ERROR" ? (object)found : null);

        var applied = ((JsonElement)inside).GetProperty("status").GetProperty("conditions").EnumerateArray().Single(c => c.GetProperty("type").GetString() == "Applied");
        var message = applied.GetProperty("message").GetString()!;
        output.WriteLine(message);
        Assert.Equal("NotConfirmed", applied.GetProperty("reason").GetString());
        Assert.Contains("Dispatcher role did not start", message, StringComparison.Ordinal);
        Assert.Contains(lab.InsideDispatcher.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Faults_DataPlaneKilledManagerDownDispatcherRestarted_OnlyTheDeadUnitsFlowsBreak()
    {
        using var lab = new FleetLab("--Dva:Hub:FailureTimeout=00:00:05");
        await lab.CreateDvaAsync(3);
        lab.StartUnits(3);
        var three = await lab.WaitForTableAsync("3 data planes", t => FleetLab.Serving(t) == 3 && Dispatchers(t) == 1);
        lab.StartTraffic();
        await lab.WaitForCompletedAsync(0, 200, "flows across 3 data planes");

        // 1. A data plane is killed: its flows break, the manager removes it, the others carry on.
        var nodes = await lab.NodesAsync();
        var victim = nodes[FleetLab.DataPlane(2)].GetProperty("nodeId").GetInt32();
        var atKill = lab.Traffic;
        var killed = Stopwatch.StartNew();
        lab.KillUnit(FleetLab.DataPlane(2));
        var without = await lab.WaitForTableAsync("the killed unit removed", t => !t.Peers.ContainsKey((ushort)victim));
        var detected = killed.Elapsed;
        var atRemoval = lab.Traffic;
        await lab.WaitForCompletedAsync(atRemoval.Completed, 150, "flows after the removal");
        var settled = lab.Traffic;
        await lab.WaitForCompletedAsync(settled.Completed, 200, "more flows after the removal");
        var deadBroken = lab.Traffic.Broken - atKill.Broken;
        Assert.Equal(settled.Broken, lab.Traffic.Broken);
        Assert.True(deadBroken > 0, "the killed unit held flows; some must have broken");
        // At most the flows open at the kill plus those opened until the removal: each of them had a third of the buckets.
        Assert.True(deadBroken <= 150 + (atRemoval.Opened - atKill.Opened), $"{deadBroken} flows broke");
        var fail = (await lab.AuditAsync()).Single(e => e.GetProperty("operation").GetString() == "fail");
        Assert.Contains("no heartbeat", fail.GetProperty("after").GetString(), StringComparison.Ordinal);
        output.WriteLine($"data plane killed: {deadBroken} flows broke (of {atKill.Opened - atKill.Completed} open), removed in {detected.TotalSeconds:F1} s, version {without.Version}");

        // 2. The manager is down for 20 s of traffic: nothing breaks.
        var atManagerKill = lab.Traffic;
        await lab.KillManagerAsync();
        await lab.WaitForGeneratorSecondsAsync(20);
        var whileDown = lab.Traffic;
        Assert.Equal(atManagerKill.Broken, whileDown.Broken);
        Assert.True(whileDown.Completed > atManagerKill.Completed + 100, $"{whileDown.Completed - atManagerKill.Completed} flows completed while the manager was down");
        await lab.RestartManagerAsync();
        var back = await lab.WaitForTableAsync("the restarted manager's tables", _ => true);
        Assert.Equal(without.Version, back.Version);
        output.WriteLine($"manager down 20 s: {whileDown.Completed - atManagerKill.Completed} flows completed, {whileDown.Broken - atManagerKill.Broken} broke");

        // 3. The dispatcher restarts: it gets the current table again and no version is made for it. Every open flow
        // stalls meanwhile; the generator now resends as TCP does (timeout doubling to 4 s, 8 resends: gives up after
        // 24.5 s of silence instead of 1.8 s), so the stall must break no flow.
        await lab.Manager.WaitForAsync("every unit back", FleetLab.Patience, async () =>
            await lab.Manager.TryGetAsync($"api/v1/dvas/{lab.DvaId}") is { } dva && Condition(dva, "TablesConverged") == "True" ? (object)dva : null);
        var fixedTimer = lab.Traffic;
        await lab.StopTrafficAsync();
        lab.StartTraffic(extra: ["--backoff", "--retries", "8", "--first-flow", "1000000"]);
        var atDispatcherStop = await lab.WaitForCompletedAsync(0, 150, "flows of the generator with backoff");
        var restart = Stopwatch.StartNew();
        await lab.StopUnitAsync(FleetLab.Dispatcher);
        var stopped = lab.Traffic;
        lab.StartUnit(FleetLab.Dispatcher, []);
        // Progress lines come once a second and flows completing during the stop may show up in the next one:
        // 20 completions beyond it are flows that went through the new dispatcher.
        await lab.WaitForCompletedAsync(stopped.Completed, 20, "flows through the restarted dispatcher");
        var resumed = restart.Elapsed;
        using var control = new HttpClient { BaseAddress = lab.Control(FleetLab.Dispatcher), Timeout = TimeSpan.FromSeconds(5) };
        await lab.Manager.WaitForAsync("the dispatcher's table", FleetLab.Patience, async () =>
        {
            try
            {
                var table = await control.GetFromJsonAsync<JsonElement>(new Uri("table", UriKind.Relative));
                return table.GetProperty("version").GetInt64() == (long)without.Version ? (object)table : null;
            }
            catch (HttpRequestException)
            {
                return null;
            }
        });
        var recovered = restart.Elapsed;
        await lab.WaitForCompletedAsync(lab.Traffic.Completed, 150, "flows after the dispatcher restart");
        var latest = await lab.LatestTableAsync();
        Assert.Equal(without.Version, latest!.Value.Table.Version);
        Assert.Equal(0, lab.Traffic.Broken);
        Assert.True(lab.Traffic.Retransmits > atDispatcherStop.Retransmits, "the open flows stalled and resent during the restart");
        Assert.DoesNotContain(await lab.AuditAsync(), e => e.GetProperty("operation").GetString() == "fail"
            && e.GetProperty("before").GetString()!.Contains(FleetLab.Dispatcher, StringComparison.Ordinal));
        output.WriteLine($"dispatcher restarted: flows resumed {resumed.TotalSeconds:F1} s after the stop, table back in {recovered.TotalSeconds:F1} s, " +
            $"{lab.Traffic.Broken} of {lab.Traffic.Opened} flows broke with backoff ({lab.Traffic.Retransmits - atDispatcherStop.Retransmits} resends); " +
            $"versions {three.Version}..{latest.Value.Table.Version}; fixed-timer traffic before {fixedTimer}; backoff traffic {lab.Traffic}");
    }

    private static int Dispatchers(TableVersion table) => table.Peers.Values.Count(p => p.Role == PeerRole.Dispatcher);

    private static int DataPlanes(TableVersion table) => table.Peers.Values.Count(p => p.Role == PeerRole.DataPlane);

    private static string? Condition(JsonElement dva, string type) =>
        dva.GetProperty("status").GetProperty("conditions").EnumerateArray()
            .Where(c => c.GetProperty("type").GetString() == type).Select(c => c.GetProperty("status").GetString()).FirstOrDefault();
}
