using System.Text;

namespace Dva.Manager.Tests.Infrastructure;

/// <summary>
/// Turns EF's SQLite migration script into one that can run on a database at any stage: SQLite has
/// "IF NOT EXISTS" for tables and indexes and "INSERT OR IGNORE" for the history row. A statement with no
/// idempotent form (ALTER, DROP, data changes) is refused, so the script is never silently unsafe; such a
/// migration needs a hand-written guard.
/// </summary>
internal static class IdempotentSqliteScript
{
    private static readonly (string From, string To)[] Rewrites =
    [
        ("CREATE TABLE \"", "CREATE TABLE IF NOT EXISTS \""),
        ("CREATE UNIQUE INDEX \"", "CREATE UNIQUE INDEX IF NOT EXISTS \""),
        ("CREATE INDEX \"", "CREATE INDEX IF NOT EXISTS \""),
        ("INSERT INTO \"__EFMigrationsHistory\"", "INSERT OR IGNORE INTO \"__EFMigrationsHistory\""),
    ];

    private static readonly string[] AlreadyIdempotent = ["CREATE TABLE IF NOT EXISTS", "BEGIN TRANSACTION", "COMMIT", "INSERT OR IGNORE INTO"];

    public static string From(string script)
    {
        var output = new StringBuilder();
        foreach (var statement in script.ReplaceLineEndings("\n").Split(";\n"))
        {
            var trimmed = statement.Trim();
            if (trimmed.Length == 0)
            {
                continue;
            }

            var rewritten = Rewrite(trimmed);
            output.Append(rewritten).Append(";\n\n");
        }

        return output.ToString();
    }

    private static string Rewrite(string statement)
    {
        if (AlreadyIdempotent.Any(prefix => statement.StartsWith(prefix, StringComparison.Ordinal)))
        {
            return statement;
        }

        foreach (var (from, to) in Rewrites)
        {
            if (statement.StartsWith(from, StringComparison.Ordinal))
            {
                return string.Concat(to, statement.AsSpan(from.Length));
            }
        }

        throw new NotSupportedException($"No idempotent form for this migration statement; guard it by hand:\n{statement}");
    }
}
