using System.Net;
using System.Net.Http.Json;

namespace Dva.Manager.Tests.Apis;

public sealed class FirewallRulesApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    private static readonly object[] TwoRules =
    [
        new { action = "accept", protocol = "tcp", destination = "192.0.2.0/24", destinationPorts = "443", description = "https" },
        new { action = "reject", protocol = "icmp", source = "198.51.100.0/24", icmpType = 8 },
    ];

    [Fact]
    public async Task GetList_NewDva_IsEmptyWithETag()
    {
        var dvaId = await CreateDvaAsync();

        var response = await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules");

        var list = await ExpectAsync(response, HttpStatusCode.OK);
        Assert.Empty(list["rules"]!.AsArray());
        Assert.Equal("\"1\"", ETagOf(response));
    }

    [Fact]
    public async Task ReplaceList_WithCurrentETag_StoresRulesInArrayOrder()
    {
        var dvaId = await CreateDvaAsync();
        var etag = ETagOf(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules"));

        var response = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/firewall-rules", TwoRules, etag));

        var list = await ExpectAsync(response, HttpStatusCode.OK);
        Assert.NotEqual(etag, ETagOf(response));
        var rules = (await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules")))["rules"]!.AsArray();
        Assert.Equal(["https", ""], rules.Select(r => (string)r!["spec"]!["description"]!));
        Assert.True((int)rules[0]!["spec"]!["priority"]! < (int)rules[1]!["spec"]!["priority"]!);
        Assert.Equal("reject", (string)list["rules"]![1]!["spec"]!["action"]!);
    }

    [Fact]
    public async Task ReplaceList_WithoutIfMatch_Returns428()
    {
        var dvaId = await CreateDvaAsync();

        var response = await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules", TwoRules);

        await ExpectProblemAsync(response, HttpStatusCode.PreconditionRequired);
    }

    [Fact]
    public async Task ReplaceList_AfterAnotherChange_Returns412AndKeepsRules()
    {
        var dvaId = await CreateDvaAsync();
        var etag = ETagOf(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules"));
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules", new { action = "drop" }), HttpStatusCode.Created);

        var response = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/firewall-rules", TwoRules, etag));

        await ExpectProblemAsync(response, HttpStatusCode.PreconditionFailed);
        var rules = (await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules")))["rules"]!.AsArray();
        Assert.Equal("drop", (string)Assert.Single(rules)!["spec"]!["action"]!);
    }

    [Fact]
    public async Task ReplaceList_InvalidRules_ReportsFieldsByIndex()
    {
        var dvaId = await CreateDvaAsync();
        var etag = ETagOf(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules"));
        object[] rules =
        [
            new { action = "accept", protocol = "tcp", destinationPorts = "443" },
            new { action = "accept", protocol = "any", destinationPorts = "80", source = "192.0.2.1/24" },
            new { action = "accept", protocol = "tcp", source = "192.0.2.0/24", destination = "2001:db8::/32", sourcePorts = "9-1" },
            new { action = "drop", protocol = "icmpV6", source = "192.0.2.0/24", icmpType = 300, ingressIfid = 42, ingressVlan = 4095 },
        ];

        var response = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/firewall-rules", rules, etag));

        var errors = await ExpectFieldErrorsAsync(response,
            "[1].destinationPorts", "[1].source", "[2].destination", "[2].sourcePorts", "[3].icmpType", "[3].protocol", "[3].ingressIfid", "[3].ingressVlan");
        Assert.DoesNotContain(errors, e => e.Key.StartsWith("[0]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddPatchDelete_SingleRule_UpdatesRuleAndListVersion()
    {
        var dvaId = await CreateDvaAsync();
        await CreateInterfaceAsync(dvaId, 1);
        var first = await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules",
            new { action = "accept", protocol = "udp", destinationPorts = "53", ingressIfid = 1 }), HttpStatusCode.Created);
        var second = await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules",
            new { action = "drop", source = "2001:db8::/32" }), HttpStatusCode.Created);
        Assert.True((int)second["spec"]!["priority"]! > (int)first["spec"]!["priority"]!);
        var id = (long)first["id"]!;

        var patched = await Client.SendAsync(Request(HttpMethod.Patch, $"/api/v1/dvas/{dvaId}/firewall-rules/{id}",
            new { enabled = false, description = "dns, paused" }, "\"1\""));
        var rule = await ExpectAsync(patched, HttpStatusCode.OK);

        Assert.False((bool)rule["spec"]!["enabled"]!);
        Assert.Equal("53", (string)rule["spec"]!["destinationPorts"]!);
        Assert.Equal("udp", (string)rule["spec"]!["protocol"]!);
        Assert.Equal(2, (int)rule["generation"]!);
        var listResponse = await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules");
        Assert.Equal("\"4\"", ETagOf(listResponse));
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}"), HttpStatusCode.NoContent);
        Assert.Single((await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules")))["rules"]!.AsArray());
    }

    /// <summary>A rule's VLAN match round-trips, is patched to untagged (0), and survives a patch of another field.</summary>
    [Fact]
    public async Task IngressVlan_RoundTripsPatchedToUntaggedAndKept()
    {
        var dvaId = await CreateDvaAsync();
        var created = await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules",
            new { action = "drop", ingressVlan = 20 }), HttpStatusCode.Created);
        var id = (long)created["id"]!;
        Assert.Equal(20, (int)created["spec"]!["ingressVlan"]!);

        var untagged = await ExpectAsync(await Client.PatchAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}", new { ingressVlan = 0 }), HttpStatusCode.OK);
        Assert.Equal(0, (int)untagged["spec"]!["ingressVlan"]!);
        await ExpectAsync(await Client.PatchAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}", new { description = "untagged only" }), HttpStatusCode.OK);
        var shown = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}"));
        Assert.Equal((0, "untagged only"), ((int)shown["spec"]!["ingressVlan"]!, (string)shown["spec"]!["description"]!));
    }

    [Fact]
    public async Task Patch_InvalidField_ReportsIt()
    {
        var dvaId = await CreateDvaAsync();
        var id = (long)(await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules", new { action = "accept" }), HttpStatusCode.Created))["id"]!;

        var response = await Client.PatchAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}", new { destination = "not-a-prefix" });

        await ExpectFieldErrorsAsync(response, "destination");
    }

    [Fact]
    public async Task Patch_StaleIfMatch_Returns412()
    {
        var dvaId = await CreateDvaAsync();
        var id = (long)(await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules", new { action = "accept" }), HttpStatusCode.Created))["id"]!;
        await ExpectAsync(await Client.PatchAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}", new { enabled = false }), HttpStatusCode.OK);

        var response = await Client.SendAsync(Request(HttpMethod.Patch, $"/api/v1/dvas/{dvaId}/firewall-rules/{id}", new { enabled = true }, "\"1\""));

        await ExpectProblemAsync(response, HttpStatusCode.PreconditionFailed);
    }

    [Fact]
    public async Task Patch_UnknownRule_Returns404()
    {
        var dvaId = await CreateDvaAsync();

        await ExpectProblemAsync(await Client.PatchAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules/5555", new { enabled = true }), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task GetAndReplace_SingleRule_KeepsPriorityWhenOmitted()
    {
        var dvaId = await CreateDvaAsync();
        var created = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules", new { priority = 500, action = "accept", protocol = "sctp", destinationPorts = "3868" });
        var id = (long)(await ExpectAsync(created, HttpStatusCode.Created))["id"]!;

        var replaced = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/firewall-rules/{id}",
            new { action = "drop", protocol = "udp", sourcePorts = "1024-65535" }, ETagOf(created)));
        var fetched = await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{id}");

        await ExpectAsync(replaced, HttpStatusCode.OK);
        var rule = await ExpectAsync(fetched, HttpStatusCode.OK);
        Assert.Equal(500, (int)rule["spec"]!["priority"]!);
        Assert.Equal("drop", (string)rule["spec"]!["action"]!);
        Assert.Equal("", (string)rule["spec"]!["destinationPorts"]!);
        Assert.Equal("\"2\"", ETagOf(fetched));
    }
}
