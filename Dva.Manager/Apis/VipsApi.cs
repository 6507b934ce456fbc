using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.VipService, Dva.Manager.Model.Vip, Dva.Manager.Model.VipSpec>;

namespace Dva.Manager.Apis;

internal static class VipsApi
{
    public static IEndpointRouteBuilder MapVipsApi(this IEndpointRouteBuilder app)
    {
        app.MapDvaChildApi("vips", "VIPs", Handlers.List, Handlers.Get, Handlers.Create, Handlers.Replace, Handlers.Delete);
        return app;
    }
}
