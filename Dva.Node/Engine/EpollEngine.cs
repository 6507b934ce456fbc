using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Engine;

/// <summary>
/// One epoll loop on one named thread (<c>dva-engine-N</c>). Each turn: wait on epoll (the timeout is the
/// next timer), receive one batch from each ready port and hand it to that port's handler, run actions
/// posted from other threads, run due timers, then flush every port's send batch with one sendmmsg.
/// Ports are level-triggered and read one batch per turn, so a busy port cannot starve the others.
/// </summary>
internal sealed unsafe class EpollEngine : IDisposable
{
    /// <summary>Ready descriptors taken per epoll_wait; more stay ready for the next turn.</summary>
    public const int MaxEvents = 64;

    private const ulong WakeToken = ulong.MaxValue;
    private static int s_nextId;

    private readonly int _epollFd;
    private readonly int _wakeFd;
    private readonly EpollEvent* _events;
    private readonly BufferPool _pool;
    private readonly TimeProvider _time;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Thread _thread;

    private Registration?[] _registrations = new Registration?[8];
    private PacketPort[] _dirty = new PacketPort[8];
    private int _dirtyCount;
    private EngineTimer[] _timers = [];

    /// <summary>Registrations of <see cref="PacketPort.PollInterval"/> ports that are out of epoll and read every turn.</summary>
    private Registration[] _polling = new Registration[4];
    private int _pollingCount;

    /// <summary>Counts changes to the polling set, so <see cref="Poll"/> notices a handler unregistering ports under it.</summary>
    private int _pollingVersion;
    private int _wakePending;
    private volatile bool _stopping;
    private int _started;
    private int _disposed;
    private long _turns;
    private long _handlerFaults;
    private long _rxPoolExhausted;
    private long _sendRejected;

    public EpollEngine(BufferPool pool, TimeProvider? time = null, int? id = null)
    {
        ArgumentNullException.ThrowIfNull(pool);

        // epoll_event is packed only on x86-64; a wrong layout here would corrupt every event silently.
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || sizeof(EpollEvent) != 12)
        {
            throw new PlatformNotSupportedException("EpollEngine supports Linux x86-64 only (packed epoll_event)");
        }

        _pool = pool;
        _time = time ?? TimeProvider.System;
        Id = id ?? Interlocked.Increment(ref s_nextId);
        Name = $"dva-engine-{Id}";

        _epollFd = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        if (_epollFd < 0)
        {
            throw InteropException.FromLastError("epoll_create1");
        }

