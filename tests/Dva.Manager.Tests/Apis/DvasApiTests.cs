using System.Net;
using System.Net.Http.Json;

namespace Dva.Manager.Tests.Apis;

public sealed class DvasApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    [Fact]
    public async Task Create_MinimalBody_AppliesDefaultsAndGeneratesSeed()
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "edge-a", serviceKind = "firewallAndLoadBalancer" });

        var dva = await ExpectAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/api/v1/dvas/{dva["id"]}", response.Headers.Location!.OriginalString);
        Assert.Equal("\"1\"", ETagOf(response));
        var spec = dva["spec"]!;
        Assert.Equal("firewallAndLoadBalancer", (string)spec["serviceKind"]!);
        Assert.Equal(4096, (int)spec["bucketCount"]!);
        Assert.Equal(6090, (int)spec["tunnelPort"]!);
        Assert.Equal("drop", (string)spec["firewallDefaultPolicy"]!);
        Assert.Equal("strict", (string)spec["midStreamPolicy"]!);
        Assert.Equal(1, (int)spec["dataPlaneEngines"]!);
        Assert.Equal(1, (int)spec["dispatcherEngines"]!);
        Assert.False((bool)spec["superFrames"]!);
        Assert.False((bool)spec["shortcuts"]!);
        Assert.Matches("^0x[0-9a-f]{16}$", (string)dva["seed"]!);
        Assert.Equal(1, (int)dva["generation"]!);
        Assert.Equal(0, (int)dva["observedGeneration"]!);
        Assert.Equal("PENDING_CREATE", (string)dva["status"]!["provisioningStatus"]!);
        Assert.Equal("OFFLINE", (string)dva["status"]!["operatingStatus"]!);
        Assert.Equal("AwaitingRollout", (string)dva["status"]!["conditions"]![0]!["reason"]!);
    }

    [Fact]
    public async Task Create_TwoDvas_GetDifferentSeeds()
    {
        var a = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "seed-a" }), HttpStatusCode.Created);
        var b = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "seed-b" }), HttpStatusCode.Created);

        Assert.NotEqual((string)a["seed"]!, (string)b["seed"]!);
    }

    [Fact]
    public async Task GetAndList_CreatedDva_AreReturned()
    {
        var id = await CreateDvaAsync("listed");

        var one = await Client.GetAsync($"/api/v1/dvas/{id}");
        var list = await Client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>("/api/v1/dvas");

        Assert.Equal("listed", (string)(await ExpectAsync(one, HttpStatusCode.OK))["spec"]!["name"]!);
        Assert.Equal("\"1\"", ETagOf(one));
        Assert.Contains(list!, d => (long)d!["id"]! == id);
    }

    [Fact]
    public async Task Replace_ChangedSpec_IncrementsGenerationAndShowsPendingUpdate()
    {
        var id = await CreateDvaAsync("replace-me");

        var response = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{id}",
            new { name = "replace-me", bucketCount = 1024, tunnelSecurity = "encrypted", tunnelCipher = "chaCha20", scaling = new { minDataPlanes = 2, maxDataPlanes = 6, targetUtilizationPercent = 30 } },
            ifMatch: "\"1\""));

        var dva = await ExpectAsync(response, HttpStatusCode.OK);
        Assert.Equal(2, (int)dva["generation"]!);
        Assert.Equal("\"2\"", ETagOf(response));
        Assert.Equal(1024, (int)dva["spec"]!["bucketCount"]!);
        Assert.Equal(("encrypted", "chaCha20", true), ((string)dva["spec"]!["tunnelSecurity"]!, (string)dva["spec"]!["tunnelCipher"]!, (bool)dva["spec"]!["secureTunnel"]!));
        Assert.Equal(30, (int)dva["spec"]!["scaling"]!["targetUtilizationPercent"]!);
        Assert.Equal(2, (int)dva["desiredDataPlanes"]!);
        Assert.NotEqual("ACTIVE", (string)dva["status"]!["provisioningStatus"]!);
    }

    [Fact]
    public async Task Replace_StaleIfMatch_Returns412AndKeepsTheStoredSpec()
    {
        var id = await CreateDvaAsync("stale");
        await ExpectAsync(await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{id}", new { name = "stale", description = "first" }, "\"1\"")), HttpStatusCode.OK);

        var response = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{id}", new { name = "stale", description = "second" }, "\"1\""));

        var problem = await ExpectProblemAsync(response, HttpStatusCode.PreconditionFailed);
        Assert.Contains("\"2\"", (string)problem["detail"]!, StringComparison.Ordinal);
        var stored = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{id}"));
        Assert.Equal("first", (string)stored["spec"]!["description"]!);
    }

    [Fact]
    public async Task Create_InvalidFields_ReportsEachField()
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new
        {
            name = "",
            bucketCount = 1000,
            tunnelPort = 70000,
            scaling = new { minDataPlanes = 5, maxDataPlanes = 2, targetUtilizationPercent = 0 },
        });

        await ExpectFieldErrorsAsync(response, "name", "bucketCount", "tunnelPort", "scaling.maxDataPlanes", "scaling.targetUtilizationPercent");
    }

    [Theory]
    [InlineData(0, "plain")]
    [InlineData(65, "plain")]
    [InlineData(2, "authenticated")]
    [InlineData(4, "encrypted")]
    public async Task Create_DataPlaneEnginesOutOfRangeOrWithASecureTunnel_IsRejected(int dataPlaneEngines, string tunnelSecurity)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = $"e{dataPlaneEngines}{tunnelSecurity}", dataPlaneEngines, tunnelSecurity });

        var problem = await ExpectFieldErrorsAsync(response, "dataPlaneEngines");
        Assert.Contains(tunnelSecurity == "plain" ? "1..64" : "plain", problem.ToJsonString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "plain")]
    [InlineData(65, "plain")]
    [InlineData(2, "authenticated")]
    public async Task Create_DispatcherEnginesOutOfRangeOrWithASecureTunnel_IsRejected(int dispatcherEngines, string tunnelSecurity)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = $"d{dispatcherEngines}{tunnelSecurity}", dispatcherEngines, tunnelSecurity });

        var problem = await ExpectFieldErrorsAsync(response, "dispatcherEngines");
        Assert.Contains(tunnelSecurity == "plain" ? "1..64" : "plain", problem.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SuperFramesWithASecureTunnel_IsRejectedNamingTheField()
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "sf-sealed", superFrames = true, tunnelSecurity = "authenticated" });

        var problem = await ExpectFieldErrorsAsync(response, "superFrames");
        Assert.Contains("tunnelSecurity plain", problem.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SuperFramesOnAPlainTunnel_IsStoredAndShownAndCanBeTurnedOff()
    {
        await StoredShownAndTurnedOffAsync(new { name = "sf-plain", superFrames = true }, "superFrames");
    }

    /// <summary>The kernel shortcut does not touch the tunnel and needs no super-frames: a sealed tunnel takes it.</summary>
    [Fact]
    public async Task Create_ShortcutsOnASecureTunnelWithoutSuperFrames_IsStoredAndShownAndCanBeTurnedOff()
    {
        var spec = await StoredShownAndTurnedOffAsync(new { name = "shortcuts-sealed", shortcuts = true, tunnelSecurity = "encrypted" }, "shortcuts");

        Assert.Equal(("encrypted", false), ((string)spec["tunnelSecurity"]!, (bool)spec["superFrames"]!));
    }

    /// <summary>
    /// Creates a DVA from <paramref name="body"/>, which turns <paramref name="field"/> on; checks that GET shows it on,
    /// turns it off with a PUT and checks that GET shows it off. Returns the spec read last.
    /// </summary>
    private async Task<System.Text.Json.Nodes.JsonObject> StoredShownAndTurnedOffAsync(object body, string field)
    {
        var created = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", body), HttpStatusCode.Created);
        var uri = new Uri($"/api/v1/dvas/{created["id"]}", UriKind.Relative);

        var shown = await ExpectAsync(await Client.GetAsync(uri), HttpStatusCode.OK);
        Assert.True((bool)shown["spec"]![field]!);

        var spec = shown["spec"]!.AsObject();
        spec[field] = false;
        using var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = JsonContent.Create(spec) };
        await ExpectAsync(await Client.SendAsync(request), HttpStatusCode.OK);
        var after = (await ExpectAsync(await Client.GetAsync(uri), HttpStatusCode.OK))["spec"]!.AsObject();
        Assert.False((bool)after[field]!);
        return after;
    }

    [Fact]
    public async Task Create_TwoDataPlaneEnginesOnAPlainTunnel_IsStoredAndShown()
    {
        var created = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "engines-2", dataPlaneEngines = 2, dispatcherEngines = 3 }), HttpStatusCode.Created);

        var shown = await ExpectAsync(await Client.GetAsync(new Uri($"/api/v1/dvas/{created["id"]}", UriKind.Relative)), HttpStatusCode.OK);
        Assert.Equal(2, (int)shown["spec"]!["dataPlaneEngines"]!);
        Assert.Equal(3, (int)shown["spec"]!["dispatcherEngines"]!);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(3000)]
    [InlineData(131072)]
    public async Task Create_BucketCountNotPowerOfTwoInRange_IsRejected(int bucketCount)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = $"b{bucketCount}", bucketCount });

        await ExpectFieldErrorsAsync(response, "bucketCount");
    }

    [Fact]
    public async Task Create_DuplicateName_IsRejected()
    {
        await CreateDvaAsync("twin");

        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "twin" });

        await ExpectFieldErrorsAsync(response, "name");
    }

    [Fact]
    public async Task Get_UnknownId_Returns404Problem()
    {
        var problem = await ExpectProblemAsync(await Client.GetAsync("/api/v1/dvas/999999"), HttpStatusCode.NotFound);

        Assert.Contains("999999", (string)problem["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_ExistingDva_RemovesItAndItsConfiguration()
    {
        var id = await CreateDvaAsync("short-lived");
        await CreateInterfaceAsync(id, 1);

        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{id}"), HttpStatusCode.NoContent);

        await ExpectProblemAsync(await Client.GetAsync($"/api/v1/dvas/{id}"), HttpStatusCode.NotFound);
        await ExpectProblemAsync(await Client.GetAsync($"/api/v1/dvas/{id}/interfaces"), HttpStatusCode.NotFound);
        await ExpectProblemAsync(await Client.DeleteAsync($"/api/v1/dvas/{id}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Scale_WithinPolicy_Returns202WithDesiredState()
    {
        var id = await CreateDvaAsync("scalable");

        var response = await Client.PostAsJsonAsync($"/api/v1/dvas/{id}:scale", new { dataPlanes = 5 });

        var scale = await ExpectAsync(response, HttpStatusCode.Accepted);
        Assert.Equal(5, (int)scale["desiredDataPlanes"]!);
        Assert.Equal(0, (int)scale["currentDataPlanes"]!);
        Assert.Equal(8, (int)scale["policy"]!["maxDataPlanes"]!);
        var dva = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{id}"));
        Assert.Equal(5, (int)dva["desiredDataPlanes"]!);
    }

    [Fact]
    public async Task Scale_OutsidePolicy_ReportsDataPlanesField()
    {
        var id = await CreateDvaAsync("bounded");

        var response = await Client.PostAsJsonAsync($"/api/v1/dvas/{id}:scale", new { dataPlanes = 9 });

        await ExpectFieldErrorsAsync(response, "dataPlanes");
    }

    [Fact]
    public async Task Scale_UnknownDva_Returns404()
    {
        await ExpectProblemAsync(await Client.PostAsJsonAsync("/api/v1/dvas/424242:scale", new { dataPlanes = 1 }), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{\"name\": ")]
    [InlineData("{\"name\": \"x\", \"bucketCount\": \"many\"}")]
    [InlineData("{\"name\": \"x\", \"serviceKind\": \"router\"}")]
    [InlineData("{\"name\": \"x\", \"shortcuts\": \"yes\"}")]
    [InlineData("{\"name\": null}")]
    [InlineData("{\"name\": \"x\", \"bukketCount\": 4096}")]
    [InlineData("[1, 2]")]
    public async Task Create_MalformedJson_Returns400Problem(string json)
    {
        var response = await Client.PostAsync("/api/v1/dvas", RawJson(json));

        var problem = await ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.False(string.IsNullOrEmpty((string?)problem["detail"]));
    }

    [Fact]
    public async Task Create_EmptyBody_Returns400Problem()
    {
        var response = await Client.PostAsync("/api/v1/dvas", RawJson(""));

        await ExpectProblemAsync(response, HttpStatusCode.BadRequest);
    }
}
