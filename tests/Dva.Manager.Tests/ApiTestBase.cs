using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dva.Manager.Tests;

/// <summary>Helpers shared by the REST tests: JSON in and out, problem+json assertions, a fresh DVA.</summary>
public abstract class ApiTestBase(ManagerFixture fixture) : IClassFixture<ManagerFixture>
{
    protected ManagerFactory Factory => fixture.Factory;

    protected HttpClient Client { get; } = fixture.Factory.Admin();

    protected static async Task<JsonNode> ReadJsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    protected static async Task<JsonNode> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? new JsonObject() : JsonNode.Parse(body)!;
    }

    /// <summary>Asserts a problem+json answer with <paramref name="status"/> and returns it.</summary>
    protected static async Task<JsonNode> ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var problem = await ExpectAsync(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, (int)problem["status"]!);
        return problem;
    }

    /// <summary>Asserts a 400 validation problem that names each of <paramref name="fields"/>.</summary>
    protected static async Task<JsonObject> ExpectFieldErrorsAsync(HttpResponseMessage response, params string[] fields)
    {
        var problem = await ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem["errors"]!.AsObject();
        foreach (var field in fields)
        {
            Assert.True(errors.ContainsKey(field), $"no error for '{field}' in {errors.ToJsonString()}");
        }

        return errors;
    }

    protected static string ETagOf(HttpResponseMessage response) => response.Headers.ETag!.Tag;

    protected static HttpRequestMessage Request(HttpMethod method, string uri, object? body = null, string? ifMatch = null)
    {
        var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: ManagerFactory.Json);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return request;
    }

    protected static StringContent RawJson(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    protected async Task<long> CreateDvaAsync(string? name = null)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas", new { name = name ?? $"dva-{Guid.NewGuid():N}"[..20] });
        return (long)(await ExpectAsync(response, HttpStatusCode.Created))["id"]!;
    }

    protected async Task<long> CreateInterfaceAsync(long dvaId, int ifid)
    {
        var response = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new
        {
            ifid,
            name = $"if{ifid}",
            mac = $"02:00:00:00:00:{ifid:x2}",
            addresses = new[] { $"192.0.2.{ifid}/24" },
        });
        return (long)(await ExpectAsync(response, HttpStatusCode.Created))["id"]!;
    }

    protected static string Compact(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions()) ?? "null";
}
