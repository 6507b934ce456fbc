using Dva.Manager.Services;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Infrastructure;

/// <summary>
/// Before the server takes requests: applies pending migrations and makes sure an admin API key exists
/// (printing a newly generated one once, since only its hash is stored).
/// </summary>
internal sealed class DatabaseInitializer(
    IServiceProvider services, IConfiguration configuration, FirstRunConsole console, ILogger<DatabaseInitializer> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        await db.Database.MigrateAsync(cancellationToken);
        // Write-ahead log instead of the rollback journal: a commit is one append and one flush of the log, not a
        // journal file written, flushed and deleted around the database's own flush (an era rollout's commits took
        // about twice as long; docs/benchmarks.md, "Era rollout latency"). Synchronous stays FULL: a committed
        // table version survives a power cut, which a restarted manager relies on. The setting is kept in the file.
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
        var generated = await keys.EnsureAdminKeyAsync(configuration["Dva:AdminKey"], cancellationToken);
        if (generated is not null)
        {
            await console.Writer.WriteLineAsync($"DVA manager: created admin API key (shown only once): {generated}");
            logger.LogWarning("Created the first admin API key; it was printed to the console once.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Where a newly generated admin key is printed: the console rather than the logger, so that it reaches the
/// operator even when logs are filtered or shipped elsewhere (and is not kept in a log store).
/// </summary>
internal sealed record FirstRunConsole(TextWriter Writer);
