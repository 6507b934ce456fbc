using Dva.Node.Tests.Fuzz;
using Dva.Shared.Tests.Fuzz;
using SharpFuzz;

// Usage (run-fuzz.sh drives it):
//   Dva.Fuzz TARGET                 run TARGET under afl-fuzz (SharpFuzz, instrumented Dva.Shared/Dva.Node)
//   Dva.Fuzz --seeds DIR            write the seed corpus of every target to DIR/TARGET/
//   Dva.Fuzz --replay TARGET FILE…  run TARGET once per file and print what it did (to reproduce a crash)
// Seeds are made lazily: instrumented code may only run inside Fuzzer.Run, which maps afl's coverage memory.
var targets = new Dictionary<string, (SpanTarget Run, Func<IReadOnlyList<byte[]>> Seeds)>(StringComparer.Ordinal)
{
    ["tunnel"] = (d => SharedFuzzTargets.Tunnel(d), () => FuzzSeeds.Tunnel),
    ["packet"] = (d => SharedFuzzTargets.Packet(d), () => FuzzSeeds.Packet),
    ["table"] = (d => SharedFuzzTargets.Table(d), () => FuzzSeeds.Table),
    ["config"] = (d => ConfigFuzzTarget.Config(d), () => ConfigFuzzTarget.Seeds),
};

if (args is ["--seeds", var directory])
{
    foreach (var (name, target) in targets)
    {
        var dir = Directory.CreateDirectory(Path.Combine(directory, name));
        var seeds = target.Seeds();
        for (var i = 0; i < seeds.Count; i++)
        {
            File.WriteAllBytes(Path.Combine(dir.FullName, $"seed-{i:D3}"), seeds[i]);
        }
    }

    return 0;
}

if (args is ["--replay", var replayName, .. var files] && targets.TryGetValue(replayName, out var replay))
{
    var failed = 0;
    foreach (var file in files)
    {
        try
        {
            Console.WriteLine($"{file}: {(replay.Run(File.ReadAllBytes(file)) ? "accepted" : "rejected")}");
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine($"{file}: {e}");
        }
    }

    return failed == 0 ? 0 : 1;
}

if (args is [var targetName] && targets.TryGetValue(targetName, out var chosen))
{
    // Persistent in-process loop: SharpFuzz's fork server runs the target many times per process (targets keep no state
    // that could hide a crash; OutOfProcess.Run would survive a stack overflow but runs several times slower).
    Fuzzer.Run(stream =>
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        chosen.Run(memory.GetBuffer().AsSpan(0, (int)memory.Length));
    });
    return 0;
}

Console.Error.WriteLine($"usage: Dva.Fuzz {{{string.Join('|', targets.Keys)}}} | --seeds DIR | --replay TARGET FILE...");
return 2;

internal delegate bool SpanTarget(ReadOnlySpan<byte> data);
