using System.Security.Claims;

namespace Dva.Web.Backend;

/// <summary>
/// Dashboard sign-in: an API key typed on the login page, checked by the manager, kept as an HTTP-only
/// cookie that carries the key's name, id and roles (cumulative, like the REST API's).
/// </summary>
public static class DashboardRoles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Admin = "admin";

    /// <summary>The cookie authentication scheme of the dashboard.</summary>
    public const string Scheme = "DvaDashboard";

    public const string KeyIdClaim = "dva:keyId";

    private static readonly string[] Order = [Viewer, Operator, Admin];

    public static ClaimsPrincipal ToPrincipal(DashboardUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var claims = new List<Claim> { new(ClaimTypes.Name, user.Name), new(KeyIdClaim, user.KeyId) };
        var rank = Array.IndexOf(Order, user.Role);
        claims.AddRange(Order.Take(rank + 1).Select(r => new Claim(ClaimTypes.Role, r)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme));
    }

    /// <summary>The user a principal stands for; null when not signed in to the dashboard.</summary>
    public static DashboardUser? FromPrincipal(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (principal.Identity is not { IsAuthenticated: true, Name: { Length: > 0 } name } || principal.FindFirst(KeyIdClaim) is not { } keyId)
        {
            return null;
        }

        var role = Order.LastOrDefault(principal.IsInRole) ?? Viewer;
        return new DashboardUser(name, keyId.Value, role);
    }
}
