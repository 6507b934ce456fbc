using Dva.Node.Services.Firewall;

namespace Dva.Node.Services.Conntrack;

/// <summary>Why conntrack refused a packet; each reason has a counter.</summary>
internal enum ConntrackDropReason : byte
{
    None = 0,

    /// <summary>A TCP packet that is not a SYN, for a flow nobody has state for, under the strict policy.</summary>
    MidStreamNoState,

    /// <summary>A TCP packet that does not fit its flow's state (conntrack's INVALID).</summary>
    InvalidTcpTransition,
}

/// <summary>Whether a packet without a flow entry may create one, and in which TCP state.</summary>
internal readonly record struct FirstPacketDecision(bool Create, TcpState InitialState, ConntrackDropReason Reason)
{
    public static FirstPacketDecision Drop(ConntrackDropReason reason) => new(false, TcpState.None, reason);
}

/// <summary>
/// The conntrack side of a flow's first packet (DESIGN.md §6): a TCP flow normally starts with a SYN;
/// anything else arriving without state is mid-stream and the firewall's policy decides.
/// </summary>
internal static class FirstPacket
{
    public static FirstPacketDecision Decide(byte protocol, TcpFlags flags, MidStreamPolicy policy)
    {
        if (protocol != IpProtocols.Tcp)
        {
            return new FirstPacketDecision(true, TcpState.None, ConntrackDropReason.None);
        }

        if ((flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Syn)
        {
            return new FirstPacketDecision(true, TcpState.SynSent, ConntrackDropReason.None);
        }

        if (policy == MidStreamPolicy.Strict)
        {
            return FirstPacketDecision.Drop(ConntrackDropReason.MidStreamNoState);
        }

        // Loose: take the connection as already established (it was, somewhere we cannot see). A lone
        // RST is let through but tracked as closed, so it does not hold an entry for two hours.
        TcpState state = (flags & TcpFlags.Rst) != 0 ? TcpState.Closed : TcpState.Established;
        return new FirstPacketDecision(true, state, ConntrackDropReason.None);
    }
}

/// <summary>Counts of conntrack drops by reason, updated from any data-plane thread.</summary>
internal sealed class ConntrackCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<ConntrackDropReason>().Length];

    public void RecordDrop(ConntrackDropReason reason)
    {
        uint index = (uint)reason;
        if (index < (uint)_drops.Length)
        {
            Interlocked.Increment(ref _drops[index]);
        }
    }

    public long Drops(ConntrackDropReason reason) => Volatile.Read(ref _drops[(int)reason]);
}
