using System.Net;
using System.Net.Http.Json;

namespace Dva.Manager.Tests.Apis;

public sealed class RoutesApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    [Fact]
    public async Task Crud_ValidRoute_RoundTrips()
    {
        var dvaId = await CreateDvaAsync();
        await CreateInterfaceAsync(dvaId, 1);
        await CreateInterfaceAsync(dvaId, 2);

        var created = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "0.0.0.0/0", nextHop = "192.0.2.254", ifid = 1 });
        var id = (long)(await ExpectAsync(created, HttpStatusCode.Created))["id"]!;
        var replaced = await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}/routes/{id}", new { prefix = "0.0.0.0/0", nextHop = "192.0.2.253", ifid = 2 });
        var connected = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "2001:db8:1::/48", ifid = 2 });

        Assert.Equal("192.0.2.253", (string)(await ExpectAsync(replaced, HttpStatusCode.OK))["spec"]!["nextHop"]!);
        await ExpectAsync(connected, HttpStatusCode.Created);
        Assert.Equal(2, (await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/routes"))).AsArray().Count);
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/routes/{id}"), HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Create_InvalidFields_ReportsEachField()
    {
        var dvaId = await CreateDvaAsync();
        await CreateInterfaceAsync(dvaId, 1);

        var hostBits = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "198.51.100.1/24", nextHop = "192.0.2.1", ifid = 1 });
        var mixedFamily = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "198.51.100.0/24", nextHop = "2001:db8::1", ifid = 1 });
        var unknownInterface = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "198.51.100.0/24", ifid = 77 });

        await ExpectFieldErrorsAsync(hostBits, "prefix");
        await ExpectFieldErrorsAsync(mixedFamily, "nextHop");
        await ExpectFieldErrorsAsync(unknownInterface, "ifid");
    }

    [Fact]
    public async Task Create_DuplicatePrefix_IsRejected()
    {
        var dvaId = await CreateDvaAsync();
        await CreateInterfaceAsync(dvaId, 1);
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "203.0.113.0/24", ifid = 1 }), HttpStatusCode.Created);

        var again = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "203.0.113.0/24", ifid = 1 });

        await ExpectFieldErrorsAsync(again, "prefix");
    }

    [Fact]
    public async Task Get_RouteOfAnotherDva_Returns404()
    {
        var owner = await CreateDvaAsync();
        var other = await CreateDvaAsync();
        await CreateInterfaceAsync(owner, 1);
        var id = (long)(await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{owner}/routes", new { prefix = "203.0.113.0/24", ifid = 1 }), HttpStatusCode.Created))["id"]!;

        await ExpectProblemAsync(await Client.GetAsync($"/api/v1/dvas/{other}/routes/{id}"), HttpStatusCode.NotFound);
    }
}
