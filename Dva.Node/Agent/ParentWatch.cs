namespace Dva.Node.Agent;

/// <summary>
/// How a child process of the manager (a local unit, the demo's traffic generator) follows its parent: the parent
/// keeps the child's standard input open and never writes to it, so the end of that stream means the parent closed
/// it on purpose (a clean stop) or died — even by SIGKILL, since the kernel closes a dead process's pipes. Unlike
/// polling the parent's pid, this cannot be fooled by pid reuse and costs nothing while the parent lives.
/// </summary>
internal static class ParentWatch
{
    /// <summary>Cancels <paramref name="stop"/> when standard input reaches end of file (or breaks).</summary>
    public static async Task StopOnEndOfInputAsync(CancellationTokenSource stop)
    {
        ArgumentNullException.ThrowIfNull(stop);
        var buffer = new byte[256];
        try
        {
            await using var input = Console.OpenStandardInput();
            while (await input.ReadAsync(buffer, stop.Token) > 0)
            {
                // Whatever the parent writes is ignored; only the end of the stream matters.
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // A broken pipe means the same as end of file: the parent is gone.
        }

        try
        {
            await stop.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The process already stopped for another reason.
        }
    }
}
