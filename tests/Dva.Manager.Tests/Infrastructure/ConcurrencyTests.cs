using System.Net;
using System.Net.Http.Json;
using Dva.Manager.Infrastructure;
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
