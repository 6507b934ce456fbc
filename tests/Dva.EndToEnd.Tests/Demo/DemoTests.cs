using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Dva.EndToEnd.Tests.Demo;

/// <summary>
/// <c>dotnet Dva.Manager.dll</c> on a fresh database brings up the demo DVA by itself: local units, tables, the
/// traffic generator. The generator runs lighter than the default (short flows) so a test sees completed flows soon,
/// and elasticity is off so the only table changes are the ones the test makes.
/// </summary>
[Collection(ManagerProcess.Collection)]
public sealed class DemoTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(25);

    private static readonly string[] LightDemo =
    [
        "--Dva:Elasticity:Enabled=false",
        "--Dva:Demo:Concurrency=200",
        "--Dva:Demo:Rate=100",
        "--Dva:Demo:Segments=4",
        "--Dva:Demo:StepMilliseconds=100",
    ];

    [Fact]
    public async Task Manager_FreshDatabase_RunsDemoScalesOutWithoutBrokenFlowsAndLeavesNoProcess()
    {
        using var manager = new ManagerProcess(LightDemo);

        // Four units registered and assigned: the dispatcher and three data planes of the demo DVA.
        var nodes = await manager.WaitForAsync("4 assigned units", Startup, async () =>
            await manager.TryGetAsync("api/v1/nodes") is { } list && Assigned(list).Count == 4 ? Assigned(list) : null);
        Assert.Single(nodes, n => n.GetProperty("role").GetString() == "dispatcher");
        Assert.Equal(3, nodes.Count(n => n.GetProperty("role").GetString() == "dataPlane"));
        var dvaId = nodes[0].GetProperty("dvaId").GetInt64();

        var firstVersion = await manager.WaitForAsync("a rolled-out table version", Step, async () =>
            await RolledOutVersionAsync(manager, dvaId) is { } v && v >= 1 ? (object)v : null);

        // The generator's flows cross the DVA: completed, none broken, and the dispatcher tunnelled them.
        var traffic = await manager.WaitForAsync("completed demo flows", Step, async () =>
            await manager.TryGetAsync("api/v1/demo") is { } demo && demo.GetProperty("traffic") is { ValueKind: JsonValueKind.Object } t
            && t.GetProperty("completed").GetInt64() > 0 ? (object)t : null);
        var figures = (JsonElement)traffic;
        Assert.Equal(0, figures.GetProperty("broken").GetInt64());
        var units = (await manager.TryGetAsync("api/v1/local-units"))!.Value;
        TrackAll(manager, units, figures);
        var dispatcher = units.EnumerateArray().Single(u => u.GetProperty("name").GetString() == "demo-dispatcher");
        using (var control = new HttpClient { BaseAddress = new Uri($"http://{dispatcher.GetProperty("control").GetString()}/") })
        {
            var counters = await control.GetFromJsonAsync<JsonElement>(new Uri("counters", UriKind.Relative));
            Assert.True(counters.GetProperty("tunnel").GetProperty("DispatchSent").GetInt64() > 0, counters.ToString());
        }

        // Scale out: a fifth local unit, then four data planes wanted; the tables move on and no flow breaks.
        using (var added = await manager.Http.PostAsJsonAsync("api/v1/local-units", new { name = "e2e-extra" }))
        {
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }

        var completedBefore = await CompletedAsync(manager);
        using (var scaled = await manager.Http.PostAsJsonAsync($"api/v1/dvas/{dvaId}:scale", new { dataPlanes = 4 }))
        {
            Assert.Equal(HttpStatusCode.Accepted, scaled.StatusCode);
        }

        await manager.WaitForAsync("4 data planes in a newer table", Step, async () =>
            await RolledOutVersionAsync(manager, dvaId) is { } v && v > (ulong)firstVersion
            && await manager.TryGetAsync($"api/v1/nodes?dvaId={dvaId}") is { } list
            && Assigned(list).Count(n => n.GetProperty("role").GetString() == "dataPlane") == 4 ? (object)v : null);
        var after = await manager.WaitForAsync("flows completed after the scale-out", Step, async () =>
            await manager.TryGetAsync("api/v1/demo") is { } demo && demo.GetProperty("traffic") is { ValueKind: JsonValueKind.Object } t
            && t.GetProperty("completed").GetInt64() > completedBefore + 200 ? (object)t : null);
        Assert.Equal(0, ((JsonElement)after).GetProperty("broken").GetInt64());

        // Ctrl-C: the manager stops, and with it every process it started.
        units = (await manager.TryGetAsync("api/v1/local-units"))!.Value;
        var pids = TrackAll(manager, units, (JsonElement)after);
        Assert.Equal(6, pids.Count);
        manager.Interrupt();
        await manager.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await AssertAllGoneAsync(pids);
    }

    [Fact]
    public async Task Manager_KilledHard_ItsUnitsAndGeneratorStopByThemselves()
    {
        using var manager = new ManagerProcess(LightDemo);
        var pids = await manager.WaitForAsync("the demo's units and generator", Startup, async () =>
            await manager.TryGetAsync("api/v1/demo") is { } demo && demo.GetProperty("traffic") is { ValueKind: JsonValueKind.Object } t
            && demo.GetProperty("units").GetArrayLength() == 4 ? TrackAll(manager, demo.GetProperty("units"), t) : null);

        manager.KillHard();
        await manager.WaitForExitAsync(TimeSpan.FromSeconds(10));

        // No cleanup code ran in the manager: the children see their standard input close and stop.
        await AssertAllGoneAsync(pids);
    }

    [Fact]
    public async Task Manager_DemoDisabled_StartsNoUnitAndSaysSo()
    {
        using var manager = new ManagerProcess("--Dva:Demo:Enabled=false");
        var demo = await manager.WaitForAsync("the demo status", Startup, () => manager.TryGetAsync("api/v1/demo").ContinueWith(t => t.Result is { } v ? (object)v : null));
        var status = (JsonElement)demo;
        Assert.False(status.GetProperty("enabled").GetBoolean());
        Assert.Equal(0, status.GetProperty("units").GetArrayLength());
        await manager.WaitForAsync("the start-up banner", Step, () =>
            Task.FromResult(manager.Output.Contains("Demo: off", StringComparison.Ordinal) ? (object)true : null));
        Assert.Contains("Node enrollment token:", manager.Output, StringComparison.Ordinal);
        var nodes = (await manager.TryGetAsync("api/v1/nodes"))!.Value;
        Assert.Equal(0, nodes.GetArrayLength());
    }

    private static List<JsonElement> Assigned(JsonElement nodes) =>
        [.. nodes.EnumerateArray().Where(n => n.GetProperty("dvaId").ValueKind == JsonValueKind.Number
            && n.GetProperty("role").GetString() is "dispatcher" or "dataPlane")];

    private static async Task<ulong?> RolledOutVersionAsync(ManagerProcess manager, long dvaId) =>
        await manager.TryGetAsync($"api/v1/dvas/{dvaId}/tables") is { } tables
            ? Items(tables).Where(t => t.GetProperty("rolledOut").ValueKind == JsonValueKind.String)
                .Select(t => (ulong?)t.GetProperty("version").GetInt64()).Max()
            : null;

    /// <summary>A list answer, bare or paged (<c>items</c>).</summary>
    private static JsonElement.ArrayEnumerator Items(JsonElement list) =>
        list.ValueKind == JsonValueKind.Array ? list.EnumerateArray() : list.GetProperty("items").EnumerateArray();

    private static async Task<long> CompletedAsync(ManagerProcess manager) =>
        (await manager.TryGetAsync("api/v1/demo"))!.Value.GetProperty("traffic").GetProperty("completed").GetInt64();

    private static List<int> TrackAll(ManagerProcess manager, JsonElement units, JsonElement traffic)
    {
        List<int> pids = [.. units.EnumerateArray().Select(u => u.GetProperty("processId").GetInt32()), traffic.GetProperty("processId").GetInt32()];
        manager.Track(pids);
        return pids;
    }

    private static async Task AssertAllGoneAsync(IReadOnlyList<int> pids)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (pids.Any(ManagerProcess.IsRunning) && !timeout.IsCancellationRequested)
        {
            await Task.Delay(200, CancellationToken.None);
        }

        Assert.DoesNotContain(pids, ManagerProcess.IsRunning);
    }
}
