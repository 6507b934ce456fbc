using Bunit;
using Dva.Web.Backend;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Web.Tests.Components;

/// <summary>Components rendered as in a live circuit, over the real dashboard backend of a shared manager, signed in with <c>role</c>.</summary>
public abstract class BackendComponentTest : BunitContext, IClassFixture<ManagerHost>
{
    protected BackendComponentTest(ManagerHost host, string role)
    {
        ArgumentNullException.ThrowIfNull(host);
        Host = host;
        Services.AddSingleton<IDashboardBackend>(host.Factory.BackendAs(role));
        Services.AddSingleton(TimeProvider.System);
        Renderer.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    protected ManagerHost Host { get; }
}
