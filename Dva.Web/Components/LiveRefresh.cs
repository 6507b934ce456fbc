using Dva.Web.Backend;

namespace Dva.Web.Components;

/// <summary>
/// Re-renders a live component when the manager's live state changes, at most once per interval however
/// many heartbeats arrive, and stops when disposed. Nothing polls: no change, no render.
/// </summary>
internal sealed class LiveRefresh : IDisposable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(500);

    private readonly Func<Task> _refresh;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly IDisposable _subscription;
    private readonly CancellationTokenSource _stop = new();
    private int _pending;

    public LiveRefresh(IDashboardBackend source, Func<Task> refresh, TimeSpan? interval = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _refresh = refresh;
        _interval = interval ?? DefaultInterval;
        _time = time ?? TimeProvider.System;
        _subscription = source.SubscribeLive(OnChange);
    }

    private void OnChange()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _ = RefreshLaterAsync();
        }
    }

    private async Task RefreshLaterAsync()
    {
        try
        {
            await Task.Delay(_interval, _time, _stop.Token);
            Volatile.Write(ref _pending, 0);
            await _refresh();
        }
        catch (OperationCanceledException)
        {
            // Disposed while waiting: the component is gone.
        }
        catch (ObjectDisposedException)
        {
            // The circuit went away between the change and the render.
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _stop.Cancel();
        _stop.Dispose();
    }
}
