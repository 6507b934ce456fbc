using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dva.Shared.Packets;

namespace Dva.Node.Traffic;

/// <summary>What to play. The wires are the peers of the dispatcher's two <c>udp:</c> frame sources.</summary>
internal sealed record TrafficOptions
{
    /// <summary>The generator's end of the outside wire (client hosts) and the dispatcher's end.</summary>
    public required IPEndPoint ClientLocal { get; init; }

    public required IPEndPoint ClientPeer { get; init; }

    /// <summary>The generator's end of the inside wire (server hosts) and the dispatcher's end.</summary>
    public required IPEndPoint ServerLocal { get; init; }

    public required IPEndPoint ServerPeer { get; init; }

    public IPAddress ClientGateway { get; init; } = IPAddress.Parse("192.0.2.1");

    public IPAddress ServerGateway { get; init; } = IPAddress.Parse("198.51.100.1");

    /// <summary>Client hosts from 192.0.2.10 up, server hosts from 198.51.100.10 up.</summary>
    public int Clients { get; init; } = 50;

    public int Servers { get; init; } = 10;

    /// <summary>Flows to open in all; 0 = no limit (long-running mode, ends at <see cref="Duration"/>).</summary>
    public long Flows { get; init; } = 1000;

    /// <summary>Flows open at once at most (the target in long-running mode).</summary>
    public int Concurrency { get; init; } = 100;

    /// <summary>New flows per second at most.</summary>
    public double Rate { get; init; } = 2000;

    /// <summary>Every this-many flows one is UDP (request/response), the rest TCP; 0 = TCP only.</summary>
    public int UdpEvery { get; init; } = 4;

    /// <summary>Data segments each way per flow.</summary>
    public int Segments { get; init; } = 3;

    public int PayloadBytes { get; init; } = 200;

    /// <summary>Pause between a flow's segments, so flows live long enough to span a table change (0 = none).</summary>
    public TimeSpan StepInterval { get; init; }

    /// <summary>Wait for a segment before sending it again.</summary>
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Sends of one segment after the first before the flow is declared broken.</summary>
    public int Retries { get; init; } = 5;

    /// <summary>
    /// Double the wait after every resend of a segment, up to <see cref="MaxRetransmitTimeout"/>, as TCP does
    /// (RFC 6298 5.5), so a flow outlasts a stall of seconds; off = a fixed <see cref="RetransmitTimeout"/>.
    /// </summary>
    public bool Backoff { get; init; }

    public TimeSpan MaxRetransmitTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>First flow id: a second generator on the same wires opens other ports than the first one did.</summary>
    public long FirstFlow { get; init; }

    /// <summary>The generator stops opening flows at this time and declares the still-open ones broken.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often <c>dva-node traffic</c> prints a progress line (zero = never).</summary>
    public TimeSpan ProgressInterval { get; init; }

    /// <summary>Keep per-flow records (packets sent each way) for the caller to compare with the data planes.</summary>
    public bool RecordFlows { get; init; }

    /// <summary>The wait for an answer after a segment's send number <paramref name="resends"/> (0 = the first send).</summary>
    public TimeSpan RetransmitTimeoutAfter(int resends)
    {
        if (!Backoff)
        {
            return RetransmitTimeout;
        }

        // Doubling past 2^20 overflows nothing useful: the cap is reached long before.
        var ticks = RetransmitTimeout.Ticks << Math.Min(resends, 20);
        return TimeSpan.FromTicks(Math.Min(ticks, Math.Max(MaxRetransmitTimeout.Ticks, RetransmitTimeout.Ticks)));
    }

    /// <summary>How long a segment may go unanswered, all resends included, before its flow counts as broken.</summary>
    public TimeSpan GiveUpAfter()
    {
        var total = TimeSpan.Zero;
        for (var resends = 0; resends <= Retries; resends++)
        {
            total += RetransmitTimeoutAfter(resends);
        }

        return total;
    }
}

/// <summary>A finished or broken flow, with what the generator sent (retransmissions included).</summary>
internal sealed record FlowRecord(long Id, string Protocol, string Client, string Server, long PacketsToServer, long PacketsToClient, int Retransmits, bool Completed, string? Failure);

internal sealed record TrafficResult(
    long Opened,
    long Completed,
    long Broken,
    long Retransmits,
    long FramesSent,
    long FramesReceived,
    long Duplicates,
    long StrayFrames,
    double Seconds,
    IReadOnlyDictionary<string, long> Failures,
    IReadOnlyList<FlowRecord> Flows);

