using System.Diagnostics;
using Dva.Node.Interop;

namespace Dva.Node.Bench;

/// <summary>
/// A network namespace a load harness makes for itself (<c>dvabench-PID-N</c>) and deletes on dispose, with what
/// is in it. Needs root. Sockets opened by <see cref="Enter{T}"/> belong to it and stay usable from any thread.
/// </summary>
internal sealed class BenchNamespace : IDisposable
{
    private static int s_counter;

    public BenchNamespace()
    {
        if (Libc.geteuid() != 0)
        {
            throw new InvalidOperationException("this harness needs root: it creates a network namespace and veth devices");
        }

        Name = $"dvabench-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
        Run("ip", $"netns add {Name}");

        // No IPv6: router solicitations and MLD reports would otherwise be counted with the harness's frames.
        Exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
        Exec("sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
        Exec("ip link set lo up");
    }

    public string Name { get; }

    /// <summary>Runs a command inside the namespace; throws with its stderr if it fails.</summary>
    public string Exec(string command) => Run("ip", $"netns exec {Name} {command}");

    /// <summary>Runs <paramref name="work"/> on a thread that has entered the namespace.</summary>
    public T Enter<T>(Func<T> work) => NetworkNamespaces.Enter(Name, work);

    public void Dispose()
    {
        using var process = Process.Start(new ProcessStartInfo("ip", $"netns del {Name}") { RedirectStandardError = true });
        process?.WaitForExit(10_000);
    }

    public static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        }) ?? throw new InvalidOperationException($"cannot start {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{file} {arguments}' failed: {stderr.Result}");
        }

        return stdout.Result;
    }
}
