namespace Dva.Manager.Infrastructure;

/// <summary>Turns <c>Dva:Database</c> (a file path or a full SQLite connection string) into a connection string.</summary>
internal static class DatabaseLocation
{
    public const string DefaultPath = "db/dva.db";

    public static string ConnectionString(IConfiguration configuration, string contentRoot)
    {
        var setting = configuration["Dva:Database"];
        if (string.IsNullOrWhiteSpace(setting))
        {
            setting = DefaultPath;
        }

        if (setting.Contains('=', StringComparison.Ordinal))
        {
            return setting;
        }

        var path = Path.GetFullPath(setting, contentRoot);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return $"Data Source={path}";
    }
}
