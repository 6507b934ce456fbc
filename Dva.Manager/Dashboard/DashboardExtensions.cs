using Dva.Manager.Infrastructure;
using Dva.Manager.Services;
using Dva.Web;
using Dva.Web.Backend;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Dva.Manager.Dashboard;

internal static class DashboardExtensions
{
    /// <summary>Every dashboard page needs a signed-in key holder (viewer at least); changes check operator in the backend.</summary>
    public const string Policy = "dashboard";

    /// <summary>The Blazor dashboard (Dva.Web), its cookie sign-in, and the live state it shows.</summary>
    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // Serves Dva.Web's wwwroot and blazor.web.js from the build output in every environment (tests run as
        // "Testing", a build run outside Development); a published app has them in its own wwwroot instead.
        builder.WebHost.UseStaticWebAssets();
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddSingleton<LiveState>();
        services.AddHostedService<LiveStateFeeder>();
        services.AddScoped<DashboardActor>();
        services.Replace(ServiceDescriptor.Scoped<IActorAccessor, DashboardActorAccessor>());
        services.AddScoped<IDashboardBackend, DashboardBackend>();
        services.AddAuthentication().AddCookie(DashboardRoles.Scheme, options =>
        {
            options.Cookie.Name = "dva_dashboard";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.LoginPath = "/login";
            options.LogoutPath = "/logout";
            options.AccessDeniedPath = "/login";
            options.ExpireTimeSpan = TimeSpan.FromHours(8);
            options.SlidingExpiration = true;
            options.Events.OnValidatePrincipal = RevalidateKeyAsync;
        });
        services.AddAuthorization(options => options.AddPolicy(Policy, policy => policy
            .AddAuthenticationSchemes(DashboardRoles.Scheme)
            .RequireRole(DashboardRoles.Viewer)));
        return builder;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode()
            .RequireAuthorization(Policy);
        app.MapPost("/logout", (Delegate)SignOutAsync)
            .WithMetadata(new RequireAntiforgeryTokenAttribute())
            .ExcludeFromDescription();
        return app;
    }

    private static async Task<RedirectHttpResult> SignOutAsync(HttpContext context)
    {
        await context.SignOutAsync(DashboardRoles.Scheme);
        return TypedResults.Redirect("/login");
    }

    /// <summary>A cookie outlives nothing it came from: a revoked key, or one whose role changed, signs the browser out.</summary>
    private static async Task RevalidateKeyAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal is not { } principal || DashboardRoles.FromPrincipal(principal) is not { } user)
        {
            context.RejectPrincipal();
            return;
        }

        var db = context.HttpContext.RequestServices.GetRequiredService<ManagerDbContext>();
        var key = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == user.KeyId, context.HttpContext.RequestAborted);
        if (key is null || Security.ApiRoles.Name(key.Role) != user.Role)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(DashboardRoles.Scheme);
        }
    }
}
