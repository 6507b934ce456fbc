namespace Dva.Node.Services.Conntrack;

/// <summary>Which way a packet travels relative to the flow's first packet.</summary>
internal enum FlowDirection : byte
{
    Original = 0,
    Reply = 1,
}

/// <summary>TCP header flags, with the bit values of the header's flags byte (RFC 9293).</summary>
[Flags]
internal enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}

/// <summary>Connection tracking states, as Linux conntrack names them.</summary>
internal enum TcpState : byte
{
    None = 0,
    SynSent,
    SynReceived,
    Established,

    /// <summary>One side has sent a FIN.</summary>
    FinWait,

    /// <summary>The other side acknowledged the first FIN and may still send.</summary>
    CloseWait,

    /// <summary>Both sides have sent a FIN; waiting for the last acknowledgement.</summary>
    LastAck,
    TimeWait,

    /// <summary>Reset; the entry lingers for the close timeout to absorb stray packets.</summary>
    Closed,
}

/// <summary>Whether a packet fits the tracked connection.</summary>
internal enum TcpUpdate : byte
{
    Accepted = 0,

    /// <summary>The packet does not fit the state (conntrack's INVALID); the state is unchanged.</summary>
    Invalid = 1,
}

/// <summary>
/// The TCP state of one flow, driven by (direction, flags) — like conntrack without its sequence
/// window checks, so a forged RST with the right addresses closes the entry.
/// </summary>
internal struct TcpConnection
{
    /// <summary>The side that sent the first FIN; meaningful from <see cref="TcpState.FinWait"/> on.</summary>
    private FlowDirection _firstFin;

    public TcpConnection(TcpState state)
    {
        State = state;
    }

    public TcpState State { get; private set; }

    public TcpUpdate Update(FlowDirection direction, TcpFlags flags)
    {
        bool syn = (flags & TcpFlags.Syn) != 0;
        bool ack = (flags & TcpFlags.Ack) != 0;
        bool fin = (flags & TcpFlags.Fin) != 0;

        // A reset ends the connection from any state; it is the one way out that needs no handshake.
        if ((flags & TcpFlags.Rst) != 0)
        {
            State = TcpState.Closed;
            return TcpUpdate.Accepted;
        }

        switch (State)
        {
            case TcpState.None:
            case TcpState.TimeWait:
            case TcpState.Closed:
                if (syn && !ack && direction == FlowDirection.Original)
                {
                    // A new connection on the same ports (a reused tuple after TIME_WAIT or a reset).
                    State = TcpState.SynSent;
                    return TcpUpdate.Accepted;
                }

                return State == TcpState.TimeWait && !syn ? TcpUpdate.Accepted : TcpUpdate.Invalid;

            case TcpState.SynSent:
                if (syn && direction == FlowDirection.Reply)
                {
                    // SYN+ACK, or a bare SYN when both ends open at once (simultaneous open).
                    State = TcpState.SynReceived;
                    return TcpUpdate.Accepted;
                }

                return syn && !ack ? TcpUpdate.Accepted : TcpUpdate.Invalid;

            case TcpState.SynReceived:
                if (syn)
                {
                    // Retransmitted SYN or SYN+ACK, or the second SYN+ACK of a simultaneous open.
                    return TcpUpdate.Accepted;
                }

                if (!ack)
                {
                    return TcpUpdate.Invalid;
                }

                State = TcpState.Established;
                return fin ? Close(direction) : TcpUpdate.Accepted;

            case TcpState.Established:
                if (syn)
                {
                    return TcpUpdate.Invalid;
                }

                return fin ? Close(direction) : TcpUpdate.Accepted;

            case TcpState.FinWait:
            case TcpState.CloseWait:
                if (syn)
                {
                    return TcpUpdate.Invalid;
                }

                if (direction != _firstFin)
                {
                    if (fin)
                    {
                        // The second FIN, whether or not the first was acknowledged: simultaneous close lands here too.
                        State = TcpState.LastAck;
                    }
                    else if (ack && State == TcpState.FinWait)
                    {
                        State = TcpState.CloseWait;
                    }
                }

                return TcpUpdate.Accepted;

            case TcpState.LastAck:
                if (syn)
                {
                    return TcpUpdate.Invalid;
                }

                if (ack && !fin)
                {
                    State = TcpState.TimeWait;
                }

                return TcpUpdate.Accepted;

            default:
                return TcpUpdate.Invalid;
        }
    }

    private TcpUpdate Close(FlowDirection direction)
    {
        State = TcpState.FinWait;
        _firstFin = direction;
        return TcpUpdate.Accepted;
    }
}
