using System.Diagnostics;
using System.Globalization;
using Dva.Node.Interop;

namespace Dva.Node.Tests.Io;

/// <summary>
/// A network namespace made for one test (<c>dvatest-PID-N</c>) and removed on dispose, with everything
/// in it (veth, TAP). Needs root: CI runs as root, and the tests that use it carry the trait
/// <c>Requires=root</c> and fail with a clear message when run as someone else.
/// </summary>
internal sealed class TestNetworkNamespace : IDisposable
{
    private static int s_counter;

    public TestNetworkNamespace()
    {
        Assert.True(
            Libc.geteuid() == 0,
            "this test needs root (it creates a network namespace, veth and TAP devices); run it as root as CI does, or exclude it with --filter Requires!=root");
        RemoveOrphans();
        Name = $"dvatest-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
        Ip($"netns add {Name}");
        try
        {
            // No IPv6 in the namespace: router solicitations and MLD reports would otherwise cross the links.
            Exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
            Exec("sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
            Ip($"-n {Name} link set lo up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    /// <summary>Runs <c>ip ARGS</c> and fails the test with its stderr if it fails.</summary>
    public static void Ip(string arguments) => Run("ip", arguments);

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>); its output, even on a failure if <paramref name="allowFailure"/>.</summary>
    public string Exec(string command, bool allowFailure = false) => Run("ip", $"netns exec {Name} {command}", allowFailure);

    /// <summary>
    /// Runs <paramref name="work"/> on a fresh thread that has entered the namespace, so interface lookups
    /// and newly created sockets and TAP devices belong to it. The file descriptors stay usable from any thread.
    /// </summary>
    public T Enter<T>(Func<T> work) => NetworkNamespaces.Enter(Name, work);

    public void Dispose() => Delete(Name);

    /// <summary>The namespace's IPv4 counters by name (the <c>Ip:</c> lines of /proc/net/snmp: ReasmOKs, FragCreates...).</summary>
    public Dictionary<string, long> IpCounters()
    {
        var lines = Exec("cat /proc/net/snmp").Split('\n').Where(l => l.StartsWith("Ip: ", StringComparison.Ordinal)).ToArray();
        return lines[0].Split(' ').Skip(1).Zip(lines[1].Split(' ').Skip(1))
            .ToDictionary(p => p.First, p => long.Parse(p.Second, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    /// <summary>
    /// ethtool -K DEV tx off, through the SIOCETHTOOL ioctl (ethtool may be absent), which also turns TSO off: else a
    /// host leaves its TCP/UDP checksums to a veth that never computes them, an AF_PACKET socket (without
    /// <c>?gso=1</c>) sees them unfinished, and the far host drops what is forwarded.
    /// </summary>
    public void TxChecksumOffloadOff(string device) => EthtoolOff(device, 0x17, "ETHTOOL_STXCSUM");

    /// <summary>
    /// ethtool -K DEV tso off: the host still leaves its TCP/UDP checksums to the device (CHECKSUM_PARTIAL) but sends
    /// no TCP super-frames, so what crosses the veth is MTU-sized with unfinished checksums.
    /// </summary>
    public void TsoOff(string device) => EthtoolOff(device, 0x1f, "ETHTOOL_STSO");

    private void EthtoolOff(string device, int command, string name)
    {
        var script = Path.Combine(Path.GetTempPath(), $"dva-ethtool-off-{Environment.ProcessId}-{Guid.NewGuid():N}.py");
        File.WriteAllText(script, $$"""
            import array, fcntl, socket, struct, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            value = array.array('I', [{{command}}, 0])  # {{name}}, off
            fcntl.ioctl(s.fileno(), 0x8946, struct.pack('16sP', sys.argv[1].encode(), value.buffer_info()[0]))  # SIOCETHTOOL
            """);
        try
        {
            _ = Exec($"/usr/bin/python3 {script} {device}");
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static void Delete(string name)
    {
        using var process = Process.Start(new ProcessStartInfo("ip", $"netns del {name}") { RedirectStandardError = true });
        process?.WaitForExit(10_000);
    }

    /// <summary>Deletes namespaces a crashed earlier test run left behind (their process is gone).</summary>
    private static void RemoveOrphans()
    {
        if (!Directory.Exists("/run/netns"))
        {
            return;
        }

        foreach (var path in Directory.GetFiles("/run/netns", "dvatest-*"))
        {
            var parts = Path.GetFileName(path).Split('-');
            if (parts.Length == 3 && int.TryParse(parts[1], out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                Delete(Path.GetFileName(path));
            }
        }
    }

    private static string Run(string file, string arguments, bool allowFailure = false)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(10_000), $"'{file} {arguments}' did not finish");
        Assert.True(allowFailure || process.ExitCode == 0, $"'{file} {arguments}' failed ({process.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
