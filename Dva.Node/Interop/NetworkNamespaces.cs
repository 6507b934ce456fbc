namespace Dva.Node.Interop;

/// <summary>Running setup code inside a named network namespace (<c>/run/netns/NAME</c>, as <c>ip netns add</c> makes).</summary>
internal static class NetworkNamespaces
{
    /// <summary>
    /// Runs <paramref name="work"/> on a fresh thread that has entered namespace <paramref name="name"/>, so interface
    /// lookups and newly created sockets and TAP devices belong to it; the file descriptors stay usable from any
    /// thread. A failure is rethrown here as an <see cref="InvalidOperationException"/> naming the namespace.
    /// </summary>
    public static T Enter<T>(string name, Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            var self = Libc.open("/proc/thread-self/ns/net", Libc.O_CLOEXEC);
            var target = Libc.open($"/run/netns/{name}", Libc.O_CLOEXEC);
            try
            {
                if (self < 0 || target < 0 || Libc.setns(target, Libc.CLONE_NEWNET) != 0)
                {
                    throw InteropException.FromLastError($"setns({name})");
                }

                try
                {
                    result = work();
                }
                finally
                {
                    _ = Libc.setns(self, Libc.CLONE_NEWNET);
                }
            }
#pragma warning disable CA1031 // Rethrown on the calling thread below.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }
            finally
            {
                _ = Libc.close(self);
                _ = Libc.close(target);
            }
        })
        { Name = $"netns {name}" };
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException($"in namespace {name}: {failure.Message}", failure);
    }
}
