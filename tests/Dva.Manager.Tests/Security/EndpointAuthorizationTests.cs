using System.Net;
using Dva.Manager.Model;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Security;

/// <summary>Every /api/v1 route, found from the app's own endpoint table, refuses anonymous callers and viewers' writes.</summary>
public sealed class EndpointAuthorizationTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    private List<(string Method, string Path)> ApiRoutes()
    {
        var routes = Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1", StringComparison.Ordinal) == true)
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => (m, Concrete(e.RoutePattern.RawText!))))
            .ToList();
        Assert.True(routes.Count >= 40, $"only {routes.Count} API routes found");
        return routes;
    }

    private static string Concrete(string pattern) =>
        System.Text.RegularExpressions.Regex.Replace(pattern, @"\{[^}]+\}", "1");

    [Fact]
    public async Task EveryApiRoute_WithoutKey_Returns401()
    {
        var anonymous = Factory.CreateClient();
        foreach (var (method, path) in ApiRoutes())
        {
            var response = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = RawJson("{}") });

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task EveryChangingApiRoute_WithViewerKey_Returns403()
    {
        var viewer = await Factory.ClientWithRoleAsync(ApiRole.Viewer);
        foreach (var (method, path) in ApiRoutes().Where(r => r.Method != "GET"))
        {
            var response = await viewer.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = RawJson("{}") });

            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode}");
        }
    }
}
