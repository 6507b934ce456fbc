using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.StaticRouteService, Dva.Manager.Model.StaticRoute, Dva.Manager.Model.StaticRouteSpec>;

namespace Dva.Manager.Apis;

internal static class RoutesApi
{
    public static IEndpointRouteBuilder MapRoutesApi(this IEndpointRouteBuilder app)
    {
        app.MapDvaChildApi("routes", "Static routes", Handlers.List, Handlers.Get, Handlers.Create, Handlers.Replace, Handlers.Delete);
        return app;
    }
}
