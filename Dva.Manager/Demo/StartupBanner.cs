using System.Text;
using Dva.Manager.Hubs;

namespace Dva.Manager.Demo;

/// <summary>
/// Keeps what the manager printed once at its first start (the generated admin key and enrollment token), while
/// still printing it at once, so the start-up banner can show it again below the log lines that followed it.
/// </summary>
internal sealed class StartupNotes
{
    private readonly StringBuilder _text = new();

    public StartupNotes(TextWriter console) => Writer = new TeeWriter(console, _text);

    public TextWriter Writer { get; }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_text)
            {
                return _text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }
        }
    }

    private sealed class TeeWriter(TextWriter console, StringBuilder copy) : TextWriter
    {
        public override Encoding Encoding => console.Encoding;

        public override void Write(char value)
        {
            console.Write(value);
            lock (copy)
            {
                copy.Append(value);
            }
        }

        public override void Write(string? value)
        {
            console.Write(value);
            lock (copy)
            {
                copy.Append(value);
            }
        }

        public override void Flush() => console.Flush();
    }
}

/// <summary>The lines an operator needs after <c>dotnet run --project Dva.Manager</c>: where to look, which keys, what runs.</summary>
internal sealed class StartupBanner(StartupNotes notes, EnrollmentToken token, TextWriter console)
{
    public async Task PrintAsync(Uri manager, IReadOnlyList<string> extra)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(extra);
        var first = notes.Lines.Where(l => l.Contains("admin API key", StringComparison.Ordinal)).ToList();
        var text = new StringBuilder()
            .AppendLine()
            .AppendLine("==================================================================================")
            .AppendLine($"DVA manager is running. Dashboard: {manager}")
            .AppendLine($"REST API: {manager}api/v1 (header 'Authorization: Bearer <API key>'), OpenAPI: {manager}openapi/v1.json");
        if (first.Count > 0)
        {
            foreach (var line in first)
            {
                text.AppendLine(line + " — keep it now, it is stored hashed");
            }
        }
        else
        {
            text.AppendLine("Admin API key: created at the first start and printed then (or set with Dva:AdminKey).");
        }

        text.AppendLine($"Node enrollment token: {token.Value}")
            .AppendLine($"  another machine joins with: dva-node agent --manager {manager} --enrollment {token.Value}");
        foreach (var line in extra)
        {
            text.AppendLine(line);
        }

        text.AppendLine("Stop with Ctrl-C (the local units and the generator stop with the manager).")
            .AppendLine("==================================================================================");
        await console.WriteAsync(text.ToString());
        await console.FlushAsync();
    }
}
