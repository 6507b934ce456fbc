namespace Dva.Manager.Provider;

/// <summary>How the manager starts node agents on its own machine (section <c>Dva:LocalUnits</c>).</summary>
internal sealed class LocalUnitOptions
{
    /// <summary>
    /// Path of <c>dva-node.dll</c>. Empty: next to the manager's own assembly (a publish of both), else the build
    /// output of the sibling <c>Dva.Node</c> project in the same configuration (<c>dotnet run</c> from a checkout).
    /// </summary>
    public string NodeAssembly { get; set; } = "";

    /// <summary>The address local agents use to reach this manager. Empty: the first http address it listens on.</summary>
    public string ManagerUrl { get; set; } = "";

    /// <summary>How long a unit has to stop after its standard input closed, before its process tree is killed.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
