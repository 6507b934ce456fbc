using System.Net;
using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Security;

/// <summary>Tunnel keys of a secure DVA: made by the manager, delivered over the hub, rotated on request, never shown.</summary>
public sealed class TunnelKeyTests : HubTestBase
{
    [Fact]
    public async Task RotateKeys_SecureDva_EveryUnitGetsTheKeyThenSwitchesAndTheAuditHasNoKeyBytes()
    {
        var dva = await Factory.CreateDvaAsync("secure", "disp-1", dataPlanes: 2, tunnelSecurity: "encrypted");
        var units = new List<SimNode> { await StartNodeAsync("disp-1", 7300), await StartNodeAsync("dp-1", 7301), await StartNodeAsync("dp-2", 7302) };
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        await UntilAsync(() => units.All(u => u.Client.Keys.KeyOf(0) is not null));
        var first = Assert.Single(units.Select(u => u.Client.Keys.KeyOf(0)!.Id).Distinct());
        Assert.All(units, u => Assert.Contains("\"security\":{\"mode\":\"encrypted\",\"cipher\":\"aes-gcm\"}", u.Assignments[^1].ConfigJson, StringComparison.Ordinal));
        Assert.All(units, u => Assert.DoesNotContain("\"keys\"", u.Assignments[^1].ConfigJson, StringComparison.Ordinal));

        using var client = Factory.AdminClient();
        using var response = await client.PostAsync(new Uri($"/api/v1/dvas/{dva}:rotate-keys", UriKind.Relative), null);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = JsonNode.Parse(body)!;
        var keyId = (uint)view["keyId"]!;
        Assert.Equal((1, first, 3), ((int)view["sendPhase"]!, (uint)view["retiredKeyId"]!, (int)view["unitsRotated"]!));
        Assert.NotEqual(first, keyId);
        Assert.All(units, u => Assert.Equal((1, keyId, (uint?)null), (u.Client.Keys.SendPhase, u.Client.Keys.KeyOf(1)!.Id, u.Client.Keys.KeyOf(0)?.Id)));

        var material = Convert.ToBase64String(units[0].Client.Keys.KeyOf(1)!.Material);
        var audit = await client.GetStringAsync(new Uri($"/api/v1/audit?dvaId={dva}", UriKind.Relative));
        var shown = await client.GetStringAsync(new Uri($"/api/v1/dvas/{dva}", UriKind.Relative));
        Assert.Contains("rotate-keys", audit, StringComparison.Ordinal);
        Assert.Contains($"{keyId:x8}", audit, StringComparison.Ordinal);
        foreach (var text in new[] { body, audit, shown })
        {
            Assert.DoesNotContain(material, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task RotateKeys_PlainDva_ConflictProblemSayingSo()
    {
        var dva = await Factory.CreateDvaAsync("plain", "disp-1", dataPlanes: 1);
        using var client = Factory.AdminClient();

        using var response = await client.PostAsync(new Uri($"/api/v1/dvas/{dva}:rotate-keys", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("plain mode", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateDva_UnknownTunnelSecurity_ProblemNamingTheField()
    {
        using var client = Factory.AdminClient();

        using var response = await client.PostAsync(new Uri("/api/v1/dvas", UriKind.Relative),
            new StringContent("""{ "name": "bad", "tunnelSecurity": "rot13" }""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("tunnelSecurity", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }
}
