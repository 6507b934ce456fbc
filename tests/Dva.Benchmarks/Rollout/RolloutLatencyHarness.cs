using System.Diagnostics;
using Dva.Shared.Tables;

namespace Dva.Benchmarks.Rollout;

/// <summary>
/// Era rollout latency (issue 9, goal ≤ 50 ms): the real manager (in this process, SignalR hub over Kestrel on
/// 127.0.0.1, SQLite) and N real node agents (<see cref="BenchUnit"/>, all in this process: 32 agent processes would be
/// a load of their own on 2 cores), one dispatcher and N − 1 data planes. Each round asks the manager's rollout
/// coordinator to roll out the next version (same owners, a new version number) and times, from that call, the last
/// unit installing it and the last unit switched (committed, previous version dropped; watched while the call runs, since
/// the coordinator sends the commits before its last database write), and the call returning. Baselines in the same run:
/// one SignalR round trip to N clients at once (<see cref="EchoBaseline"/>), and a rollout to no unit (the manager's
/// own bookkeeping: encoding, database and audit writes).
/// Run: cd tests/Dva.Benchmarks &amp;&amp; dotnet run -c Release -- rollout [--units 8,32] [--rounds 30] [--warmup 30] [--db-dir /dev/shm]
/// (--db-dir: where the manager's SQLite database goes; on tmpfs its commits cost no disk flush; --warmup: rounds run
/// before the measured ones, each a rollout, a rollout to no unit and a round trip; 3 rounds left the JIT recompiling
/// ASP.NET Core, EF Core and SignalR code at tier 1 during the measured rounds).
/// </summary>
internal static class RolloutLatencyHarness
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    // From the coordinator's log: what each part of a rollout took, so the figure says what limits it.
    private static readonly string[] StageNames =
    [
        "record the version + audit (DB)", "data planes install and ack", "dispatcher installs and acks",
        "commit sends until every unit switched", "then until the call returns (mark rolled out + audit, DB)",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var units = Option(args, "--units", "8,32").Split(',').Select(int.Parse).ToArray();
        var rounds = int.Parse(Option(args, "--rounds", "30"), System.Globalization.CultureInfo.InvariantCulture);
        var warmup = int.Parse(Option(args, "--warmup", "30"), System.Globalization.CultureInfo.InvariantCulture);
        var databaseDirectory = Option(args, "--db-dir", Path.GetTempPath());
        Console.WriteLine($"// rollout latency, {rounds} rounds per size after {warmup} warm-up rounds, database in {databaseDirectory}; load: {File.ReadAllText("/proc/loadavg").Trim()}");
        using var ef = new EfActivity();
        foreach (var n in units)
        {
            await MeasureAsync(n, rounds, warmup, databaseDirectory, ef);
        }

        Console.WriteLine($"// load after: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static async Task MeasureAsync(int n, int rounds, int warmup, string databaseDirectory, EfActivity ef)
    {
        await using var manager = new BenchManager(databaseDirectory);
        var dva = await manager.CreateDvaAsync("disp-1", n - 1);
        var nodes = new List<BenchUnit>();
        try
        {
            for (var i = 0; i < n; i++)
            {
                var unit = new BenchUnit(manager.Address, i == 0 ? "disp-1" : $"dp-{i}", 7200 + i);
                nodes.Add(unit);
                await unit.Client.ConnectAsync(CancellationToken.None).WaitAsync(Patience);
            }

            var table = await SettledAsync(manager, dva, nodes, n);
            var members = nodes.Select(u => (u.Client.NodeKey, u.Client.Assignment.NodeId,
                table.Peers[u.Client.Assignment.NodeId].Role)).ToList();
            var full = new List<double>();
            var returned = new List<double>();
            var cpuRollout = new List<double>();
            var cpuTrip = new List<double>();
            var cpuEmpty = new List<double>();
            var installed = new List<double>();
            var empty = new List<double>();
            var echo = new List<double>();
            var stageTimes = Enumerable.Range(0, StageNames.Length).Select(_ => new List<double>()).ToArray();
            var efPerRollout = new List<EfActivity.Tally>();
            var efElsewhere = default(EfActivity.Tally);
            await using var baseline = await EchoBaseline.StartAsync(n);
            for (var round = -warmup; round < rounds; round++)
            {
                // Interleaved, so a change of the machine's load during the run touches every figure alike.
                // CPU time of this process (manager and agents alike) per rollout and per round trip: the part of the
                // figure that does not depend on how much of the 2 cores other work leaves to this process.
                var roundStart = ef.Read();
                var cpu = Environment.CpuUsage.TotalTime;
                var (switched, call, lastInstall, stages) = await TimedRolloutAsync(manager, dva, nodes, members);
                var rolloutCpu = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds;
                var rolloutEf = (ef.Read() - roundStart).InRollout;
                cpu = Environment.CpuUsage.TotalTime;
                var (_, none, _, _) = await TimedRolloutAsync(manager, dva, [], []);
                var emptyCpu = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds;
                cpu = Environment.CpuUsage.TotalTime;
                var trip = await baseline.RoundTripAsync();
                var tripCpu = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds;
                if (round >= 0)
                {
                    efPerRollout.Add(rolloutEf);
                    efElsewhere += (ef.Read() - roundStart).Elsewhere;
                    // The first rounds are warm-up: JIT, connection pools, SQLite pages.
                    full.Add(switched);
                    returned.Add(call);
                    installed.Add(lastInstall);
                    empty.Add(none);
                    echo.Add(trip);
                    cpuRollout.Add(rolloutCpu);
                    cpuTrip.Add(tripCpu);
                    cpuEmpty.Add(emptyCpu);
                    for (var k = 0; k < stages.Length; k++)
                    {
                        stageTimes[k].Add(stages[k]);
                    }
                }
            }

            var echoMedian = Median(echo);
            Console.WriteLine($"| {n} units ({n - 1} data planes + 1 dispatcher) | switched (commit on all) | {Median(full):F1} ms | {Percentile(full, 0.95):F1} ms | {Median(full) / echoMedian:F1} |");
            Console.WriteLine($"| {n} units | rollout call returned | {Median(returned):F1} ms | {Percentile(returned, 0.95):F1} ms | {Median(returned) / echoMedian:F1} |");
            Console.WriteLine($"| {n} units | installed on all | {Median(installed):F1} ms | {Percentile(installed, 0.95):F1} ms | {Median(installed) / echoMedian:F1} |");
            Console.WriteLine($"| {n} units | rollout to no unit (manager bookkeeping) | {Median(empty):F1} ms | {Percentile(empty, 0.95):F1} ms | {Median(empty) / echoMedian:F1} |");
            Console.WriteLine($"// {n} units, stages (median ms): " + string.Join(", ", StageNames.Select((name, k) => $"{name} {Median(stageTimes[k]):F1}")));
            Console.WriteLine($"| {n} units | baseline: one SignalR round trip, {n} clients at once | {echoMedian:F2} ms | {Percentile(echo, 0.95):F2} ms | 1.0 |");
            Console.WriteLine($"// {n} units, CPU time of the process (median): per rollout {Median(cpuRollout):F1} ms, per rollout to no unit {Median(cpuEmpty):F1} ms, per round trip {Median(cpuTrip):F1} ms");
            // The most frequent tally: a rollout's own database work does not vary from round to round.
            var typical = efPerRollout.GroupBy(t => t).OrderByDescending(g => g.Count()).First();
            Console.WriteLine($"// {n} units, EF Core inside a rollout call ({typical.Count()} of {efPerRollout.Count} rounds): {typical.Key}; "
                + $"outside the calls (reconciler passes, heartbeats), all {rounds} rounds: {efElsewhere}");
        }
        finally
        {
            foreach (var unit in nodes)
            {
                await unit.DisposeAsync();
            }
        }
    }

    /// <summary>One rollout; milliseconds from the call to every unit switched, to the call's return, and to the last install.</summary>
    private static async Task<(double Switched, double Returned, double LastInstall, double[] Stages)> TimedRolloutAsync(
        BenchManager manager, long dva, List<BenchUnit> nodes, IReadOnlyList<(long, ushort, PeerRole)> members)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var current = manager.Current(dva) ?? throw new InvalidOperationException("no committed version");
            var next = current.WithHistory(current.History, "rollout latency bench");
            nodes.ForEach(u => u.WatchInstalls());
            var called = DateTimeOffset.UtcNow;
            var start = Stopwatch.GetTimestamp();
            // Flows into the coordinator's awaits, so that EF's work there is counted as the rollout's.
            EfActivity.InRollout = true;
            var rollout = manager.RolloutAsync(dva, next, members);
            EfActivity.InRollout = false;
            if (nodes.Count == 0)
            {
                // Nothing to watch: awaited without the 1 ms polling below, so that its CPU time is the manager's alone.
                await rollout;
            }

            // A unit has switched when it has processed its commit, which the coordinator sends before its last database
            // write: watched while the call runs (every millisecond), so that the figure is the units' and not the call's.
            double? switched = null;
            while (!rollout.IsCompleted || (switched is null && nodes.Count > 0 && rollout.IsCompletedSuccessfully && rollout.Result.Outcome == "Committed"))
            {
                if (switched is null && nodes.Count > 0 && nodes.TrueForAll(u => u.Committed(next.Version)))
                {
                    switched = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"version {next.Version} was not committed on every unit");
                }

                await Task.Delay(1);
            }

            var (outcome, failed) = await rollout;
            var returned = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (outcome == "Busy" && DateTime.UtcNow < deadline)
            {
                // The fleet reconciler's own pass holds the DVA: not a round to time.
                await Task.Delay(50);
                continue;
            }

            if (outcome != "Committed" || failed != 0)
            {
                throw new InvalidOperationException($"rollout of version {next.Version}: {outcome}, {failed} failed");
            }

            var all = switched ?? returned;
            var lastInstall = nodes.Count == 0 ? 0 : nodes.Max(u => Stopwatch.GetElapsedTime(start, u.InstalledAt(next.Version) ?? start).TotalMilliseconds);
            var t = manager.Log(dva, next.Version);
            var lastAck = (t.LastAck - called).TotalMilliseconds;
            double[] stages =
            [
                (t.Started - called).TotalMilliseconds,
                (t.LastDataPlaneAck - t.Started).TotalMilliseconds,
                (t.LastAck - t.LastDataPlaneAck).TotalMilliseconds,
                all - lastAck,
                returned - all,
            ];
            return (all, returned, lastInstall, stages);
        }
    }

    /// <summary>Waits until the reconciler has built the DVA (N − 1 data planes, one dispatcher) and every unit runs it.</summary>
    private static async Task<TableVersion> SettledAsync(BenchManager manager, long dva, List<BenchUnit> nodes, int n)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            if (manager.Current(dva) is { } table && !manager.RolloutInFlight(dva)
                && table.Peers.Values.Count(p => p.Role == PeerRole.DataPlane && p.Weight > 0) == n - 1
                && table.Peers.Values.Count(p => p.Role == PeerRole.Dispatcher) == 1
                && nodes.TrueForAll(u => u.Committed(table.Version)))
            {
                return table;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the DVA did not settle on {n} units");
    }

    private static string Option(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(p * (sorted.Count - 1)))];
    }
}
