using Dva.Manager.Apis;
using Dva.Manager.Infrastructure;
using Dva.Manager.Hubs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Demo;

internal static class DemoExtensions
{
    /// <summary>The demo bootstrapper, its traffic figures and the start-up banner (which it prints even when the demo is off).</summary>
    public static IHostApplicationBuilder AddDemo(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.Configure<DemoOptions>(builder.Configuration.GetSection("Dva:Demo"));
        services.AddSingleton(new StartupNotes(Console.Out));
        // Replaces the plain console writer: the first-run lines (admin key) are kept for the banner.
        services.AddSingleton(provider => new FirstRunConsole(provider.GetRequiredService<StartupNotes>().Writer));
        services.AddSingleton(provider => new StartupBanner(
            provider.GetRequiredService<StartupNotes>(), provider.GetRequiredService<EnrollmentToken>(), Console.Out));
        services.AddSingleton<DemoTraffic>();
        services.AddSingleton<DemoBootstrapper>();
        services.AddHostedService(provider => provider.GetRequiredService<DemoBootstrapper>());
        return builder;
    }

    /// <summary><c>GET /api/v1/demo</c>: state, DVA id, local units and the generator's latest figures.</summary>
    public static IEndpointRouteBuilder MapDemoApi(this IEndpointRouteBuilder app)
    {
        app.MapApiGroup("/demo", "Demo").MapGet("/", Get);
        return app;
    }

    public static Ok<DemoStatusView> Get(DemoBootstrapper demo) => TypedResults.Ok(demo.Status);
}
