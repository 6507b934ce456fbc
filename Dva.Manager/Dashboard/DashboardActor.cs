using Dva.Manager.Services;

namespace Dva.Manager.Dashboard;

/// <summary>
/// The dashboard user a service call acts for. A Blazor circuit outlives its HTTP request, so the actor
/// cannot come from <see cref="IHttpContextAccessor"/> there; the dashboard backend sets it on the scope
/// it creates for each change.
/// </summary>
internal sealed class DashboardActor
{
    public string? Name { get; set; }
}

/// <summary>The dashboard user when one is set on this scope, else the API key of the HTTP request.</summary>
internal sealed class DashboardActorAccessor(DashboardActor dashboard, IHttpContextAccessor http) : IActorAccessor
{
    private readonly HttpContextActorAccessor _fromRequest = new(http);

    public string Actor => dashboard.Name ?? _fromRequest.Actor;
}
