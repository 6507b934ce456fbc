using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// A non-blocking file descriptor that moves packets in batches: a UDP tunnel socket or a frame source.
/// <see cref="Receive"/> and <see cref="Send"/> never throw and never allocate; failures are counted in
/// <see cref="Counters"/> under a named reason. A port belongs to one engine thread; stop (or dispose)
/// that engine before disposing the port, since the engine may be inside a receive call on it.
/// </summary>
internal abstract class PacketPort : IDisposable
{
    /// <summary>Packets per system call; the measured knee for recvmmsg/sendmmsg on loopback.</summary>
    public const int MaxBatch = 64;

    private int _fd;

    protected PacketPort(string name, int fd)
    {
        Name = name;
        _fd = fd;
    }

    /// <summary>What this port is, as the operator wrote it (e.g. <c>afpacket:eth1</c>, <c>udp 0.0.0.0:6090</c>).</summary>
    public string Name { get; }

    public int Fd => _fd;

    public PortCounters Counters { get; } = new();

    /// <summary>Buffers waiting for the engine's end-of-turn flush; owned by the engine thread.</summary>
    internal SendQueue SendQueue { get; } = new(MaxBatch);

    /// <summary>The engine this port is registered with; a port is served by one engine thread only.</summary>
    internal object? Owner { get; set; }

    /// <summary>
    /// Null (most ports): the engine reads the port whenever epoll says it is readable. Non-null: the engine reads it
    /// the way NAPI reads a NIC. Readiness wakes it; when that read found two or more packets waiting (they come faster
    /// than a wakeup), it stops listening for readiness and reads the port every turn, at most this interval apart,
    /// until two reads in a row find nothing, and listens again. One packet per wakeup (sparse traffic) never polls. For a source
    /// whose kernel side wakes the reader for every couple of frames (AF_XDP on veth): under load one wakeup per
    /// interval instead of one per flush, and a first frame after a quiet spell still wakes the engine at once.
    /// Set before the port is registered; the engine reads it once.
    /// </summary>
    public TimeSpan? PollInterval { get; set; }

    /// <summary>
    /// Fills up to <see cref="MaxBatch"/> of <paramref name="buffers"/> with received packets and returns
    /// how many; 0 when nothing is waiting. Filled buffers are moved to the front of the span.
    /// </summary>
    public abstract int Receive(Span<PacketBuffer> buffers);

    /// <summary>Sends the frames of <paramref name="buffers"/>; returns how many the kernel took, the rest are counted drops.</summary>
    public abstract int Send(ReadOnlySpan<PacketBuffer> buffers);

    /// <summary>
    /// Adds to <paramref name="drops"/> the frames this port itself dropped before any role saw them, by named reason
    /// (an AF_PACKET ring's tagged, truncated and oversize frames, the kernel's "ring full" drops). Called from the
    /// control API and the heartbeat, never from the engine's loop. Most ports drop nothing of their own.
    /// </summary>
    public virtual void AddOwnDrops(IDictionary<string, long> drops)
    {
    }

    /// <summary>Blocks until the port is readable or <paramref name="timeoutMs"/> passes; for threads outside an engine (sinks, tests).</summary>
    public unsafe bool WaitReadable(int timeoutMs)
    {
        var fd = new PollFd { Fd = Fd, Events = Libc.POLLIN };
        int ready;
        do
        {
            ready = Libc.poll(&fd, 1, timeoutMs);
        }
        while (ready < 0 && Libc.LastErrno == Errno.EINTR);

        return ready > 0;
    }

    public override string ToString() => Name;

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Libc.close(fd);
        }
    }
}

/// <summary>Per-port counters, written by the engine thread, read by anyone.</summary>
internal sealed class PortCounters
{
    private long _receivedPackets;
    private long _receivedBytes;
    private long _receiveBatches;
    private long _sentPackets;
    private long _sentBytes;
    private long _receiveErrors;
    private long _sendErrors;
    private long _sendWouldBlock;
    private long _truncated;
    private long _foreignPeer;
    private long _noPeer;
    private long _badOffload;
    private int _lastError;

    public long ReceivedPackets => Volatile.Read(ref _receivedPackets);

    public long ReceivedBytes => Volatile.Read(ref _receivedBytes);

