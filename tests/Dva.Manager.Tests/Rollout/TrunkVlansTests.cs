using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// A shared interface's <c>vlans</c> reach the dispatcher attached to it as the node configuration's interface
/// <c>vlans</c> (the data planes do not ask for neighbours, so theirs has none), and go away when cleared.
/// </summary>
public sealed class TrunkVlansTests : HubTestBase
{
    [Fact]
    public async Task InterfaceVlans_ReachTheDispatchersConfiguration_NotTheDataPlanes_ThenGoWhenCleared()
    {
        var dva = await Factory.CreateDvaAsync("trunk-vlans", "disp-1", dataPlanes: 1);
        var dispatcher = await StartNodeAsync("disp-1", 7150);
        var dataPlane = await StartNodeAsync("dp-a", 7151);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);
        Assert.Null(Interface(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)["vlans"]);

        using var client = Factory.AdminClient();
        await PutVlansAsync(client, dva, [20, 30]);

        await UntilAsync(() => Interface(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)["vlans"] is JsonArray vlans
            && vlans.Select(v => (int)v!).SequenceEqual([20, 30]));
        Assert.Null(Interface(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)["vlans"]);

        await PutVlansAsync(client, dva, []);
        await UntilAsync(() => Interface(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)["vlans"] is null);
    }

    private static JsonNode Interface(string configJson) => JsonNode.Parse(configJson)!["interfaces"]![0]!;

    private static async Task PutVlansAsync(HttpClient client, long dva, int[] vlans)
    {
        var list = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/v1/dvas/{dva}/interfaces", UriKind.Relative)))!.AsArray();
        var shown = list[0]!;
        var spec = shown["spec"]!.AsObject();
        spec["vlans"] = new JsonArray([.. vlans.Select(v => (JsonNode?)v)]);
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"/api/v1/dvas/{dva}/interfaces/{(long)shown["id"]!}", UriKind.Relative)) { Content = JsonContent.Create(spec) };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
