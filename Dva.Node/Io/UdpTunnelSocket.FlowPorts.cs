namespace Dva.Node.Io;

// Per-flow outer source ports (DESIGN.md §2) on the tunnel socket: buffers that carry a SourcePort go out
// through the raw FlowPortSender, the rest (probes, broadcast hand-offs) through the bound socket.
internal sealed partial class UdpTunnelSocket
{
    private FlowPortSender? _flowPorts;
    private PacketBuffer[]? _viaBound;
    private PacketBuffer[]? _viaFlowPorts;

    /// <summary>True when buffers with a <see cref="PacketBuffer.SourcePort"/> leave from that port.</summary>
    public bool FlowSourcePorts => _flowPorts is not null;

    /// <summary>
    /// Turns per-flow source ports on; false with the reason when the system does not allow it, and then every
    /// datagram keeps leaving from the bound port (the tunnel still works, ECMP just sees one flow per peer).
    /// Before the socket is registered with an engine. Datagrams longer than <paramref name="tunnelMtu"/> leave from
    /// their flow's port as IPv4 fragments (the kernel fragments only what the bound socket sends).
    /// </summary>
    public bool EnableFlowSourcePorts(int socketBufferBytes, out string? reason, int tunnelMtu = ushort.MaxValue)
    {
        if (_flowPorts is not null)
        {
            reason = null;
            return true;
        }

        if (!FlowPortSender.TryOpen(LocalEndPoint, socketBufferBytes, out var sender, out reason))
        {
            return false;
        }

        _viaBound = new PacketBuffer[MaxBatch];
        _viaFlowPorts = new PacketBuffer[MaxBatch];
        sender!.FragmentAbove = tunnelMtu;
        _flowPorts = sender;
        return true;
    }

    /// <summary>Splits the batch by source port; order is kept within each flow, which is all a flow needs.</summary>
    private int SendSplit(ReadOnlySpan<PacketBuffer> buffers)
    {
        var bound = 0;
        var flowed = 0;
        var sent = 0;
        foreach (var buffer in buffers)
        {
            if (buffer.SourcePort == 0)
            {
                _viaBound![bound++] = buffer;
                if (bound == MaxBatch)
                {
                    sent += Flush(_viaBound, ref bound, flowPorts: false);
                }
            }
            else
            {
                _viaFlowPorts![flowed++] = buffer;
                if (flowed == MaxBatch)
                {
                    sent += Flush(_viaFlowPorts, ref flowed, flowPorts: true);
                }
            }
        }

        sent += Flush(_viaBound!, ref bound, flowPorts: false);
        sent += Flush(_viaFlowPorts!, ref flowed, flowPorts: true);
        return sent;
    }

    private int Flush(PacketBuffer[] scratch, ref int count, bool flowPorts)
    {
        if (count == 0)
        {
            return 0;
        }

        var batch = scratch.AsSpan(0, count);
        var sent = flowPorts ? _flowPorts!.Send(batch, Counters) : _batch.Send(Fd, batch, Counters);
        batch.Clear();
        count = 0;
        return sent;
    }
}