        _wakeFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_wakeFd < 0)
        {
            var error = InteropException.FromLastError("eventfd");
            _ = Libc.close(_epollFd);
            throw error;
        }

        _events = (EpollEvent*)NativeMemory.AllocZeroed((nuint)(MaxEvents * sizeof(EpollEvent)));
        AddToEpoll(_wakeFd, WakeToken, "eventfd");
        _thread = new Thread(Run) { Name = Name, IsBackground = true };
    }

    public int Id { get; }

    public string Name { get; }

    public BufferPool Pool => _pool;

    public TimeProvider Time => _time;

    /// <summary>True on the engine's own thread: registrations and sends are only allowed there (or before Start).</summary>
    public bool IsEngineThread => Thread.CurrentThread == _thread;

    public long Turns => Volatile.Read(ref _turns);

    /// <summary>The kernel thread id of the engine thread once it runs (0 before), for its CPU time (load harnesses).</summary>
    public int ThreadId { get; private set; }

    /// <summary>Handler calls that threw; a handler bug, counted so the loop keeps forwarding.</summary>
    public long HandlerFaults => Volatile.Read(ref _handlerFaults);

    /// <summary>Turns where a port's receive batch was short because the buffer pool was exhausted.</summary>
    public long ReceivePoolExhausted => Volatile.Read(ref _rxPoolExhausted);

    /// <summary>Sends refused: the buffer was already queued, or the port belongs to no engine or another one.</summary>
    public long SendRejected => Volatile.Read(ref _sendRejected);

    /// <summary>Ports with a <see cref="PacketPort.PollInterval"/> that are being polled now (out of epoll's readiness).</summary>
    public int PollingPorts => Volatile.Read(ref _pollingCount);

    /// <summary>The last exception a handler threw, for diagnostics.</summary>
    public Exception? LastFault { get; private set; }

    /// <summary>
    /// Registers <paramref name="port"/> for receiving; each received batch goes to <paramref name="handler"/>.
    /// Before <see cref="Start"/>, or on the engine thread (from <see cref="Post"/>).
    /// </summary>
    public void Register(PacketPort port, PacketBatchHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var registration = Attach(port);
        registration.Handler = handler;
        AddToEpoll(port.Fd, (ulong)registration.Token, port.Name);
    }

    /// <summary>Lets this engine send on <paramref name="port"/> without receiving from it.</summary>
    public void RegisterSendOnly(PacketPort port) => Attach(port);

    /// <summary>Stops receiving from and sending on <paramref name="port"/>; its queued packets are sent first.</summary>
    public void Unregister(PacketPort port)
    {
        ArgumentNullException.ThrowIfNull(port);
        EnsureEngineThread();
        for (var i = 0; i < _registrations.Length; i++)
        {
            var registration = _registrations[i];
            if (registration is null || !ReferenceEquals(registration.Port, port))
            {
                continue;
            }

            FlushPort(port);
            if (registration.Handler is not null)
            {
                _ = Libc.epoll_ctl(_epollFd, Libc.EPOLL_CTL_DEL, port.Fd, null);
            }

            StopPolling(registration);

            registration.ReleaseSlots();
            port.Owner = null;
            _registrations[i] = null;
            return;
        }
    }

    /// <summary>
    /// Queues <paramref name="buffer"/> to be sent on <paramref name="port"/> at the end of this turn (at once
    /// if the port's batch is full). The engine owns the buffer from here and releases it after sending.
    /// Engine thread only. False (nothing queued) if the port is not this engine's or the buffer is already queued.
    /// </summary>
    public bool Send(PacketPort port, PacketBuffer buffer)
    {
        if (!ReferenceEquals(port.Owner, this) || buffer.Queued)
        {
            _sendRejected++;
            return false;
        }

        // Listed once per turn even if an early flush (full batch) emptied the queue in between.
        var queue = port.SendQueue;
        if (!queue.Listed)
        {
            queue.Listed = true;
            _dirty[_dirtyCount++] = port;
        }

        buffer.Queued = true;
        queue.Add(buffer);
        if (queue.IsFull)
        {
            FlushPort(port);
        }

        return true;
    }

    /// <summary>Runs <paramref name="action"/> on the engine thread at its next turn; any thread.</summary>
    public void Post(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _posted.Enqueue(action);
        Wake();
    }

    /// <summary>Makes the loop run a turn now (posted work, due timers); any thread.</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) != 0)
        {
            return;
        }

        ulong one = 1;
        _ = Libc.write(_wakeFd, &one, sizeof(ulong));
    }

    /// <summary>
    /// Runs <paramref name="callback"/> on the engine thread every <paramref name="period"/> of
    /// <see cref="Time"/>, first one period from now. The loop sleeps in epoll_wait until the earliest
    /// timer; with a test clock, advance it and call <see cref="Wake"/>. Before Start or on the engine thread.
    /// </summary>
    public EngineTimer AddTimer(TimeSpan period, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        EnsureEngineThread();
        var ticks = Math.Max(1, (long)(period.TotalSeconds * _time.TimestampFrequency));
        var timer = new EngineTimer(ticks, _time.GetTimestamp() + ticks, callback);
        _timers = [.. _timers.Where(t => !t.IsCancelled), timer];
        return timer;
    }

    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException($"{Name} is already started");
        }

        _thread.Start();
    }

    /// <summary>Ends the loop after its current turn (sending what is queued) and waits for the thread.</summary>
    public void Stop()
    {
        _stopping = true;
        Wake();
        if (Volatile.Read(ref _started) != 0 && !IsEngineThread)
        {
            _thread.Join();
        }
    }

    public void Dispose()
    {
        Stop();
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        for (var i = 0; i < _registrations.Length; i++)
        {
            if (_registrations[i] is { } registration)
            {
                registration.Port.SendQueue.ReleaseAll();
                registration.ReleaseSlots();
                registration.Port.Owner = null;
                _registrations[i] = null;
            }
        }

        _ = Libc.close(_wakeFd);
        _ = Libc.close(_epollFd);
        NativeMemory.Free(_events);
    }

    private Registration Attach(PacketPort port)
    {
        ArgumentNullException.ThrowIfNull(port);
        EnsureEngineThread();
        if (port.Owner is not null)
        {
            throw new InvalidOperationException($"{port.Name} is already registered with an engine");
        }

        var token = Array.IndexOf(_registrations, null);
        if (token < 0)
        {
            token = _registrations.Length;
            Array.Resize(ref _registrations, token * 2);
        }

        var registration = new Registration(this, port, token);
        _registrations[token] = registration;
        if (_dirty.Length < _registrations.Length)
        {
            Array.Resize(ref _dirty, _registrations.Length);
        }

        port.Owner = this;
        return registration;
    }

    private void AddToEpoll(int fd, ulong token, string what)
    {
        var ev = new EpollEvent { Events = Libc.EPOLLIN, Data = token };
        if (Libc.epoll_ctl(_epollFd, Libc.EPOLL_CTL_ADD, fd, &ev) != 0)
        {
            throw InteropException.FromLastError($"epoll_ctl(ADD, {what})");
        }
    }

    private void EnsureEngineThread()
    {
        if (Volatile.Read(ref _started) != 0 && !IsEngineThread)
        {
            throw new InvalidOperationException($"{Name} is running: register ports and timers from its thread (Post)");
        }
    }

    private void Run()
    {
        ThreadId = Libc.gettid();
        while (!_stopping)
        {
            var ready = Wait();
            if (ready < 0)
            {
                var errno = Libc.LastErrno;
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                // EBADF/EINVAL/EFAULT: the epoll fd or the event buffer is gone under a running loop.
                // Nothing sensible can continue; fail loudly rather than spin or stop forwarding silently.
                Environment.FailFast($"{Name}: epoll_wait failed with {errno}; the engine cannot continue");
            }

            for (var i = 0; i < ready; i++)
            {
                var token = _events[i].Data;
                if (token == WakeToken)
                {
                    Volatile.Write(ref _wakePending, 0);
                    ulong value;
                    _ = Libc.read(_wakeFd, &value, sizeof(ulong));
                    continue;
                }

                if (token < (ulong)_registrations.Length && _registrations[token] is { Handler: not null } registration)
                {
                    registration.LastReceived = Service(registration);
                    registration.LastTurn = _turns;

                    // One frame per wakeup is sparse traffic: polling would cost two more wakeups per frame. Two or
                    // more waited together, so frames come faster than a wakeup takes: poll.
                    if (registration.PollInterval is not null && !registration.Polling && registration.LastReceived >= 2)
                    {
                        StartPolling(registration);
                    }
                }
            }

            Poll();
            RunPosted();
            RunTimers();
            Flush();
            Volatile.Write(ref _turns, _turns + 1);
        }

        RunPosted();
        Flush();
    }

    /// <summary>Reads one batch from the port and hands it to its handler; returns how many packets it read.</summary>
    private int Service(Registration registration)
    {
        var available = registration.Refill(_pool);
        if (available < PacketPort.MaxBatch)
        {
            _rxPoolExhausted++;
            if (available == 0)
            {
                return 0;
            }
        }

        var received = registration.Port.Receive(registration.Slots.AsSpan(0, available));
        if (received == 0)
        {
            return 0;
        }

        var batch = registration.Batch;
        batch.Count = received;
        try
        {
            registration.Handler!(batch);
        }
#pragma warning disable CA1031 // A handler bug must not stop forwarding for every other port; it is counted and kept.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _handlerFaults++;
            LastFault = ex;
        }

        registration.Settle(received);
        return received;
    }

    /// <summary>
    /// Reads every polling port not read this turn already. A port that two reads in a row found empty goes back to
    /// epoll (level-triggered: a frame that arrived in between is reported at the next wait). A handler may unregister
    /// ports, its own included, which reorders the polling set under this loop: the scan then starts over, and the ports
    /// already read this turn are passed by their turn stamp, so none is skipped and none read twice.
    /// </summary>
    private void Poll()
    {
        for (var i = 0; i < _pollingCount; i++)
        {
            var registration = _polling[i];
            if (registration.LastTurn == _turns)
            {
                continue;
            }

            var version = _pollingVersion;
            registration.LastReceived = Service(registration);
            registration.LastTurn = _turns;
            if (version != _pollingVersion)
            {
                i = -1;
                if (!registration.Polling)
                {
                    continue;
                }
            }

            registration.EmptyReads = registration.LastReceived == 0 ? registration.EmptyReads + 1 : 0;
            if (registration.EmptyReads >= 2)
            {
                StopPolling(registration);
                var ev = new EpollEvent { Events = Libc.EPOLLIN, Data = (ulong)registration.Token };
                if (Libc.epoll_ctl(_epollFd, Libc.EPOLL_CTL_MOD, registration.Port.Fd, &ev) != 0)
                {
                    Environment.FailFast($"{Name}: epoll_ctl(MOD, {registration.Port.Name}) failed with {Libc.LastErrno}; the port would never be read again");
                }

                i = -1;
            }
        }
    }

    private void StartPolling(Registration registration)
    {
        // Events 0: the fd stays in the epoll set (EPOLLERR/EPOLLHUP still report) but readiness no longer wakes us.
        var ev = new EpollEvent { Events = 0, Data = (ulong)registration.Token };
        if (Libc.epoll_ctl(_epollFd, Libc.EPOLL_CTL_MOD, registration.Port.Fd, &ev) != 0)
        {
            return;
        }

        if (_pollingCount == _polling.Length)
        {
            Array.Resize(ref _polling, _polling.Length * 2);
        }

        _polling[_pollingCount++] = registration;
        _pollingVersion++;
        registration.Polling = true;
        registration.EmptyReads = 0;
    }

    private void StopPolling(Registration registration)
    {
        var index = Array.IndexOf(_polling, registration, 0, _pollingCount);
        if (index < 0)
        {
            return;
        }

        _polling[index] = _polling[--_pollingCount];
        _polling[_pollingCount] = null!;
        _pollingVersion++;
        registration.Polling = false;
    }

    /// <summary>
    /// epoll_wait until the next timer, a posted action or readiness; while ports are polled, at most until the next
    /// poll (0 if a poll filled its batch: more is waiting), through epoll_pwait2 for the sub-millisecond interval.
    /// </summary>
    private int Wait()
    {
        var timeoutMs = NextTimeoutMs();
        if (_pollingCount == 0 || timeoutMs == 0)
        {
            return Libc.epoll_wait(_epollFd, _events, MaxEvents, timeoutMs);
        }

        var interval = long.MaxValue;
        for (var i = 0; i < _pollingCount; i++)
        {
            var registration = _polling[i];
            interval = registration.LastReceived >= PacketPort.MaxBatch ? 0 : Math.Min(interval, registration.PollIntervalNs);
        }

        if (timeoutMs > 0)
        {
            interval = Math.Min(interval, timeoutMs * 1_000_000L);
        }

        var timeout = new Timespec { Seconds = interval / 1_000_000_000, Nanoseconds = interval % 1_000_000_000 };
        return Libc.epoll_pwait2(_epollFd, _events, MaxEvents, &timeout, null);
    }

    private void RunPosted()
    {
        while (_posted.TryDequeue(out var action))
        {
            RunGuarded(action);
        }
    }

    private void RunGuarded(Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // Same as handlers: count and keep the loop alive.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _handlerFaults++;
            LastFault = ex;
        }
    }

    private void RunTimers()
    {
        var timers = _timers;
        if (timers.Length == 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        foreach (var timer in timers)
        {
            if (timer.IsCancelled || now < timer.Due)
            {
                continue;
            }

            // After a stall the timer runs once, not once per missed period.
            timer.Due = Math.Max(timer.Due + timer.Period, now + 1);
            RunGuarded(timer.Callback);
        }
    }

    private int NextTimeoutMs()
    {
        if (!_posted.IsEmpty)
        {
            return 0;
        }

        var timers = _timers;
        var due = long.MaxValue;
        foreach (var timer in timers)
        {
            if (!timer.IsCancelled && timer.Due < due)
            {
                due = timer.Due;
            }
        }

        if (due == long.MaxValue)
        {
            return -1;
        }

        var wait = due - _time.GetTimestamp();
        if (wait <= 0)
        {
            return 0;
        }

        // Round up so the loop never wakes a hair early and spins once for nothing.
        var ms = ((wait * 1000) + _time.TimestampFrequency - 1) / _time.TimestampFrequency;
        return (int)Math.Min(ms, int.MaxValue);
    }

    private void Flush()
    {
        for (var i = 0; i < _dirtyCount; i++)
        {
            var port = _dirty[i];
            FlushPort(port);
            port.SendQueue.Listed = false;
            _dirty[i] = null!;
        }

        _dirtyCount = 0;
    }

    private static void FlushPort(PacketPort port)
    {
        var queue = port.SendQueue;
        if (queue.Count == 0)
        {
            return;
        }

        _ = port.Send(queue.Items);
        queue.ReleaseAll();
    }

    private sealed class Registration
    {
        public Registration(EpollEngine engine, PacketPort port, int token)
        {
            Port = port;
            Token = token;
            PollInterval = port.PollInterval;
            Slots = new PacketBuffer[PacketPort.MaxBatch];
            Batch = new PacketBatch(engine, port, Slots);
        }

        public PacketPort Port { get; }

        public int Token { get; }

        /// <summary>The port's <see cref="PacketPort.PollInterval"/>, read once at registration.</summary>
        public TimeSpan? PollInterval { get; }

        public long PollIntervalNs => (long)(PollInterval ?? TimeSpan.Zero).TotalNanoseconds;

        /// <summary>Out of epoll's readiness and read every turn.</summary>
        public bool Polling { get; set; }

        public int EmptyReads { get; set; }

        public int LastReceived { get; set; }

        public long LastTurn { get; set; } = -1;

        public PacketBatchHandler? Handler { get; set; }

        /// <summary>Receive buffers kept rented between turns; a slot is refilled after its buffer was sent or taken.</summary>
        public PacketBuffer[] Slots { get; }

        public PacketBatch Batch { get; }

        /// <summary>Rents buffers for empty slots; returns how many leading slots are ready.</summary>
        public int Refill(BufferPool pool)
        {
            for (var i = 0; i < Slots.Length; i++)
            {
                if (Slots[i] is null)
                {
                    if (!pool.TryRent(out var buffer))
                    {
                        return i;
                    }

                    Slots[i] = buffer;
                }
            }

            return Slots.Length;
        }

        /// <summary>After the handler: buffers it queued or took leave their slots, the rest are reused.</summary>
        public void Settle(int received)
        {
            for (var i = 0; i < received; i++)
            {
                var buffer = Slots[i];
                if (buffer is null)
                {
                    continue;
                }

                // Queued: waits in a send batch. InPool: a full send batch was flushed (and released)
                // while the handler was still running. Either way the slot no longer owns it.
                if (buffer.Queued || buffer.InPool)
                {
                    Slots[i] = null!;
                }
            }
        }

        public void ReleaseSlots()
        {
            for (var i = 0; i < Slots.Length; i++)
            {
                if (Slots[i] is { Queued: false } buffer)
                {
                    buffer.Release();
                }

                Slots[i] = null!;
            }
        }
    }
}

/// <summary>A periodic callback on an engine thread; <see cref="Cancel"/> from any thread.</summary>
internal sealed class EngineTimer
{
    private volatile bool _cancelled;

    internal EngineTimer(long period, long due, Action callback)
    {
        Period = period;
        Due = due;
        Callback = callback;
    }

    internal long Period { get; }

    internal long Due { get; set; }

    internal Action Callback { get; }

    public bool IsCancelled => _cancelled;

    public void Cancel() => _cancelled = true;
}
