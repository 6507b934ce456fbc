namespace Dva.Manager.Model;

/// <summary>A node agent known to the manager: unallocated, or a dispatcher / data plane of one DVA.</summary>
internal sealed class Node : ManagedEntity
{
    public const int MinNodeId = 1;
    public const int MaxNodeId = 4094;

    public string Name { get; set; } = "";

    public long? DvaId { get; set; }

    public NodeRole Role { get; set; }

    /// <summary>12-bit node id within its DVA, 1..4094; 0 while unallocated.</summary>
    public int NodeId { get; set; }

    /// <summary>"address:port" other nodes send tunnel packets to.</summary>
    public string TunnelEndpoint { get; set; } = "";

    public NodeState State { get; set; }

    public DateTimeOffset? LastHeartbeat { get; set; }

    /// <summary>Capacity measured by the agent (packets per second it can carry).</summary>
    public double MeasuredCapacity { get; set; }

    /// <summary>Share of buckets relative to other data planes.</summary>
    public int Weight { get; set; } = 1;

    /// <summary>Returns the node to the unallocated pool (its DVA, role and node id are released).</summary>
    public void Unallocate()
    {
        DvaId = null;
        Role = NodeRole.Unallocated;
        NodeId = 0;
        State = NodeState.Active;
        TouchSpec();
    }
}
