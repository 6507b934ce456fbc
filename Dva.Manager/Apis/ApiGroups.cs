using Dva.Manager.Security;

namespace Dva.Manager.Apis;

internal static class ApiGroups
{
    public const string Prefix = "/api/v1";

    /// <summary>A group under /api/v1 that needs an API key: viewer to read, operator to change.</summary>
    public static RouteGroupBuilder MapApiGroup(this IEndpointRouteBuilder app, string path, string tag) =>
        app.MapGroup(Prefix + path)
            .RequireAuthorization(ApiRoles.ApiPolicy)
            .WithTags(tag)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
}
