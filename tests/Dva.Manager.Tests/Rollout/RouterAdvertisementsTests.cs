using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// A shared interface's <c>routerAdvertisements</c> reaches the dispatcher attached to it as the node configuration's
/// interface <c>routerAdvertisements</c> (the data planes face no host, so theirs has none), and goes away when turned off.
/// </summary>
public sealed class RouterAdvertisementsTests : HubTestBase
{
    [Fact]
    public async Task RouterAdvertisements_ReachTheDispatchersConfiguration_NotTheDataPlanes_ThenGoWhenOff()
    {
        var dva = await Factory.CreateDvaAsync("router-adverts", "disp-1", dataPlanes: 1);
        var dispatcher = await StartNodeAsync("disp-1", 7160);
        var dataPlane = await StartNodeAsync("dp-a", 7161);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);
        Assert.Null(Interface(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)["routerAdvertisements"]);

        using var client = Factory.AdminClient();
        await PutAsync(client, dva, true);

        await UntilAsync(() => Interface(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson) is var i
            && i["routerAdvertisements"] is JsonValue on && (bool)on
            && i["addresses"]!.AsArray().Any(a => (string?)a == "2001:db8:1::1/64"));
        await UntilAsync(() => Interface(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)["addresses"]!.AsArray().Count == 2);
        Assert.Null(Interface(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)["routerAdvertisements"]);

        await PutAsync(client, dva, false);
        await UntilAsync(() => Interface(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)["routerAdvertisements"] is null);
    }

    private static JsonNode Interface(string configJson) => JsonNode.Parse(configJson)!["interfaces"]![0]!;

    private static async Task PutAsync(HttpClient client, long dva, bool advertise)
    {
        var list = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/v1/dvas/{dva}/interfaces", UriKind.Relative)))!.AsArray();
        var shown = list[0]!;
        var spec = shown["spec"]!.AsObject();
        spec["addresses"] = new JsonArray("192.0.2.1/24", "2001:db8:1::1/64");
        spec["routerAdvertisements"] = advertise;
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"/api/v1/dvas/{dva}/interfaces/{(long)shown["id"]!}", UriKind.Relative)) { Content = JsonContent.Create(spec) };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
