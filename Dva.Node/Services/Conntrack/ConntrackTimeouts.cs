namespace Dva.Node.Services.Conntrack;

/// <summary>
/// Idle timeouts after which a flow entry is removed, conntrack-like. Established defaults to 2 h
/// rather than Linux's 5 days, so flows whose ends vanished do not pile up in memory. For
/// configuration and display; the data path reads <see cref="TimeoutTable"/>.
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
    public TimeSpan Longest => InSlotOrder().Max();

    public TimeSpan For(byte protocol, TcpState state, bool replySeen) => InSlotOrder()[Slot(protocol, state, replySeen)];

    /// <summary>Which of the timeouts applies: an index into <see cref="InSlotOrder"/>.</summary>
    internal static int Slot(byte protocol, TcpState state, bool replySeen) => protocol switch
    {
        IpProtocols.Tcp => state switch
        {
            TcpState.Established => 0,
            TcpState.TimeWait or TcpState.Closed => 2,
            _ => 1,
        },
        IpProtocols.Udp => replySeen ? 4 : 3,
        IpProtocols.Icmp or IpProtocols.IcmpV6 => 5,
        _ => 6,
    };

    internal (string Name, TimeSpan Value)[] Named() =>
    [
        (nameof(TcpEstablished), TcpEstablished), (nameof(TcpTransitory), TcpTransitory), (nameof(TcpClose), TcpClose),
        (nameof(Udp), Udp), (nameof(UdpStream), UdpStream), (nameof(Icmp), Icmp), (nameof(Other), Other),
    ];

    internal TimeSpan[] InSlotOrder() => [TcpEstablished, TcpTransitory, TcpClose, Udp, UdpStream, Icmp, Other];

    /// <summary>Every problem with the values, empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach ((string name, TimeSpan value) in Named())
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
    private readonly long[] _ticks;

    public TimeoutTable(ConntrackTimeouts timeouts, long timestampFrequency)
    {
        ArgumentNullException.ThrowIfNull(timeouts);
        Timeouts = timeouts;
        _ticks = [.. timeouts.InSlotOrder().Select(t => ToTicks(t, timestampFrequency))];
    }

    public ConntrackTimeouts Timeouts { get; }

    public long For(byte protocol, TcpState state, bool replySeen) => _ticks[ConntrackTimeouts.Slot(protocol, state, replySeen)];

    // Seconds times frequency in floating point: ticks x frequency would overflow a long for hours at 1 GHz.
    private static long ToTicks(TimeSpan span, long frequency) => (long)(span.TotalSeconds * frequency);
}
