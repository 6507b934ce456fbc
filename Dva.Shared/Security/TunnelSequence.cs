namespace Dva.Shared.Security;

/// <summary>
/// The SEQ counter of one sender (HNODE), shared by all its engine threads: every sealed packet takes the
/// next value, so a nonce (HNODE ‖ SEQ) never repeats under one key. Starting from the Unix time in
/// nanoseconds keeps SEQ increasing across a restart of the node with the same key, as long as the node sends
/// fewer than 10⁹ packets a second on average (and its clock does not go back).
/// </summary>
public sealed class TunnelSequence
{
    private long _next;

    /// <summary>A counter whose first SEQ is <paramref name="first"/>.</summary>
    public TunnelSequence(ulong first) => _next = unchecked((long)first);

    /// <summary>The SEQ the next packet will take.</summary>
    public ulong Peek => unchecked((ulong)Volatile.Read(ref _next));

    /// <summary>A counter starting at the current Unix time in nanoseconds.</summary>
    public static TunnelSequence StartingNow(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var ticks = time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        return new TunnelSequence((ulong)ticks * 100);
    }

    /// <summary>Takes the next SEQ; false once the 64-bit space is used up (ulong.MaxValue is never handed out).</summary>
    internal bool TryNext(out ulong seq)
    {
        // A compare-and-swap loop rather than Interlocked.Increment so that exhaustion sticks instead of wrapping to 0.
        var current = Volatile.Read(ref _next);
        while (true)
        {
            seq = unchecked((ulong)current);
            if (seq == ulong.MaxValue)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _next, unchecked(current + 1), current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }
}
