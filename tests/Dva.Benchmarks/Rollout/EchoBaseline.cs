using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dva.Benchmarks.Rollout;

/// <summary>
/// The baseline of the rollout figures: one SignalR round trip (invoke and answer, a small message) from each of N
/// clients at once to a hub on Kestrel on 127.0.0.1, in the same process as the rollout. A two-phase rollout needs at
/// least two such round trips (data planes, then dispatchers) and a one-way commit, so ~2.5 of these is its floor.
/// </summary>
internal sealed class EchoBaseline : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<HubConnection> _clients = [];

    private EchoBaseline(WebApplication app) => _app = app;

    public static async Task<EchoBaseline> StartAsync(int clients)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSignalR();
        var app = builder.Build();
        app.MapHub<EchoHub>("/echo");
        await app.StartAsync();
        var baseline = new EchoBaseline(app);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        for (var i = 0; i < clients; i++)
        {
            var connection = new HubConnectionBuilder().WithUrl(new Uri(address, "/echo")).Build();
            await connection.StartAsync();
            baseline._clients.Add(connection);
        }

        return baseline;
    }

    /// <summary>One round trip from every client at once; the time until the last answer, in milliseconds.</summary>
    public async Task<double> RoundTripAsync()
    {
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(_clients.Select(c => c.InvokeAsync<int>(nameof(EchoHub.Echo), 1)));
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        await _app.DisposeAsync();
    }
}

/// <summary>Answers with what it was sent.</summary>
internal sealed class EchoHub : Hub
{
    // An instance method: SignalR dispatches only to those.
#pragma warning disable CA1822
    public int Echo(int value) => value;
#pragma warning restore CA1822
}
