namespace Dva.Manager.Provider;

internal static class LocalUnitExtensions
{
    /// <summary>The local compute-unit provider and the manager's own address (which local agents connect to).</summary>
    public static IHostApplicationBuilder AddLocalComputeUnits(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.Configure<LocalUnitOptions>(builder.Configuration.GetSection("Dva:LocalUnits"));
        services.AddSingleton<ManagerEndpoint>();
        services.AddSingleton<LocalComputeUnitProvider>();
        // Registered after the node hub: hosted services stop in reverse order, so the units stop while the hub still answers.
        services.AddHostedService(provider => provider.GetRequiredService<LocalComputeUnitProvider>());
        return builder;
    }
}
