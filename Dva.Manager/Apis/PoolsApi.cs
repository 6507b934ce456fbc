using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.PoolService, Dva.Manager.Model.Pool, Dva.Manager.Model.PoolSpec>;

namespace Dva.Manager.Apis;

internal static class PoolsApi
{
    public static IEndpointRouteBuilder MapPoolsApi(this IEndpointRouteBuilder app)
    {
        app.MapDvaChildApi("pools", "Pools", Handlers.List, Handlers.Get, Handlers.Create, Handlers.Replace, Handlers.Delete);
        var members = app.MapApiGroup("/dvas/{dvaId:long}/pools/{poolId:long}/members", "Pools");
        members.MapGet("/", ListMembers);
        members.MapPut("/", ReplaceMembers).RunAgainOnLostRace();
        members.MapPost("/", AddMember).RunAgainOnLostRace();
        members.MapGet("/{id:long}", GetMember);
        members.MapDelete("/{id:long}", DeleteMember).RunAgainOnLostRace();
        return app;
    }

    public static async Task<Results<Ok<MemberListView>, ValidationProblem, ProblemHttpResult>> ListMembers(
        long dvaId, long poolId, MemberService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await service.ListAsync(dvaId, poolId, ct), response);

    /// <summary>Replaces all members of the pool; If-Match (the pool's ETag) is checked when sent.</summary>
    public static async Task<Results<Ok<MemberListView>, ValidationProblem, ProblemHttpResult>> ReplaceMembers(
        long dvaId, long poolId, List<MemberSpec> members, MemberService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await service.ReplaceAllAsync(dvaId, poolId, members, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<Created<MemberView>, ValidationProblem, ProblemHttpResult>> AddMember(
        long dvaId, long poolId, MemberSpec spec, MemberService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Created(await service.AddAsync(dvaId, poolId, spec, ct), request.HttpContext.Response, v => $"{request.Path.Value!.TrimEnd('/')}/{v.Id}");

    public static async Task<Results<Ok<MemberView>, ValidationProblem, ProblemHttpResult>> GetMember(
        long dvaId, long poolId, long id, MemberService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await service.GetAsync(dvaId, poolId, id, ct), response);

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeleteMember(
        long dvaId, long poolId, long id, MemberService service, CancellationToken ct) =>
        ApiResults.NoContent(await service.DeleteAsync(dvaId, poolId, id, ct));
}
