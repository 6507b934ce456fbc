namespace Dva.Node.Services.Conntrack;

/// <summary>
/// Idle timeouts after which a flow entry is removed, conntrack-like. Defaults follow the brief of
/// DESIGN.md §8 (established 2 h rather than Linux's 5 days, so forgotten flows do not pile up).
/// </summary>
internal sealed record ConntrackTimeouts
{
    public TimeSpan TcpEstablished { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Handshake and closing states: SynSent, SynReceived, FinWait, CloseWait, LastAck.</summary>
    public TimeSpan TcpTransitory { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>TimeWait and Closed.</summary>
    public TimeSpan TcpClose { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>UDP with packets in one direction only.</summary>
    public TimeSpan Udp { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>UDP once the reply direction has been seen.</summary>
    public TimeSpan UdpStream { get; init; } = TimeSpan.FromSeconds(120);

    public TimeSpan Icmp { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Any other protocol.</summary>
    public TimeSpan Other { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>The longest timeout; the manager uses it to age out bucket history (DESIGN.md §4).</summary>
    public TimeSpan Longest => new[] { TcpEstablished, TcpTransitory, TcpClose, Udp, UdpStream, Icmp, Other }.Max();

    public TimeSpan For(byte protocol, TcpState state, bool replySeen) => protocol switch
    {
        IpProtocols.Tcp => state switch
        {
            TcpState.Established => TcpEstablished,
            TcpState.TimeWait or TcpState.Closed => TcpClose,
            _ => TcpTransitory,
        },
        IpProtocols.Udp => replySeen ? UdpStream : Udp,
        IpProtocols.Icmp or IpProtocols.IcmpV6 => Icmp,
        _ => Other,
    };

    /// <summary>Every problem with the values, empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach ((string name, TimeSpan value) in new[]
        {
            (nameof(TcpEstablished), TcpEstablished), (nameof(TcpTransitory), TcpTransitory), (nameof(TcpClose), TcpClose),
            (nameof(Udp), Udp), (nameof(UdpStream), UdpStream), (nameof(Icmp), Icmp), (nameof(Other), Other),
        })
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{name}: timeout must be positive, got {value}");
            }
        }

        return errors;
    }
}

/// <summary>
/// <see cref="ConntrackTimeouts"/> converted once to <see cref="TimeProvider.GetTimestamp"/> units,
/// so the expiry check on the data path is one subtraction and a compare.
/// </summary>
internal sealed class TimeoutTable
{
    private readonly long _tcpEstablished;
    private readonly long _tcpTransitory;
    private readonly long _tcpClose;
    private readonly long _udp;
    private readonly long _udpStream;
    private readonly long _icmp;
    private readonly long _other;

    public TimeoutTable(ConntrackTimeouts timeouts, long timestampFrequency)
    {
        ArgumentNullException.ThrowIfNull(timeouts);
        Timeouts = timeouts;
        _tcpEstablished = ToTicks(timeouts.TcpEstablished, timestampFrequency);
        _tcpTransitory = ToTicks(timeouts.TcpTransitory, timestampFrequency);
        _tcpClose = ToTicks(timeouts.TcpClose, timestampFrequency);
        _udp = ToTicks(timeouts.Udp, timestampFrequency);
        _udpStream = ToTicks(timeouts.UdpStream, timestampFrequency);
        _icmp = ToTicks(timeouts.Icmp, timestampFrequency);
        _other = ToTicks(timeouts.Other, timestampFrequency);
    }

    public ConntrackTimeouts Timeouts { get; }

    public long For(byte protocol, TcpState state, bool replySeen) => protocol switch
    {
        IpProtocols.Tcp => state switch
        {
            TcpState.Established => _tcpEstablished,
            TcpState.TimeWait or TcpState.Closed => _tcpClose,
            _ => _tcpTransitory,
        },
        IpProtocols.Udp => replySeen ? _udpStream : _udp,
        IpProtocols.Icmp or IpProtocols.IcmpV6 => _icmp,
        _ => _other,
    };

    // Seconds times frequency in floating point: ticks x frequency would overflow a long for hours at 1 GHz.
    private static long ToTicks(TimeSpan span, long frequency) => (long)(span.TotalSeconds * frequency);
}
