using Dva.Manager.Model;
using Microsoft.AspNetCore.Authorization;

namespace Dva.Manager.Security;

internal static class ApiRoles
{
    /// <summary>Reads need viewer, every other method needs operator.</summary>
    public const string ApiPolicy = "api";

    /// <summary>Key management.</summary>
    public const string AdminPolicy = "admin";

    public static string Name(ApiRole role) => role switch
    {
        ApiRole.Viewer => "viewer",
        ApiRole.Operator => "operator",
        _ => "admin",
    };

    public static void AddApiPolicies(this AuthorizationOptions options)
    {
        options.AddPolicy(ApiPolicy, policy => policy
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()
            .AddRequirements(new MethodRoleRequirement()));
        options.AddPolicy(AdminPolicy, policy => policy
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireRole(Name(ApiRole.Admin)));
    }
}

/// <summary>GET and HEAD need the viewer role; anything that changes state needs operator.</summary>
internal sealed class MethodRoleRequirement : AuthorizationHandler<MethodRoleRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, MethodRoleRequirement requirement)
    {
        if (context.Resource is HttpContext http)
        {
            var readOnly = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
            var needed = ApiRoles.Name(readOnly ? ApiRole.Viewer : ApiRole.Operator);
            if (context.User.IsInRole(needed))
            {
                context.Succeed(requirement);
            }
        }

        return Task.CompletedTask;
    }
}
