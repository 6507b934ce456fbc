using System.Security.Cryptography;
using System.Text;
using Dva.Manager.Infrastructure;

namespace Dva.Manager.Hubs;

/// <summary>
/// The shared secret a node agent must show to connect to the node hub. Taken from <c>Dva:EnrollmentToken</c>;
/// when absent, generated once, kept in a file beside the database (so restarts keep it) and printed to the console.
/// </summary>
internal sealed class EnrollmentToken
{
    public const string ConfigKey = "Dva:EnrollmentToken";
    public const string QueryParameter = "enrollment";
    private const string FileName = "enrollment.token";

    private readonly byte[] _token;

    public EnrollmentToken(string token)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
        _token = Encoding.UTF8.GetBytes(token);
    }

    /// <summary>The token itself, for the agents this manager starts on its own machine and for the start-up banner.</summary>
    public string Value => Encoding.UTF8.GetString(_token);

    /// <summary>Compares in constant time, so the answer's timing tells nothing about how much of a guess was right.</summary>
    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _token);

    /// <summary>The token a request presents: the header, else the query parameter (browsers' WebSockets cannot set headers).</summary>
    public static string? Presented(HttpContext context) =>
        context.Request.Headers.TryGetValue(Shared.Contracts.NodeHubPaths.EnrollmentHeader, out var header) && header.Count > 0
            ? header[0]
            : context.Request.Query.TryGetValue(QueryParameter, out var query) && query.Count > 0 ? query[0] : null;

    public static EnrollmentToken Load(IServiceProvider services)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        if (configuration[ConfigKey] is { Length: > 0 } configured)
        {
            return new EnrollmentToken(configured);
        }

        var environment = services.GetRequiredService<IHostEnvironment>();
        var database = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(
            DatabaseLocation.ConnectionString(configuration, environment.ContentRootPath)).DataSource;
        var directory = string.IsNullOrEmpty(database) || database == ":memory:"
            ? environment.ContentRootPath
            : Path.GetDirectoryName(Path.GetFullPath(database))!;
        var path = Path.Combine(directory, FileName);
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } stored)
        {
            return new EnrollmentToken(stored);
        }

        var generated = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        File.WriteAllText(path, generated);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        services.GetRequiredService<FirstRunConsole>().Writer.WriteLine(
            $"DVA manager: generated the node enrollment token (kept in {path}): {generated}");
        return new EnrollmentToken(generated);
    }
}
