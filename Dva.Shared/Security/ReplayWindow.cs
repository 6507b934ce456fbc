namespace Dva.Shared.Security;

/// <summary>
/// Sliding anti-replay window of one sender (RFC 6479): a ring of 64-bit blocks, of which all but one are
/// always usable, so SEQs up to <see cref="Size"/> behind the highest accepted one are checked exactly and
/// advancing the window clears whole blocks instead of shifting bits. Thread-safe: engine threads of one
/// receiver share it, so a replayed packet cannot slip through by arriving on another socket.
/// </summary>
internal sealed class ReplayWindow
{
    private const int Blocks = 32;
    private const int BlockBits = 64;

    /// <summary>How far behind the highest accepted SEQ a packet is still accepted (DESIGN.md §2 asks ≥ 1024).</summary>
    public const int Size = (Blocks - 1) * BlockBits;

    private readonly Lock _lock = new();
    private readonly ulong[] _bitmap = new ulong[Blocks];
    private ulong _top;

    /// <summary>Whether <paramref name="seq"/> could be accepted; changes nothing (run before the tag check).</summary>
    public SecureError Check(ulong seq)
    {
        lock (_lock)
        {
            return CheckLocked(seq);
        }
    }

    /// <summary>Records an authenticated <paramref name="seq"/>; fails if another thread accepted it first or the window moved past it.</summary>
    public SecureError TryAccept(ulong seq)
    {
        lock (_lock)
        {
            var error = CheckLocked(seq);
            if (error != SecureError.None)
            {
                return error;
            }

            if (seq > _top)
            {
                var newBlock = seq / BlockBits;
                var clear = Math.Min(newBlock - (_top / BlockBits), Blocks);
                for (var i = 1UL; i <= clear; i++)
                {
                    _bitmap[(int)(((_top / BlockBits) + i) % Blocks)] = 0;
                }

                _top = seq;
            }

            _bitmap[(int)(seq / BlockBits % Blocks)] |= 1UL << (int)(seq % BlockBits);
            return SecureError.None;
        }
    }

    private SecureError CheckLocked(ulong seq)
    {
        if (seq > _top)
        {
            return SecureError.None;
        }

        if (_top - seq >= Size)
        {
            return SecureError.TooOld;
        }

        return (_bitmap[(int)(seq / BlockBits % Blocks)] & (1UL << (int)(seq % BlockBits))) != 0
            ? SecureError.Replayed
            : SecureError.None;
    }
}
