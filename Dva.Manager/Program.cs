var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();

app.MapGet("/healthz", () => Results.Text("ok"));

app.Run();

/// <summary>Exposed for WebApplicationFactory in tests.</summary>
public partial class Program;
