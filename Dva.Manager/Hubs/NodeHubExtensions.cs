using Dva.Manager.Elasticity;
using Dva.Manager.Rollout;
using Dva.Shared.Contracts;

namespace Dva.Manager.Hubs;

internal static class NodeHubExtensions
{
    /// <summary>The node hub, the rollout, the fleet loop and the elasticity controller.</summary>
    public static IHostApplicationBuilder AddNodeHub(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.Configure<NodeHubOptions>(builder.Configuration.GetSection("Dva:Hub"));
        services.Configure<ElasticityOptions>(builder.Configuration.GetSection("Dva:Elasticity"));
        var maxMessage = builder.Configuration.GetSection("Dva:Hub").Get<NodeHubOptions>()?.MaximumReceiveMessageSize
            ?? new NodeHubOptions().MaximumReceiveMessageSize;
        services.AddSignalR(options =>
        {
            options.MaximumReceiveMessageSize = maxMessage;
            options.EnableDetailedErrors = false;
        });
        services.AddSingleton(EnrollmentToken.Load);
        services.AddSingleton<RegistrationRateLimiter>();
        services.AddSingleton<NodeSessions>();
        services.AddSingleton<HeartbeatFeed>();
        services.AddSingleton<Services.HeartbeatWriter>();
        services.AddHostedService(provider => provider.GetRequiredService<Services.HeartbeatWriter>());
        services.AddSingleton(_ => new ManagerStallClock(TimeSpan.FromSeconds(1)));
        services.AddSingleton<RolloutCoordinator>();
        services.AddSingleton<FleetReconciler>();
        services.AddSingleton<Security.Keys.TunnelKeyService>();
        services.AddHostedService<FleetService>();
        services.AddSingleton<ElasticityController>();
        services.AddHostedService(provider => provider.GetRequiredService<ElasticityController>());
        return builder;
    }

    /// <summary>
    /// Maps the hub behind the enrollment token: a connection without the right token is refused with 401 before
    /// SignalR sees it (negotiation and transport requests alike).
    /// </summary>
    public static WebApplication MapNodeHub(this WebApplication app)
    {
        var token = app.Services.GetRequiredService<EnrollmentToken>();
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments(NodeHubPaths.Hub, StringComparison.Ordinal),
            branch => branch.Use(async (context, next) =>
            {
                if (!token.Matches(EnrollmentToken.Presented(context)))
                {
                    await Results.Problem(
                        statusCode: StatusCodes.Status401Unauthorized,
                        title: "Enrollment required",
                        detail: $"Connecting to the node hub needs the manager's enrollment token in the {NodeHubPaths.EnrollmentHeader} header.")
                        .ExecuteAsync(context);
                    return;
                }

                await next(context);
            }));
        app.MapHub<NodeHub>(NodeHubPaths.Hub).AllowAnonymous();
        return app;
    }
}