    /// <summary>Receive calls that returned at least one packet; ReceivedPackets / ReceiveBatches is the mean batch.</summary>
    public long ReceiveBatches => Volatile.Read(ref _receiveBatches);

    public long SentPackets => Volatile.Read(ref _sentPackets);

    public long SentBytes => Volatile.Read(ref _sentBytes);

    /// <summary>Receive calls that failed with something other than EAGAIN/EINTR.</summary>
    public long ReceiveErrors => Volatile.Read(ref _receiveErrors);

    /// <summary>Packets dropped because the send call failed (unreachable, too big, …).</summary>
    public long SendErrors => Volatile.Read(ref _sendErrors);

    /// <summary>Packets dropped because the socket send buffer was full (EAGAIN).</summary>
    public long SendWouldBlock => Volatile.Read(ref _sendWouldBlock);

    /// <summary>Packets dropped because they were larger than a buffer's frame size.</summary>
    public long Truncated => Volatile.Read(ref _truncated);

    /// <summary>Datagrams dropped on a udp: wire because they came from someone other than its PEER.</summary>
    public long ForeignPeer => Volatile.Read(ref _foreignPeer);

    /// <summary>Packets dropped on a tunnel socket because no destination address was set.</summary>
    public long NoPeer => Volatile.Read(ref _noPeer);

    /// <summary>
    /// Frames dropped on an <c>afpacket:IF?gso=1</c> source whose virtio_net_hdr the DVA cannot carry (UFO, a super-frame
    /// without NEEDS_CSUM, an unknown GSO type), or sent there with an offload the header cannot say.
    /// </summary>
    public long BadOffload => Volatile.Read(ref _badOffload);

    /// <summary>The errno of the most recent failed call, for diagnostics.</summary>
    public Errno LastError => (Errno)Volatile.Read(ref _lastError);

    internal void AddReceived(int packets, long bytes)
    {
        if (packets == 0)
        {
            return;
        }

        Volatile.Write(ref _receiveBatches, _receiveBatches + 1);
        Volatile.Write(ref _receivedPackets, _receivedPackets + packets);
        Volatile.Write(ref _receivedBytes, _receivedBytes + bytes);
    }

    internal void AddSent(int packets, long bytes)
    {
        Volatile.Write(ref _sentPackets, _sentPackets + packets);
        Volatile.Write(ref _sentBytes, _sentBytes + bytes);
    }

    internal void ReceiveFailed(Errno errno)
    {
        Volatile.Write(ref _receiveErrors, _receiveErrors + 1);
        Volatile.Write(ref _lastError, (int)errno);
    }

    internal void SendFailed(int packets, Errno errno)
    {
        if (errno == Errno.EAGAIN)
        {
            Volatile.Write(ref _sendWouldBlock, _sendWouldBlock + packets);
        }
        else
        {
            Volatile.Write(ref _sendErrors, _sendErrors + packets);
            Volatile.Write(ref _lastError, (int)errno);
        }
    }

    internal void AddTruncated() => Volatile.Write(ref _truncated, _truncated + 1);

    internal void AddForeignPeer() => Volatile.Write(ref _foreignPeer, _foreignPeer + 1);

    internal void AddNoPeer() => Volatile.Write(ref _noPeer, _noPeer + 1);

    internal void AddBadOffload() => Volatile.Write(ref _badOffload, _badOffload + 1);
}

/// <summary>A fixed array of buffers waiting to be sent on one port in the next flush.</summary>
internal sealed class SendQueue
{
    private readonly PacketBuffer[] _items;

    public SendQueue(int capacity) => _items = new PacketBuffer[capacity];

    public int Count { get; private set; }

    /// <summary>True while the port is on its engine's list of ports to flush this turn.</summary>
    internal bool Listed { get; set; }

    public bool IsFull => Count == _items.Length;

    public ReadOnlySpan<PacketBuffer> Items => _items.AsSpan(0, Count);

    public void Add(PacketBuffer buffer) => _items[Count++] = buffer;

    /// <summary>Releases every queued buffer to its pool and empties the queue.</summary>
    public void ReleaseAll()
    {
        for (var i = 0; i < Count; i++)
        {
            var buffer = _items[i];
            _items[i] = null!;
            buffer.Queued = false;
            buffer.Release();
        }

        Count = 0;
    }
}
