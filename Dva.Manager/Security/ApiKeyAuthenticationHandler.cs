using System.Security.Claims;
using System.Text.Encodings.Web;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Security;

/// <summary>"Authorization: Bearer &lt;API key&gt;". Answers 401 and 403 as problem+json.</summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IProblemDetailsService problemDetails)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
        {
            return AuthenticateResult.Fail("The Authorization header must be 'Bearer <API key>'.");
        }

        var keys = Context.RequestServices.GetRequiredService<ApiKeyService>();
        var key = await keys.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (key is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, $"key:{key.Name}"),
            new(ClaimTypes.NameIdentifier, key.KeyId),
        };
        // Roles are cumulative: an admin may do what an operator may, an operator what a viewer may.
        claims.AddRange(Enum.GetValues<ApiRole>().Where(r => r <= key.Role).Select(r => new Claim(ClaimTypes.Role, ApiRoles.Name(r))));
        var identity = new ClaimsIdentity(claims, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        return WriteProblemAsync("Unauthorized", "Send 'Authorization: Bearer <API key>' with a valid key.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return WriteProblemAsync("Forbidden", "The API key's role does not allow this request.");
    }

    private async Task WriteProblemAsync(string title, string detail) =>
        await problemDetails.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = Response.StatusCode, Title = title, Detail = detail },
        });
}
