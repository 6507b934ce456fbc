using System.Text.Json;
using System.Text.Json.Serialization;
using Dva.Manager.Apis;
using Dva.Manager.Infrastructure;
using Dva.Manager.Security;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Extensions;

internal static class ApplicationServiceExtensions
{
    /// <summary>Persistence, domain services, auth, problem details and OpenAPI.</summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var contentRoot = builder.Environment.ContentRootPath;
        // Resolved on first use, so configuration added by a test host or later providers is honoured. The options are
        // built once (singleton), not per scope: every hub call (a unit's table ack, a heartbeat) makes a hub with a
        // context, and options built per scope read the configuration, created the database's directory and made EF look
        // its internal services up again each time (a tenth of the rollout harness's CPU; docs/benchmarks.md).
        services.AddDbContext<ManagerDbContext>(
            (provider, options) => options.UseSqlite(DatabaseLocation.ConnectionString(provider.GetRequiredService<IConfiguration>(), contentRoot)),
            optionsLifetime: ServiceLifetime.Singleton);
        services.AddHostedService<DatabaseInitializer>();
        services.AddSingleton(new FirstRunConsole(Console.Out));
        services.AddSingleton(TimeProvider.System);
        services.AddHttpContextAccessor();
        services.AddScoped<IActorAccessor, HttpContextActorAccessor>();
        services.AddScoped<AuditLog>();
        services.AddScoped<DvaService>();
        services.AddScoped<SharedInterfaceService>();
        services.AddScoped<StaticRouteService>();
        services.AddScoped<FirewallRuleService>();
        services.AddScoped<VipService>();
        services.AddScoped<PoolService>();
        services.AddScoped<MemberService>();
        services.AddScoped<NodeRegistry>();
        services.AddScoped<TableHistoryService>();
        services.AddScoped<ApiKeyService>();
        services.Configure<NodeOptions>(builder.Configuration.GetSection("Dva:Nodes"));
        services.Configure<RequestLimitOptions>(builder.Configuration.GetSection("Dva"));
        services.AddSingleton<ApiMetrics>();

        // Protects the tunnel keys at rest (ApplianceTunnel.ProtectedKeys). Its own key ring lives in the user profile
        // unless Dva:DataProtectionKeys names a folder (give it one on servers, next to the database, backed up with it).
        var protection = services.AddDataProtection().SetApplicationName("dva-manager");
        if (builder.Configuration["Dva:DataProtectionKeys"] is { Length: > 0 } keyFolder)
        {
            protection.PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(contentRoot, keyFolder)));
        }

        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
            // A null where the schema has no null is a malformed body (400), not a crash inside validation.
            options.SerializerOptions.RespectNullableAnnotations = true;
            options.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        });
        // Unreadable bodies throw, so ProblemExceptionHandler can answer them as problem+json with the reason.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(options => options.AddApiPolicies());
        services.AddOpenApi();
        return builder;
    }

    /// <summary>The middleware pipeline, outermost first.</summary>
    public static WebApplication UseApplicationPipeline(this WebApplication app)
    {
        var limits = app.Configuration.GetSection("Dva").Get<RequestLimitOptions>() ?? new RequestLimitOptions();
        ApiMetrics.UseApiRequestCounting(app, app.Services.GetRequiredService<ApiMetrics>());
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestBodyLimit(limits.MaxRequestBodyBytes);
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi();
        return app;
    }
}
