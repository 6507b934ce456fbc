using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests;

/// <summary>The real manager on a SQLite file of its own; several factories may share one file to test restarts.</summary>
public sealed class ManagerFactory : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key-0123456789abcdef0123456789";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public ManagerFactory(string databasePath, long? maxBodyBytes = null, TimeProvider? time = null)
    {
        DatabasePath = databasePath;
        MaxBodyBytes = maxBodyBytes;
        Time = time;
    }

    public string DatabasePath { get; }

    private long? MaxBodyBytes { get; }

    private TimeProvider? Time { get; }

    public HttpClient CreateClient(string? key)
    {
        var client = CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    public HttpClient Admin() => CreateClient(AdminKey);

    /// <summary>A client whose key was created through the API with <paramref name="role"/>.</summary>
    internal async Task<HttpClient> ClientWithRoleAsync(ApiRole role)
    {
        var response = await Admin().PostAsJsonAsync("/api/v1/keys", new { name = $"{role}-{Guid.NewGuid():N}", role = role.ToString().ToLowerInvariant() });
        response.EnsureSuccessStatusCode();
        var created = await response.Content.ReadFromJsonAsync<CreatedApiKey>(Json);
        return CreateClient(created!.Secret);
    }

    /// <summary>Runs <paramref name="action"/> with a service from a fresh scope, as the node hub or dashboard would.</summary>
    internal async Task<T> WithServiceAsync<TService, T>(Func<TService, Task<T>> action)
        where TService : notnull
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<TService>());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Dva:Database", DatabasePath);
        builder.UseSetting("Dva:AdminKey", AdminKey);
        if (MaxBodyBytes is { } max)
        {
            builder.UseSetting("Dva:MaxRequestBodyBytes", max.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (Time is { } time)
        {
            builder.ConfigureTestServices(services => services.AddSingleton(time));
        }
    }
}

/// <summary>One temporary database file per test class, deleted afterwards.</summary>
public sealed class TempDatabase
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dva-manager-test-{Guid.NewGuid():N}.db");

    public void Delete()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(Path + suffix);
        }
    }
}

/// <summary>A started manager shared by the tests of one class.</summary>
public sealed class ManagerFixture : IAsyncLifetime
{
    private readonly TempDatabase _database = new();

    public ManagerFactory Factory { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Factory = new ManagerFactory(_database.Path);
        Factory.CreateClient().Dispose();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        _database.Delete();
    }
}