/// <summary>
/// Plays client hosts (192.0.2.0/24) on the outside wire and server hosts (198.51.100.0/24) on the inside
/// wire of a dispatcher: answers ARP for its hosts, announces them with gratuitous ARP, learns the shared
/// MACs by asking for the gateways, then opens TCP-like and UDP flows through the DVA and checks every
/// frame that comes back (source MAC = that wire's shared MAC, TTL lowered by exactly one, bytes intact,
/// checksums valid). One segment per flow is in flight at a time; a segment that does not arrive is sent
/// again up to <see cref="TrafficOptions.Retries"/> times before the flow counts as broken.
/// </summary>
internal sealed class TrafficGenerator : IDisposable
{
    private const int MacLength = 6;
    private static readonly TimeSpan s_gatewayTimeout = TimeSpan.FromSeconds(10);

    private readonly TrafficOptions _options;
    private readonly Socket _client;
    private readonly Socket _server;
    private readonly byte[] _frame = new byte[2048];
    private readonly byte[] _expected = new byte[2048];
    private readonly byte[] _receive = new byte[65536];
    private readonly Dictionary<ulong, ActiveFlow> _active = [];
    private readonly List<ActiveFlow> _activeList = [];
    private readonly Dictionary<string, long> _failures = [];
    private readonly List<FlowRecord> _records = [];
    private readonly Stopwatch _clock = new();
    private readonly List<(long Count, TaskCompletionSource Done)> _waiters = [];
    private readonly Lock _waitersLock = new();
    private byte[]? _clientGatewayMac;
    private byte[]? _serverGatewayMac;
    private long _opened;
    private long _completed;
    private long _broken;
    private long _retransmits;
    private long _sent;
    private long _received;
    private long _duplicates;
    private long _stray;

    public TrafficGenerator(TrafficOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _client = Open(options.ClientLocal);
        _server = Open(options.ServerLocal);
    }

    /// <summary>Flows completed so far; any thread (tests roll tables out when it passes a mark).</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>Flows broken so far; any thread (the periodic progress line reads it).</summary>
    public long Broken => Interlocked.Read(ref _broken);

    public long Retransmits => Interlocked.Read(ref _retransmits);

    /// <summary>Completes once <paramref name="count"/> flows completed (or the run ended); any thread.</summary>
    public Task WhenCompleted(long count)
    {
        lock (_waitersLock)
        {
            if (Completed >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task;
        }
    }

    /// <summary>Runs on the calling thread until every flow finished or the duration passed (or <paramref name="cancellationToken"/>).</summary>
    public TrafficResult Run(CancellationToken cancellationToken = default)
    {
        _clock.Restart();
        ResolveGateways(cancellationToken);
        Announce();
        var interval = _options.Rate > 0 ? 1.0 / _options.Rate : 0;
        var nextOpen = 0.0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = _clock.Elapsed.TotalSeconds;
            var timeUp = now >= _options.Duration.TotalSeconds;
            while (!timeUp && _activeList.Count < _options.Concurrency && (_options.Flows == 0 || _opened < _options.Flows) && now >= nextOpen)
            {
                OpenFlow();
                nextOpen = Math.Max(nextOpen + interval, now - 1);
            }

            if (_activeList.Count == 0 && (timeUp || (_options.Flows != 0 && _opened >= _options.Flows)))
            {
                break;
            }

            if (timeUp)
            {
                foreach (var flow in _activeList.ToArray())
                {
                    Fail(flow, "still open at the time limit");
                }

                break;
            }

            ReceiveAvailable(2);
            CheckTimeouts();
        }

        ReleaseWaiters(long.MaxValue);
        return new TrafficResult(_opened, _completed, _broken, _retransmits, _sent, _received, _duplicates, _stray,
            _clock.Elapsed.TotalSeconds, new Dictionary<string, long>(_failures), [.. _records]);
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
    }

