using Dva.Manager.Model;
using Dva.Manager.Services;
using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.SharedInterfaceService, Dva.Manager.Model.SharedInterface, Dva.Manager.Model.SharedInterfaceSpec>;

namespace Dva.Manager.Apis;

internal static class InterfacesApi
{
    public static IEndpointRouteBuilder MapInterfacesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas/{dvaId:long}/interfaces", "Shared interfaces");
        group.MapGet("/", Handlers.List);
        group.MapGet("/{id:long}", Handlers.Get);
        group.MapPost("/", Handlers.Create);
        group.MapPut("/{id:long}", Handlers.Replace);
        group.MapDelete("/{id:long}", Handlers.Delete);
        return app;
    }
}
