using Microsoft.Extensions.Options;

namespace Dva.Manager.Hubs;

/// <summary>
/// Fixed one-second windows of registrations per remote address: a misbehaving (or hostile) agent looping on
/// Register cannot flood the registry and its audit trail.
/// </summary>
internal sealed class RegistrationRateLimiter(TimeProvider time, IOptions<NodeHubOptions> options)
{
    private readonly Dictionary<string, (long Window, int Count)> _windows = [];
    private readonly Lock _lock = new();

    public bool TryAcquire(string remoteAddress)
    {
        var window = time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (_windows.Count > 10_000)
            {
                // Old windows are worthless; dropping them all bounds the memory an address sweep can take.
                _windows.Clear();
            }

            var (start, count) = _windows.GetValueOrDefault(remoteAddress);
            count = start == window ? count + 1 : 1;
            _windows[remoteAddress] = (window, count);
            return count <= options.Value.RegistrationsPerSecond;
        }
    }
}
