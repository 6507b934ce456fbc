namespace Dva.Manager.Model;

/// <summary>
/// A DVA. Named Appliance because <c>Dva</c> is the root namespace; the API and UI call it a DVA.
/// </summary>
internal sealed class Appliance : ManagedEntity
{
    public string Name { get; set; } = "";

    public string Description { get; set; } = "";

    public ServiceKind ServiceKind { get; set; }

    public int BucketCount { get; set; } = DvaSpec.DefaultBucketCount;

    /// <summary>Flow hash seed (random, so outsiders cannot aim flows at one bucket).</summary>
    public ulong Seed { get; set; }

    public int TunnelPort { get; set; } = DvaSpec.DefaultTunnelPort;

    /// <summary>Kept in step with <see cref="Tunnel"/> for readers of the first schema: true unless the tunnel is plain.</summary>
    public bool SecureTunnel { get; set; }

    /// <summary>Tunnel security and keys, in their own table (DvaTunnels) so the schema change needs no ALTER TABLE.</summary>
    public ApplianceTunnel Tunnel { get; set; } = new();

    /// <summary>How data plane units of this DVA run, in its own table (DvaDataPlanes) so the schema change needs no ALTER TABLE.</summary>
    public ApplianceDataPlane DataPlane { get; set; } = new();

    /// <summary>How dispatcher units of this DVA run, in its own table (DvaDispatchers), as <see cref="DataPlane"/>.</summary>
    public ApplianceDispatcher Dispatcher { get; set; } = new();

    /// <summary>What the units carry whole (super-frames), in its own table (DvaOffloads), as <see cref="DataPlane"/>.</summary>
    public ApplianceOffload Offload { get; set; } = new();

    /// <summary>The kernel shortcut, in its own table (DvaShortcuts), as <see cref="DataPlane"/>.</summary>
    public ApplianceShortcut Shortcut { get; set; } = new();

    public FirewallPolicy FirewallDefaultPolicy { get; set; }

    public MidStreamPolicy MidStreamPolicy { get; set; }

    public int MinDataPlanes { get; set; }

    public int MaxDataPlanes { get; set; }

    public int TargetUtilizationPercent { get; set; }

    /// <summary>Data planes wanted by the last scale request (or the policy minimum); the elasticity controller acts on it.</summary>
    public int DesiredDataPlanes { get; set; }

    /// <summary>ETag of the ordered firewall rule list; changes whenever any rule changes.</summary>
    public long FirewallRulesVersion { get; set; } = 1;

    public DvaSpec ToSpec() => new()
    {
        Name = Name,
        Description = Description,
        ServiceKind = ServiceKind,
        BucketCount = BucketCount,
        TunnelPort = TunnelPort,
        TunnelSecurity = Tunnel.Security,
        TunnelCipher = Tunnel.Cipher,
        DataPlaneEngines = DataPlane.Engines,
        DispatcherEngines = Dispatcher.Engines,
        SuperFrames = Offload.SuperFrames,
        Shortcuts = Shortcut.Enabled,
        FirewallDefaultPolicy = FirewallDefaultPolicy,
        MidStreamPolicy = MidStreamPolicy,
        Scaling = new ScalingPolicy
        {
            MinDataPlanes = MinDataPlanes,
            MaxDataPlanes = MaxDataPlanes,
            TargetUtilizationPercent = TargetUtilizationPercent,
        },
    };

    public void Apply(DvaSpec spec)
    {
        Name = spec.Name;
        Description = spec.Description;
        ServiceKind = spec.ServiceKind;
        BucketCount = spec.BucketCount;
        TunnelPort = spec.TunnelPort;
        Tunnel.Security = spec.TunnelSecurity;
        Tunnel.Cipher = spec.TunnelCipher;
        SecureTunnel = spec.TunnelSecurity != Model.TunnelSecurity.Plain;
        DataPlane.Engines = spec.DataPlaneEngines;
        Dispatcher.Engines = spec.DispatcherEngines;
        Offload.SuperFrames = spec.SuperFrames;
        Shortcut.Enabled = spec.Shortcuts;
        FirewallDefaultPolicy = spec.FirewallDefaultPolicy;
        MidStreamPolicy = spec.MidStreamPolicy;
        MinDataPlanes = spec.Scaling.MinDataPlanes;
        MaxDataPlanes = spec.Scaling.MaxDataPlanes;
        TargetUtilizationPercent = spec.Scaling.TargetUtilizationPercent;
        DesiredDataPlanes = Math.Clamp(DesiredDataPlanes, MinDataPlanes, MaxDataPlanes);
    }
}

/// <summary>A DVA's tunnel protection and keys (owned by <see cref="Appliance"/>).</summary>
/// <summary>How the DVA's data plane units run.</summary>
internal sealed class ApplianceDataPlane
{
    /// <summary>Engine threads per data plane unit (the node configuration's <c>engines</c>).</summary>
    public int Engines { get; set; } = 1;
}

/// <summary>Offloads every unit of the DVA uses.</summary>
internal sealed class ApplianceOffload
{
    /// <summary>GSO/GRO super-frames end to end (the node configuration's <c>superFrames</c>).</summary>
    public bool SuperFrames { get; set; }
}

/// <summary>The kernel shortcut for the DVA's established flows.</summary>
internal sealed class ApplianceShortcut
{
    /// <summary>The node configuration's <c>shortcuts</c>: every data plane, and each dispatcher with an <c>afpacket:</c> interface.</summary>
    public bool Enabled { get; set; }
}

internal sealed class ApplianceDispatcher
{
    /// <summary>Engine threads per dispatcher unit (the node configuration's <c>engines</c>).</summary>
    public int Engines { get; set; } = 1;
}

internal sealed class ApplianceTunnel
{
    public TunnelSecurity Security { get; set; }

    public TunnelCipher Cipher { get; set; }

    /// <summary>
    /// The tunnel keys and send phase, encrypted at rest with ASP.NET Data Protection (docs/protocol.md, "Keys and
    /// rotation"); null until the first key is made. Never part of a view, the audit log or a log line.
    /// </summary>
    public string? ProtectedKeys { get; set; }
}
