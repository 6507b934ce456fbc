namespace Dva.Manager.Demo;

/// <summary>
/// The demo DVA the manager brings up on its own machine (section <c>Dva:Demo</c>): a dispatcher and data planes as
/// local processes on <c>udp:</c> wires (no root needed) and the built-in traffic generator on the wires' other ends.
/// </summary>
internal sealed class DemoOptions
{
    /// <summary>Off for production: <c>Dva__Demo__Enabled=false</c> or <c>--Dva:Demo:Enabled=false</c>.</summary>
    public bool Enabled { get; set; } = true;

    public string DvaName { get; set; } = "demo";

    /// <summary>Data planes wanted when the demo DVA is created (later starts use the DVA's current wish).</summary>
    public int DataPlanes { get; set; } = 3;

    public int BucketCount { get; set; } = 4096;

    /// <summary>Flows the generator keeps open at once.</summary>
    public int Concurrency { get; set; } = 2000;

    /// <summary>New flows per second at most.</summary>
    public int Rate { get; set; } = 250;

    /// <summary>Data segments each way per flow; with <see cref="StepMilliseconds"/> this sets how long a flow lives.</summary>
    public int Segments { get; set; } = 8;

    public int StepMilliseconds { get; set; } = 1000;

    /// <summary>How long to wait for the demo DVA's first tables before the generator starts anyway.</summary>
    public TimeSpan ReadyTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
