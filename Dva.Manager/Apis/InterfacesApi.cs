using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.SharedInterfaceService, Dva.Manager.Model.SharedInterface, Dva.Manager.Model.SharedInterfaceSpec>;

namespace Dva.Manager.Apis;

internal static class InterfacesApi
{
    public static IEndpointRouteBuilder MapInterfacesApi(this IEndpointRouteBuilder app)
    {
        app.MapDvaChildApi("interfaces", "Shared interfaces", Handlers.List, Handlers.Get, Handlers.Create, Handlers.Replace, Handlers.Delete);
        return app;
    }
}
