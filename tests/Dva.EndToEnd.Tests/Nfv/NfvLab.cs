using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Dva.EndToEnd.Tests.Nfv;

/// <summary>
/// Real Linux peers around a DVA, in network namespaces made here (documentation ranges only) and removed on
/// dispose, whatever happened: a client C (192.0.2.10/24), two backends B1 (198.51.100.11/24) and B2
/// (198.51.100.12/24) on a bridge in a switch namespace S, and the DVA's namespace D holding the other ends of
/// the client's and the switch's veth. Each backend runs nginx answering its own name. Root only.
/// The hosts' TX checksum offload (and so TSO) is off: an AF_PACKET source without <c>?gso=1</c> takes no TSO
/// super-frames (it would finish checksums left to the device, but TSO off alone is not what these tests vary); with
/// <c>defaultOffloads</c> they keep the veth defaults (TSO on), for a DVA on <c>afpacket:IF?gso=1</c> sources.
/// </summary>
internal sealed class NfvLab : IDisposable
{
    private static int s_counter;
    private readonly List<string> _namespaces = [];
    private readonly List<Process> _processes = [];

    public NfvLab(bool defaultOffloads = false)
    {
        Assert.True(Environment.UserName == "root" || GetEuid() == 0,
            "the NFV end-to-end tests need root (network namespaces, veth, AF_PACKET): run them as root, as CI does");
        Directory = System.IO.Directory.CreateTempSubdirectory("dva-nfv-").FullName;
        var tag = $"{Environment.ProcessId % 10000}{Interlocked.Increment(ref s_counter)}";
        Tag = tag;
        Dva = Add($"dvanfv-d{tag}");
        Client = Add($"dvanfv-c{tag}");
        Switch = Add($"dvanfv-s{tag}");
        Backend1 = Add($"dvanfv-b1{tag}");
        Backend2 = Add($"dvanfv-b2{tag}");
        try
        {
            // Client segment: C <-> D.
            Run("ip", $"link add nfc-h netns {Client} type veth peer name nfc-d netns {Dva}");
            Run("ip", $"-n {Client} addr add 192.0.2.10/24 dev nfc-h");
            Run("ip", $"-n {Client} link set nfc-h up");
            Run("ip", $"-n {Client} route add default via 192.0.2.1");
            Run("ip", $"-n {Dva} link set nfc-d up");

            // Backend segment: D <-> S's bridge <-> B1, B2.
            Run("ip", $"-n {Switch} link add br0 type bridge");
            Run("ip", $"-n {Switch} link set br0 up");
            Run("ip", $"link add nfb-d netns {Dva} type veth peer name nfb-s netns {Switch}");
            Run("ip", $"-n {Dva} link set nfb-d up");
            Run("ip", $"-n {Switch} link set nfb-s master br0 up");
            foreach (var (ns, n) in new[] { (Backend1, 1), (Backend2, 2) })
            {
                Run("ip", $"link add nf{n}-h netns {ns} type veth peer name nf{n}-s netns {Switch}");
                Run("ip", $"-n {ns} addr add 198.51.100.1{n}/24 dev nf{n}-h");
                Run("ip", $"-n {ns} link set nf{n}-h up");
                Run("ip", $"-n {ns} route add default via 198.51.100.1");
                Run("ip", $"-n {Switch} link set nf{n}-s master br0 up");
                StartNginx(ns, $"b{n}", $"198.51.100.1{n}");
            }

            if (!defaultOffloads)
            {
                SoftwareChecksumsOnHosts();
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Directory { get; }

    /// <summary>Makes this lab's names (namespaces, host-side links) unique on the machine.</summary>
    public string Tag { get; }

    public string Dva { get; }
    public string Client { get; }
    public string Switch { get; }
    public string Backend1 { get; }
    public string Backend2 { get; }

    /// <summary>Runs a command in a namespace; returns (exit code, stdout + stderr). Bounded by <paramref name="timeout"/>.</summary>
    public static (int Code, string Output) Exec(string ns, string command, TimeSpan? timeout = null) =>
        ExecAsync(ns, command, timeout).GetAwaiter().GetResult();

    /// <summary>
    /// As <see cref="Exec"/>, but the process is started before this returns and only its end is awaited: commands
    /// meant to run side by side start together, not one by one as blocking calls on pool threads would (the pool
    /// adds a thread about every half second, so the twelfth of twelve pings once started after what it was to
    /// watch).
    /// </summary>
    public static Task<(int Code, string Output)> ExecAsync(string ns, string command, TimeSpan? timeout = null)
    {
        var process = Start("ip", $"netns exec {ns} sh -c \"{command.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        var output = new StringBuilder();
        // A null line is a stream's end, not output: appended, it put a blank line first whenever stderr closed before
        // stdout wrote (a sha256sum check once failed on it).
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return WaitAsync(process, command, output, timeout ?? TimeSpan.FromSeconds(30));
    }

    private static async Task<(int Code, string Output)> WaitAsync(Process process, string command, StringBuilder output, TimeSpan timeout)
    {
        using (process)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                lock (output)
                {
                    return (-1, $"timed out: {command}\n{output}");
                }
            }

            lock (output)
            {
                return (process.ExitCode, output.ToString());
            }
        }
    }

    /// <summary>A long-running process in a namespace, killed on dispose.</summary>
    public Process Spawn(string ns, string command) => Spawn(ns, command, onLine: null);

    /// <summary>
    /// As above, each line of output to <paramref name="onLine"/>. With <paramref name="holdStdin"/> the process's
    /// standard input stays open as a pipe from this one: a process that stops on its end (dva-node's
    /// <c>--stop-on-stdin-close</c>) dies with the test run even if dispose never runs.
    /// </summary>
    public Process Spawn(string ns, string command, Action<string>? onLine, bool holdStdin = false)
    {
        var process = Start("ip", $"netns exec {ns} {command}", holdStdin);
        if (onLine is not null)
        {
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { onLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { onLine(e.Data); } };
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>A namespace named after <paramref name="prefix"/> and this lab's tag, deleted on dispose.</summary>
    public string AddNamespace(string prefix) => Add($"dvanfv-{prefix}{Tag}");

    /// <summary>An iperf3 server on <paramref name="address"/>:<paramref name="port"/> in <paramref name="ns"/>, listening when this returns.</summary>
    public void StartIperf3(string ns, string address, int port)
    {
        Spawn(ns, $"iperf3 -s -B {address} -p {port}");
        var (code, output) = Exec(ns, $"for i in $(seq 100); do ss -ltn | grep -q '{address}:{port} ' && exit 0; sleep 0.1; done; exit 1");
        Assert.True(code == 0, $"iperf3 did not listen on {address}:{port} in {ns}: {output}");
    }

    public void Dispose()
    {
        List<Process> processes;
        lock (_processes)
        {
            processes = [.. _processes];
        }

        foreach (var process in processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        foreach (var ns in new[] { Backend1, Backend2 })
        {
            if (ns is not null)
            {
                // nginx daemonises: stop it by its pid file, the one process this test started there.
                Exec(ns, $"test -f {Directory}/{ns}.pid && kill $(cat {Directory}/{ns}.pid)");
            }
        }

        // Whatever still runs in a namespace (an nginx whose pid file was not yet written, or whose kill above was
        // skipped; a daemonised helper) would outlive it unseen once the namespace's name is gone.
        foreach (var ns in _namespaces)
        {
            Run("sh", $"-c \"ip netns pids {ns} | xargs -r kill -9\"", check: false);
            Run("ip", $"netns del {ns}", check: false);
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A temporary directory left behind is harmless.
        }
    }

    private string Add(string ns)
    {
        Run("ip", $"netns add {ns}");
        _namespaces.Add(ns);
        Run("ip", $"-n {ns} link set lo up");
        Exec(ns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
        return ns;
    }

    /// <summary>
    /// The client's and the backends' veths compute their checksums in software (and so send no TSO super-frames), as a
    /// DVA on plain <c>afpacket:IF</c> sources needs; a lab made with <c>defaultOffloads</c> can turn to that later.
    /// </summary>
    public void SoftwareChecksumsOnHosts()
    {
        SoftwareChecksums(Client, "nfc-h");
        SoftwareChecksums(Backend1, "nf1-h");
        SoftwareChecksums(Backend2, "nf2-h");
    }

    /// <summary>
    /// Turns off a veth's TX checksum offload (ethtool -K DEV tx off, through the SIOCETHTOOL ioctl since ethtool
    /// may be absent), which turns TSO off too: a plain AF_PACKET source takes no TSO super-frames.
    /// </summary>
    private void SoftwareChecksums(string ns, string device)
    {
        var script = Path.Combine(Directory, "txcsum-off.py");
        File.WriteAllText(script, """
            import array, fcntl, socket, struct, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            value = array.array('I', [0x17, 0])  # ETHTOOL_STXCSUM, off
            fcntl.ioctl(s.fileno(), 0x8946, struct.pack('16sP', sys.argv[1].encode(), value.buffer_info()[0]))  # SIOCETHTOOL
            """);
        var (code, output) = Exec(ns, $"python3 {script} {device}");
        Assert.True(code == 0, $"cannot turn off TX checksum offload on {device}: {output}");
    }

    private void StartNginx(string ns, string name, string address)
    {
        var root = Path.Combine(Directory, name);
        System.IO.Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "index.html"), name + "\n");

        // 64 MB so a download at a few hundred Mbit/s lasts long enough to span a reconfiguration.
        using (var big = File.Create(Path.Combine(root, "big")))
        {
            big.SetLength(64L << 20);
        }

        var config = Path.Combine(Directory, $"{ns}.conf");
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $$"""
            daemon on;
            user root;
            pid {{Directory}}/{{ns}}.pid;
            error_log {{Directory}}/{{ns}}.error.log;
            worker_processes 1;
            events { worker_connections 256; }
            http {
              access_log off;
              client_body_temp_path {{Directory}}/{{ns}}-body;
              proxy_temp_path {{Directory}}/{{ns}}-proxy;
              fastcgi_temp_path {{Directory}}/{{ns}}-fastcgi;
              uwsgi_temp_path {{Directory}}/{{ns}}-uwsgi;
              scgi_temp_path {{Directory}}/{{ns}}-scgi;
              server { listen {{address}}:8080; root {{root}}; keepalive_timeout 0; }
              server { listen {{address}}:8081; root {{root}}; }
              server { listen {{address}}:8082; root {{root}}; }
            }
            """));
        var (code, output) = Exec(ns, $"nginx -c {config}");
        Assert.True(code == 0, $"nginx in {ns} did not start: {output}");
    }

    /// <summary>
    /// Runs a command in this (the root) namespace and returns what it printed; with <paramref name="check"/>, fails the
    /// test when it fails.
    /// </summary>
    public static string Run(string file, string arguments, bool check = true)
    {
        using var process = Start(file, arguments);
        var stderrTask = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = stderrTask.GetAwaiter().GetResult();
        process.WaitForExit();
        if (check)
        {
            Assert.True(process.ExitCode == 0, $"{file} {arguments} failed: {stderr}");
        }

        return stdout + stderr;
    }

    private static Process Start(string file, string arguments, bool holdStdin = false)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardInput = holdStdin,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();
}
