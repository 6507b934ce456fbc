using Dva.Manager.Model;
using Dva.Manager.Services;
using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.StaticRouteService, Dva.Manager.Model.StaticRoute, Dva.Manager.Model.StaticRouteSpec>;

namespace Dva.Manager.Apis;

internal static class RoutesApi
{
    public static IEndpointRouteBuilder MapRoutesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas/{dvaId:long}/routes", "Static routes");
        group.MapGet("/", Handlers.List);
        group.MapGet("/{id:long}", Handlers.Get);
        group.MapPost("/", Handlers.Create);
        group.MapPut("/{id:long}", Handlers.Replace);
        group.MapDelete("/{id:long}", Handlers.Delete);
        return app;
    }
}
