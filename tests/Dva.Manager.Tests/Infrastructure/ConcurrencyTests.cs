using System.Net;
using System.Net.Http.Json;
using Dva.Manager.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Infrastructure;

/// <summary>The Version column guards writes even when two writers passed their If-Match checks at the same time.</summary>
public sealed class ConcurrencyTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    [Fact]
    public async Task Save_RowChangedSinceRead_IsRefusedByTheVersionToken()
    {
        var dvaId = await CreateDvaAsync();
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        var stale = await db.Dvas.SingleAsync(d => d.Id == dvaId);

        await ExpectAsync(await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}", new { name = stale.Name, description = "winner" }), HttpStatusCode.OK);
        stale.Description = "loser";
        stale.Version++;

        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => db.SaveChangesAsync());
    }

    [Fact]
    public async Task LostRaceWithoutIfMatch_RunAgainOnFreshRows()
    {
        var dvaId = await CreateDvaAsync();
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        var context = RetryContext(scope.ServiceProvider, ifMatch: null);
        var runs = 0;

        // The first run writes a row another writer changed meanwhile (as the fleet reconciler does to a node).
        var result = await new ConcurrencyRetryFilter().InvokeAsync(context, async _ =>
        {
            runs++;
            var dva = await db.Dvas.SingleAsync(d => d.Id == dvaId);
            if (runs == 1)
            {
                await ExpectAsync(await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}", new { name = dva.Name, description = "reconciler" }), HttpStatusCode.OK);
            }

            dva.Description = "operator";
            dva.Version++;
            await db.SaveChangesAsync();
            return dva.Description;
        });

        Assert.Equal(2, runs);
        Assert.Equal("operator", result);
        await using var check = Factory.Services.CreateAsyncScope();
        Assert.Equal("operator", (await check.ServiceProvider.GetRequiredService<ManagerDbContext>().Dvas.SingleAsync(d => d.Id == dvaId)).Description);
    }

    [Fact]
    public async Task LostRaceWithIfMatch_NotRunAgain()
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        var context = RetryContext(scope.ServiceProvider, ifMatch: "\"3\"");
        var runs = 0;

        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(async () => await new ConcurrencyRetryFilter().InvokeAsync(context, _ =>
        {
            runs++;
            throw new DbUpdateConcurrencyException("lost");
        }));

        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task LostRaceEveryRun_GivesUpAfterTheLastAttempt()
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        var context = RetryContext(scope.ServiceProvider, ifMatch: null);
        var runs = 0;

        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(async () => await new ConcurrencyRetryFilter().InvokeAsync(context, _ =>
        {
            runs++;
            throw new DbUpdateConcurrencyException("lost");
        }));

        Assert.Equal(ConcurrencyRetryFilter.Attempts, runs);
    }

    [Fact]
    public async Task LostRaceOnAnEndpointWithOutsideEffects_NotRunAgainAndTheEffectHappensOnce()
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        // The real rotate-keys endpoint: a rotation sends key steps to the units between its saves.
        var rotate = ApiEndpoints().Single(e => e.Method == "POST" && e.Route.EndsWith(":rotate-keys", StringComparison.Ordinal)).Endpoint;
        var context = RetryContext(scope.ServiceProvider, ifMatch: null, endpoint: rotate);
        var sentToUnits = 0;

        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(async () => await new ConcurrencyRetryFilter().InvokeAsync(context, _ =>
        {
            sentToUnits++;
            throw new DbUpdateConcurrencyException("lost after the units were told");
        }));

        Assert.Equal(1, sentToUnits);
    }

    [Fact]
    public void RunAgainOnLostRace_OnlyOnChangesThatSaveOnceAndActOnlyInTheDatabase()
    {
        var changes = ApiEndpoints().Where(e => e.Method is not ("GET" or "HEAD")).ToList();
        var notRunAgain = changes.Where(e => e.Endpoint.Metadata.GetMetadata<RunAgainOnLostRaceMetadata>() is null)
            .Select(e => $"{e.Method} {e.Route}").Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(
            [
                "DELETE /api/v1/keys/{id:long}",
                "POST /api/v1/dvas/{dvaId:long}/rollouts/",
                "POST /api/v1/dvas/{id:long}:rotate-keys",
                "POST /api/v1/keys/",
                "POST /api/v1/local-units/",
            ],
            notRunAgain);
        Assert.Contains(changes, e => e.Route == "/api/v1/nodes/{id:long}:drain" && e.Endpoint.Metadata.GetMetadata<RunAgainOnLostRaceMetadata>() is not null);
        Assert.Contains(changes, e => e.Route == "/api/v1/dvas/{dvaId:long}/firewall-rules/{id:long}" && e.Method == "PUT"
            && e.Endpoint.Metadata.GetMetadata<RunAgainOnLostRaceMetadata>() is not null);
    }

    private List<(string Method, string Route, Endpoint Endpoint)> ApiEndpoints() =>
        [.. Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (m, e.RoutePattern.RawText!, (Endpoint)e)))];

    /// <summary>A changing request; on an endpoint marked safe to run again unless <paramref name="endpoint"/> is given.</summary>
    private static DefaultEndpointFilterInvocationContext RetryContext(IServiceProvider services, string? ifMatch, Endpoint? endpoint = null)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = services };
        http.SetEndpoint(endpoint ?? new Endpoint(null, new EndpointMetadataCollection(RunAgainOnLostRaceMetadata.Instance), "a change marked RunAgainOnLostRace"));
        http.Request.Method = "POST";
        if (ifMatch is not null)
        {
            http.Request.Headers.IfMatch = ifMatch;
        }

        return new DefaultEndpointFilterInvocationContext(http);
    }

    [Fact]
    public async Task LostRace_IsAnswered412ProblemByTheExceptionHandler()
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        var handler = ActivatorUtilities.CreateInstance<ProblemExceptionHandler>(scope.ServiceProvider);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Response.Body = new MemoryStream();

        var handled = await handler.TryHandleAsync(context, new DbUpdateConcurrencyException("lost"), CancellationToken.None);

        Assert.True(handled);
        Assert.Equal(412, context.Response.StatusCode);
        Assert.Equal("application/problem+json", context.Response.ContentType);
    }
}
