using BenchmarkDotNet.Running;
using Dva.Benchmarks.Rollout;

// Run all benchmarks: dotnet run -c Release --project tests/Dva.Benchmarks -- --filter '*'
// Era rollout latency (a load harness, not BenchmarkDotNet): dotnet run -c Release --project tests/Dva.Benchmarks -- rollout
if (args.Length > 0 && args[0] == "rollout")
{
    return await RolloutLatencyHarness.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

/// <summary>Entry point holder for BenchmarkSwitcher.</summary>
internal sealed partial class Program;
