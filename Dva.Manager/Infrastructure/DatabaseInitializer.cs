using Dva.Manager.Services;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Infrastructure;

/// <summary>
/// Before the server takes requests: applies pending migrations and makes sure an admin API key exists
/// (printing a newly generated one once, since only its hash is stored).
/// </summary>
internal sealed class DatabaseInitializer(IServiceProvider services, IConfiguration configuration, ILogger<DatabaseInitializer> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        await db.Database.MigrateAsync(cancellationToken);
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
        var generated = await keys.EnsureAdminKeyAsync(configuration["Dva:AdminKey"], cancellationToken);
        if (generated is not null)
        {
            // Console rather than the logger: the key must reach the operator even when logs are filtered or shipped elsewhere.
            await Console.Out.WriteLineAsync($"DVA manager: created admin API key (shown only once): {generated}");
            logger.LogWarning("Created the first admin API key; it was printed to the console once.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
