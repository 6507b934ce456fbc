using BenchmarkDotNet.Running;

// Run all benchmarks: dotnet run -c Release --project tests/Dva.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point holder for BenchmarkSwitcher.</summary>
internal sealed partial class Program;
