using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;

namespace Dva.Node.Services.Conntrack;

/// <summary>
/// What the data plane stores per flow: the firewall's decision, the NAT binding, the TCP state,
/// when it was last seen and what went through in each direction. A mutable struct held in place in
/// the flow table and updated through a ref; one thread handles a flow at a time.
/// </summary>
internal struct FlowVerdict
{
    private TcpConnection _tcp;

    public FlowVerdict(byte protocol, in FirewallMatch match, TcpState initialState, in NatBinding nat, long nowTicks)
    {
        Protocol = protocol;
        RuleIndex = match.RuleIndex;
        RuleId = match.RuleId;
        Verdict = match.Action;
        Nat = nat;
        _tcp = new TcpConnection(initialState);
        CreatedTicks = nowTicks;
        LastSeenTicks = nowTicks;
    }

    public byte Protocol { get; }

    /// <summary>Index in the rule set that decided (<see cref="FirewallMatch.DefaultIndex"/> for the default policy).</summary>
    public int RuleIndex { get; }

    public int RuleId { get; }
    public FirewallAction Verdict { get; }
    public NatBinding Nat { get; }
    public readonly TcpState TcpState => _tcp.State;
    public long CreatedTicks { get; }
    public long LastSeenTicks { get; private set; }
    public long PacketsOriginal { get; private set; }
    public long BytesOriginal { get; private set; }
    public long PacketsReply { get; private set; }
    public long BytesReply { get; private set; }

    public readonly bool ReplySeen => PacketsReply > 0;

    /// <summary>Counts a packet and, for TCP, advances the state; an invalid TCP packet is not counted.</summary>
    public TcpUpdate Observe(FlowDirection direction, TcpFlags tcpFlags, int bytes, long nowTicks)
    {
        if (Protocol == IpProtocols.Tcp && _tcp.Update(direction, tcpFlags) == TcpUpdate.Invalid)
        {
            return TcpUpdate.Invalid;
        }

        LastSeenTicks = nowTicks;
        if (direction == FlowDirection.Original)
        {
            PacketsOriginal++;
            BytesOriginal += bytes;
        }
        else
        {
            PacketsReply++;
            BytesReply += bytes;
        }

        return TcpUpdate.Accepted;
    }

    /// <summary>Whether the flow has been idle longer than its protocol and state allow.</summary>
    public readonly bool IsExpired(long nowTicks, TimeoutTable timeouts)
    {
        return nowTicks - LastSeenTicks > timeouts.For(Protocol, _tcp.State, ReplySeen);
    }
}
