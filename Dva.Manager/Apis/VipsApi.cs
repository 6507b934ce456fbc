using Dva.Manager.Model;
using Dva.Manager.Services;
using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.VipService, Dva.Manager.Model.Vip, Dva.Manager.Model.VipSpec>;

namespace Dva.Manager.Apis;

internal static class VipsApi
{
    public static IEndpointRouteBuilder MapVipsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas/{dvaId:long}/vips", "VIPs");
        group.MapGet("/", Handlers.List);
        group.MapGet("/{id:long}", Handlers.Get);
        group.MapPost("/", Handlers.Create);
        group.MapPut("/{id:long}", Handlers.Replace);
        group.MapDelete("/{id:long}", Handlers.Delete);
        return app;
    }
}
