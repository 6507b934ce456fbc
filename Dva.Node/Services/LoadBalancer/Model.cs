using System.Net;

namespace Dva.Node.Services.LoadBalancer;

/// <summary>How a pool spreads new flows over its members.</summary>
internal enum LbMethod : byte
{
    RoundRobin = 0,

    /// <summary>Smooth weighted round robin (nginx): weights 5:1:1 give a a b a c a a, not a a a a a b c.</summary>
    WeightedRoundRobin = 1,

    /// <summary>Fewest active flows relative to weight.</summary>
    LeastConnections = 2,

    /// <summary>Weighted rendezvous hashing of the source address: a member's removal moves only its own sources.</summary>
    SourceHash = 3,
}

/// <summary>The operator's intent for a member.</summary>
internal enum MemberAdminState : byte
{
    Enabled = 0,

    /// <summary>No new flows; existing flows continue until they end.</summary>
    Draining = 1,

    /// <summary>No new flows; existing flows continue (they are not cut, only not fed).</summary>
    Disabled = 2,
}

/// <summary>The manager's health check verdict for a member.</summary>
internal enum MemberHealth : byte
{
    Up = 0,
    Down = 1,
}

/// <summary>A backend server of a pool.</summary>
internal sealed record Member
{
    public required IPAddress Address { get; init; }
    public required ushort Port { get; init; }
    public int Weight { get; init; } = 1;
    public MemberAdminState AdminState { get; init; } = MemberAdminState.Enabled;
    public MemberHealth Health { get; init; } = MemberHealth.Up;

    /// <summary>Whether the member may receive new flows.</summary>
    public bool AcceptsNewFlows => AdminState == MemberAdminState.Enabled && Health == MemberHealth.Up;
}

/// <summary>A set of members and the method that picks among them.</summary>
internal sealed record Pool
{
    public string Name { get; init; } = "";
    public LbMethod Method { get; init; } = LbMethod.RoundRobin;
    public IReadOnlyList<Member> Members { get; init; } = [];
}

/// <summary>A virtual service: flows to (address, port, protocol) are spread over the pool's members.</summary>
internal sealed record Vip
{
    public required IPAddress Address { get; init; }
    public required ushort Port { get; init; }
    public byte Protocol { get; init; } = IpProtocols.Tcp;
    public required Pool Pool { get; init; }
}
