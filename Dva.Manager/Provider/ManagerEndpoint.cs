using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Provider;

/// <summary>
/// This manager's own address as a local agent (or a browser on this machine) reaches it, known once the server
/// listens: <see cref="LocalUnitOptions.ManagerUrl"/> when set, else the first http address bound, with a wildcard
/// host replaced by the loopback address (agents do not trust a development certificate, so http is preferred).
/// </summary>
internal sealed class ManagerEndpoint
{
    private readonly TaskCompletionSource<Uri> _known = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ManagerEndpoint(IServer server, IHostApplicationLifetime lifetime, IOptions<LocalUnitOptions> options)
    {
        if (Uri.TryCreate(options.Value.ManagerUrl, UriKind.Absolute, out var configured))
        {
            _known.TrySetResult(configured);
            return;
        }

        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            if (Pick(addresses) is { } address)
            {
                _known.TrySetResult(address);
            }
            else
            {
                _known.TrySetException(new InvalidOperationException(
                    $"The manager listens on no address local agents can use ({string.Join(", ", addresses)}); set Dva:LocalUnits:ManagerUrl."));
            }
        });
        lifetime.ApplicationStopping.Register(() => _known.TrySetCanceled());
    }

    /// <summary>Completes once the server listens (or faults with the reason no address fits).</summary>
    public Task<Uri> Address => _known.Task;

    public static Uri? Pick(IEnumerable<string> addresses)
    {
        var uris = addresses.Select(a => a.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal))
            .Select(a => Uri.TryCreate(a, UriKind.Absolute, out var u) ? u : null)
            .OfType<Uri>()
            .OrderBy(u => u.Scheme == Uri.UriSchemeHttp ? 0 : 1)
            .ToList();
        if (uris.FirstOrDefault() is not { } first)
        {
            return null;
        }

        var host = first.Host is "0.0.0.0" or "[::]" or "::" or "localhost" ? (first.Host is "[::]" or "::" ? "[::1]" : "127.0.0.1") : first.Host;
        return new UriBuilder(first) { Host = host, Path = "/" }.Uri;
    }
}
