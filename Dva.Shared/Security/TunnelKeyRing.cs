namespace Dva.Shared.Security;

/// <summary>
/// The tunnel keys a node holds: one per key phase (FLAGS.K = 0 or 1) and the phase it sends with.
/// Shared by every engine thread of the node; the control thread changes it, engine threads read one
/// immutable snapshot per packet through a volatile field (no lock on the data path).
/// Rotation (DESIGN.md §2; docs/protocol.md): the manager installs the new key as the other phase on every
/// node, and only when all have acked tells them to send with it; receivers accept both phases meanwhile,
/// so no packet in flight is lost. The old phase is retired (or simply overwritten by the next rotation) later.
/// </summary>
public sealed class TunnelKeyRing
{
    private readonly Lock _write = new();
    private volatile Snapshot _current = new(null, null, 0);

    /// <summary>The key of <paramref name="phase"/>, or null.</summary>
    public TunnelKey? KeyOf(int phase) => _current.KeyOf(phase);

    /// <summary>The phase senders use now (0 or 1).</summary>
    public int SendPhase => _current.SendPhase;

    internal Snapshot Current => _current;

    /// <summary>Installs <paramref name="key"/> as <paramref name="phase"/>; both phases stay acceptable to receivers.</summary>
    public void Install(int phase, TunnelKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        CheckPhase(phase);
        lock (_write)
        {
            var c = _current;
            _current = phase == 0 ? c with { Key0 = key } : c with { Key1 = key };
        }
    }

    /// <summary>Makes senders use <paramref name="phase"/>; its key must be installed (false otherwise, nothing changes).</summary>
    public bool UseForSending(int phase)
    {
        CheckPhase(phase);
        lock (_write)
        {
            var c = _current;
            if (c.KeyOf(phase) is null)
            {
                return false;
            }

            _current = c with { SendPhase = phase };
            return true;
        }
    }

    /// <summary>Forgets the key of <paramref name="phase"/> (not the send phase): its packets become <see cref="SecureError.UnknownKeyPhase"/>.</summary>
    public bool Retire(int phase)
    {
        CheckPhase(phase);
        lock (_write)
        {
            var c = _current;
            if (c.SendPhase == phase)
            {
                return false;
            }

            _current = phase == 0 ? c with { Key0 = null } : c with { Key1 = null };
            return true;
        }
    }

    private static void CheckPhase(int phase)
    {
        if (phase is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(phase), phase, "the key phase is one bit (0 or 1)");
        }
    }

    internal sealed record Snapshot(TunnelKey? Key0, TunnelKey? Key1, int SendPhase)
    {
        public TunnelKey? KeyOf(int phase) => phase == 0 ? Key0 : Key1;
    }
}
