namespace Dva.Manager.Services;

/// <summary>Who is making a change, for the audit log and table history.</summary>
internal interface IActorAccessor
{
    string Actor { get; }
}

/// <summary>The API key (or later the dashboard user) behind the current HTTP request; "system" outside one.</summary>
internal sealed class HttpContextActorAccessor(IHttpContextAccessor accessor) : IActorAccessor
{
    public const string System = "system";

    public string Actor => accessor.HttpContext?.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name }
        ? name
        : System;
}