    private static Socket Open(IPEndPoint local)
    {
        var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20, SendBufferSize = 4 << 20 };
        socket.Bind(local);
        return socket;
    }

    private uint ClientHost(long index) => V4(_options.ClientGateway) - 1 + 10 + (uint)(index % _options.Clients);

    private uint ServerHost(long index) => V4(_options.ServerGateway) - 1 + 10 + (uint)(index % _options.Servers);

    private static uint V4(IPAddress address) => BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());

    /// <summary>A locally administered MAC per host: 02:c1 for clients, 02:5e for servers, then the IPv4 address.</summary>
    private static byte[] HostMac(bool client, uint ip)
    {
        var mac = new byte[MacLength];
        mac[0] = 0x02;
        mac[1] = client ? (byte)0xC1 : (byte)0x5E;
        BinaryPrimitives.WriteUInt32BigEndian(mac.AsSpan(2), ip);
        return mac;
    }

    private void ResolveGateways(CancellationToken cancellationToken)
    {
        var deadline = _clock.Elapsed + s_gatewayTimeout;
        var lastAsk = TimeSpan.FromSeconds(-1);
        while (_clientGatewayMac is null || _serverGatewayMac is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_clock.Elapsed > deadline)
            {
                throw new TimeoutException($"no ARP answer for the gateways {_options.ClientGateway} / {_options.ServerGateway} within {s_gatewayTimeout.TotalSeconds} s: is the dispatcher running on these wires?");
            }

            if (_clock.Elapsed - lastAsk > TimeSpan.FromMilliseconds(200))
            {
                lastAsk = _clock.Elapsed;
                if (_clientGatewayMac is null)
                {
                    var ip = ClientHost(0);
                    SendRaw(_client, _options.ClientPeer, PacketBuilder.ArpRequest(_frame, HostMac(true, ip), ip, V4(_options.ClientGateway)));
                }

                if (_serverGatewayMac is null)
                {
                    var ip = ServerHost(0);
                    SendRaw(_server, _options.ServerPeer, PacketBuilder.ArpRequest(_frame, HostMac(false, ip), ip, V4(_options.ServerGateway)));
                }
            }

            ReceiveAvailable(20);
        }
    }

    /// <summary>Gratuitous ARP for every host, so the dispatcher and the data planes know them before traffic starts.</summary>
    private void Announce()
    {
        for (var i = 0; i < _options.Clients; i++)
        {
            var ip = ClientHost(i);
            SendRaw(_client, _options.ClientPeer, PacketBuilder.ArpRequest(_frame, HostMac(true, ip), ip, ip));
        }

        for (var i = 0; i < _options.Servers; i++)
        {
            var ip = ServerHost(i);
            SendRaw(_server, _options.ServerPeer, PacketBuilder.ArpRequest(_frame, HostMac(false, ip), ip, ip));
        }
    }

    private void OpenFlow()
    {
        var id = _options.FirstFlow + _opened;
        var clients = _options.Clients;
        var protocol = _options.UdpEvery > 0 && id % _options.UdpEvery == _options.UdpEvery - 1 ? PacketConstants.ProtocolUdp : PacketConstants.ProtocolTcp;
        var spec = new FlowSpec(
            id,
            protocol,
            ClientHost(id),
            (ushort)(20000 + ((id / clients) % 40000)),
            ServerHost(id / clients),
            protocol == PacketConstants.ProtocolTcp ? (ushort)80 : (ushort)53,
            _options.Segments,
            _options.PayloadBytes);
        var key = Key(spec.Protocol, spec.ClientIp, spec.ClientPort);
        if (_active.ContainsKey(key))
        {
            // The port space wrapped onto a flow still open (long-running mode): skip this id.
            _opened++;
            return;
        }

        var flow = new ActiveFlow(spec);
        _active[key] = flow;
        _activeList.Add(flow);
        Interlocked.Increment(ref _opened);
        SendStep(flow);
    }

    private static ulong Key(byte protocol, uint clientIp, ushort clientPort) => ((ulong)protocol << 48) | ((ulong)clientIp << 16) | clientPort;

    private void SendStep(ActiveFlow flow)
    {
        var step = flow.Spec.Step(flow.Step);
        var toServer = step.Direction == FlowDirection.ClientToServer;
        var length = toServer
            ? TrafficFrames.Write(_frame, flow.Spec, step, flow.Step, HostMac(true, flow.Spec.ClientIp), _clientGatewayMac)
            : TrafficFrames.Write(_frame, flow.Spec, step, flow.Step, HostMac(false, flow.Spec.ServerIp), _serverGatewayMac);
        if (toServer)
        {
            flow.ToServer++;
            SendRaw(_client, _options.ClientPeer, length);
        }
        else
        {
            flow.ToClient++;
            SendRaw(_server, _options.ServerPeer, length);
        }

        flow.Deadline = _clock.Elapsed + _options.RetransmitTimeoutAfter(flow.Attempts);
    }

    private void SendRaw(Socket socket, IPEndPoint peer, int length)
    {
        if (length == 0)
        {
            return;
        }

        try
        {
            socket.SendTo(_frame.AsSpan(0, length), SocketFlags.None, peer);
            _sent++;
        }
        catch (SocketException)
        {
            // A refused or full wire is a lost frame; the retransmit timer deals with it.
        }
    }

    private void ReceiveAvailable(int waitMs)
    {
        var ready = new List<Socket> { _client, _server };
        Socket.Select(ready, null, null, waitMs * 1000);
        foreach (var socket in ready)
        {
            var clientSide = ReferenceEquals(socket, _client);
            for (var n = 0; n < 256 && socket.Available > 0; n++)
            {
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int length;
                try
                {
                    length = socket.ReceiveFrom(_receive, ref from);
                }
                catch (SocketException)
                {
                    break;
                }

                if (!from.Equals(clientSide ? _options.ClientPeer : _options.ServerPeer))
                {
                    _stray++;
                    continue;
                }

                _received++;
                OnFrame(clientSide, _receive.AsSpan(0, length));
            }
        }
    }

    private void OnFrame(bool clientSide, ReadOnlySpan<byte> frame)
    {
        if (PacketParser.TryParse(frame, out var info) != ParseError.None)
        {
            _stray++;
            return;
        }

        if (info.IsArp)
        {
            OnArp(clientSide, frame, info);
            return;
        }

        if (info.IpVersion != 4 || !info.HasPorts)
        {
            _stray++;
            return;
        }

        var key = clientSide
            ? Key(info.Protocol, info.Destination.V4, info.DstPort)
            : Key(info.Protocol, info.Source.V4, info.SrcPort);
        if (!_active.TryGetValue(key, out var flow))
        {
            _stray++;
            return;
        }

        var step = flow.Spec.Step(flow.Step);
        var expectedSide = step.Direction == FlowDirection.ServerToClient;
        var mismatch = "frame of the wrong direction";
        if (expectedSide == clientSide && Matches(clientSide, flow, flow.Step, frame, out mismatch))
        {
            Advance(flow);
            return;
        }

        // A retransmission whose first copy arrived after all, or a segment of an earlier step: harmless.
        for (var s = flow.Step - 1; s >= 0 && s >= flow.Step - 3; s--)
        {
            if ((flow.Spec.Step(s).Direction == FlowDirection.ServerToClient) == clientSide && Matches(clientSide, flow, s, frame, out _))
            {
                _duplicates++;
                return;
            }
        }

        Fail(flow, mismatch);
    }

    /// <summary>
    /// Compares a received frame with the one the DVA must deliver for <paramref name="stepIndex"/>: the sent
    /// frame with the shared MAC as source, the receiving host's MAC as destination, the TTL one lower (and
    /// the IPv4 checksum updated), and on a SYN the MSS possibly clamped. Everything else byte for byte.
    /// </summary>
    private bool Matches(bool clientSide, ActiveFlow flow, int stepIndex, ReadOnlySpan<byte> frame, out string mismatch)
    {
        var spec = flow.Spec;
        var step = spec.Step(stepIndex);
        var receiverMac = clientSide ? HostMac(true, spec.ClientIp) : HostMac(false, spec.ServerIp);
        var sharedMac = clientSide ? _clientGatewayMac! : _serverGatewayMac!;
        var length = TrafficFrames.Write(_expected, spec, step, stepIndex, sharedMac, receiverMac);
        var expected = _expected.AsSpan(0, length);
        if (frame.Length < length)
        {
            mismatch = "frame shorter than sent";
            return false;
        }

        if (!frame[MacLength..(2 * MacLength)].SequenceEqual(sharedMac))
        {
            mismatch = "source MAC is not the shared MAC";
            return false;
        }

        if (!frame[..MacLength].SequenceEqual(receiverMac))
        {
            mismatch = "destination MAC is not the host's";
            return false;
        }

        var ip = PacketConstants.EthernetHeaderLength;
        if (frame[ip + 8] != TrafficFrames.SentTtl - 1)
        {
            mismatch = $"TTL {frame[ip + 8]}, expected {TrafficFrames.SentTtl - 1}";
            return false;
        }

        if (!Checksum.VerifyIpv4Header(frame.Slice(ip, PacketConstants.Ipv4MinHeaderLength)))
        {
            mismatch = "bad IPv4 header checksum";
            return false;
        }

        if (PacketParser.TryParse(frame, out var info) != ParseError.None || !Checksum.VerifyTransport(frame, info))
        {
            mismatch = "bad transport checksum";
            return false;
        }

        // Apply the changes the DVA is allowed to make to the expected copy, then compare everything.
        expected[ip + 8] = TrafficFrames.SentTtl - 1;
        Checksum.WriteIpv4Header(expected.Slice(ip, PacketConstants.Ipv4MinHeaderLength));
        if ((step.Flags & TcpFlags.Syn) != 0 && info.TcpMssOptionOffset > 0)
        {
            var mss = BinaryPrimitives.ReadUInt16BigEndian(frame[(info.TcpMssOptionOffset + 2)..]);
            if (mss > TrafficFrames.SentMss)
            {
                mismatch = $"MSS raised to {mss}";
                return false;
            }

            BinaryPrimitives.WriteUInt16BigEndian(expected[(info.TcpMssOptionOffset + 2)..], mss);
            frame[(info.L4Offset + 16)..(info.L4Offset + 18)].CopyTo(expected[(info.L4Offset + 16)..]);
        }

        if (!frame[..length].SequenceEqual(expected) || frame[length..].ContainsAnyExcept((byte)0))
        {
            mismatch = "payload or header bytes differ from what was sent";
            return false;
        }

        mismatch = string.Empty;
        return true;
    }

    private void Advance(ActiveFlow flow)
    {
        flow.Step++;
        flow.Attempts = 0;
        if (flow.Step < flow.Spec.StepCount)
        {
            if (_options.StepInterval > TimeSpan.Zero)
            {
                // Sent by CheckTimeouts when due; the deadline doubles as the send time.
                flow.Paused = true;
                flow.Deadline = _clock.Elapsed + _options.StepInterval;
                return;
            }

            SendStep(flow);
            return;
        }

        Finish(flow, completed: true, failure: null);
        var completed = Interlocked.Increment(ref _completed);
        if (_waiters.Count > 0)
        {
            ReleaseWaiters(completed);
        }
    }

    private void ReleaseWaiters(long completed)
    {
        lock (_waitersLock)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= completed)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private void CheckTimeouts()
    {
        var now = _clock.Elapsed;
        for (var i = _activeList.Count - 1; i >= 0; i--)
        {
            var flow = _activeList[i];
            if (now < flow.Deadline)
            {
                continue;
            }

            if (flow.Paused)
            {
                flow.Paused = false;
                SendStep(flow);
                continue;
            }

            if (flow.Attempts >= _options.Retries)
            {
                Fail(flow, $"no answer to step {flow.Step} after {_options.Retries} retransmissions");
                continue;
            }

            flow.Attempts++;
            flow.Retransmits++;
            _retransmits++;
            SendStep(flow);
        }
    }

    private void Fail(ActiveFlow flow, string reason)
    {
        _broken++;
        var kind = reason.Split(" after ")[0];
        _failures[kind] = _failures.GetValueOrDefault(kind) + 1;
        Finish(flow, completed: false, failure: $"step {flow.Step}: {reason}");
    }

    private void Finish(ActiveFlow flow, bool completed, string? failure)
    {
        var spec = flow.Spec;
        _active.Remove(Key(spec.Protocol, spec.ClientIp, spec.ClientPort));
        _activeList.Remove(flow);
        if (_options.RecordFlows || failure is not null)
        {
            _records.Add(new FlowRecord(spec.Id, spec.Protocol == PacketConstants.ProtocolTcp ? "tcp" : "udp",
                $"{new IPAddress(BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(spec.ClientIp)))}:{spec.ClientPort}",
                $"{new IPAddress(BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(spec.ServerIp)))}:{spec.ServerPort}",
                flow.ToServer, flow.ToClient, flow.Retransmits, completed, failure));
        }
    }

    private void OnArp(bool clientSide, ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        var gateway = V4(clientSide ? _options.ClientGateway : _options.ServerGateway);
        if (info.ArpOperation == 2 && info.ArpSenderIp == gateway)
        {
            var mac = frame.Slice(info.ArpSenderMacOffset, MacLength).ToArray();
            if (clientSide)
            {
                _clientGatewayMac ??= mac;
            }
            else
            {
                _serverGatewayMac ??= mac;
            }

            return;
        }

        if (info.ArpOperation != 1 || !IsHost(clientSide, info.ArpTargetIp))
        {
            return;
        }

        var length = PacketBuilder.ArpReply(_frame, frame, info, HostMac(clientSide, info.ArpTargetIp));
        SendRaw(clientSide ? _client : _server, clientSide ? _options.ClientPeer : _options.ServerPeer, length);
    }

    private bool IsHost(bool clientSide, uint ip)
    {
        var first = clientSide ? ClientHost(0) : ServerHost(0);
        var count = clientSide ? _options.Clients : _options.Servers;
        return ip >= first && ip < first + (uint)count;
    }

    private sealed class ActiveFlow(FlowSpec spec)
    {
        public FlowSpec Spec { get; } = spec;

        public int Step { get; set; }

        public int Attempts { get; set; }

        public int Retransmits { get; set; }

        public long ToServer { get; set; }

        public long ToClient { get; set; }

        public TimeSpan Deadline { get; set; }

        /// <summary>Waiting out <see cref="TrafficOptions.StepInterval"/> before the next segment.</summary>
        public bool Paused { get; set; }
    }
}
