using Dva.Manager.Infrastructure;
using Dva.Manager.Security;

namespace Dva.Manager.Apis;

internal static class ApiGroups
{
    public const string Prefix = "/api/v1";

    /// <summary>
    /// A group under /api/v1 that needs an API key: viewer to read, operator to change. A change without If-Match that
    /// lost a write race is run again on the endpoints marked <c>RunAgainOnLostRace()</c> (<see cref="ConcurrencyRetryFilter"/>).
    /// </summary>
    public static RouteGroupBuilder MapApiGroup(this IEndpointRouteBuilder app, string path, string tag) =>
        app.MapGroup(Prefix + path)
            .RequireAuthorization(ApiRoles.ApiPolicy)
            .AddEndpointFilter<ConcurrencyRetryFilter>()
            .WithTags(tag)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

    /// <summary>
    /// The routes of a DVA-owned collection: list (unless null), get, create, replace, delete. Handlers come
    /// from a closed <see cref="DvaChildApi{TService, TEntity, TSpec}"/> at the call site; each change is one save
    /// with its audit entry, so it may run again after a lost race.
    /// </summary>
    public static RouteGroupBuilder MapDvaChildApi(
        this IEndpointRouteBuilder app, string collection, string tag,
        Delegate? list, Delegate get, Delegate create, Delegate replace, Delegate delete)
    {
        var group = app.MapApiGroup($"/dvas/{{dvaId:long}}/{collection}", tag);
        if (list is not null)
        {
            group.MapGet("/", list);
        }

        group.MapGet("/{id:long}", get);
        group.MapPost("/", create).RunAgainOnLostRace();
        group.MapPut("/{id:long}", replace).RunAgainOnLostRace();
        group.MapDelete("/{id:long}", delete).RunAgainOnLostRace();
        return group;
    }
}
