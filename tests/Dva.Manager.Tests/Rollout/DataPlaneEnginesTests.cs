using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// A DVA's <c>dataPlaneEngines</c> and <c>dispatcherEngines</c> reach its data plane and dispatcher units as the node
/// configuration's <c>engines</c>, each role its own.
/// </summary>
public sealed class DataPlaneEnginesTests : HubTestBase
{
    [Fact]
    public async Task Assign_DvaOfTwoEngines_DataPlanesGetEnginesTwoAndTheDispatcherNone_ThenOneAfterAChange()
    {
        var dva = await Factory.CreateDvaAsync("two-engines", "disp-1", dataPlanes: 1, dataPlaneEngines: 2);
        var dispatcher = await StartNodeAsync("disp-1", 7120);
        var dataPlane = await StartNodeAsync("dp-a", 7121);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);

        var dataPlaneConfig = JsonNode.Parse(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)!;
        var dispatcherConfig = JsonNode.Parse(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)!;
        Assert.Equal(2, (int)dataPlaneConfig["engines"]!);
        Assert.Null(dispatcherConfig["engines"]);

        await Factory.ChangeDvaSpecAsync(dva, "dataPlaneEngines", 1);

        await UntilAsync(() => dataPlane.Assignments.Last(x => x.Role == "dataplane") is var last
            && JsonNode.Parse(last.ConfigJson)!["engines"] is null);
    }

    [Fact]
    public async Task Assign_DvaOfTwoDispatcherEngines_TheDispatcherGetsEnginesTwoAndTheDataPlanesNone_ThenOneAfterAChange()
    {
        var dva = await Factory.CreateDvaAsync("two-dispatcher-engines", "disp-1", dataPlanes: 1, dispatcherEngines: 2);
        var dispatcher = await StartNodeAsync("disp-1", 7130);
        var dataPlane = await StartNodeAsync("dp-a", 7131);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);

        var dispatcherConfig = JsonNode.Parse(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)!;
        var dataPlaneConfig = JsonNode.Parse(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)!;
        Assert.Equal(2, (int)dispatcherConfig["engines"]!);
        Assert.Null(dataPlaneConfig["engines"]);

        await Factory.ChangeDvaSpecAsync(dva, "dispatcherEngines", 1);

        await UntilAsync(() => dispatcher.Assignments.Last(x => x.Role == "dispatcher") is var last
            && JsonNode.Parse(last.ConfigJson)!["engines"] is null);
    }
}
