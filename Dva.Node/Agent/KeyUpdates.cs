using Dva.Shared.Contracts;
using Dva.Shared.Security;

namespace Dva.Node.Agent;

/// <summary>Applies the manager's key steps (<see cref="KeyUpdate"/>) to a node's key ring, refusing what would break the tunnel.</summary>
internal static class KeyUpdates
{
    /// <summary>Applies <paramref name="update"/> in order (install, send phase, retire); null on success, else why nothing changed after the failing step.</summary>
    public static string? Apply(TunnelKeyRing keys, KeyUpdate update)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(update);
        if (update.Key is { } k)
        {
            if (k.Phase is not (0 or 1))
            {
                return $"key phase {k.Phase} is not 0 or 1";
            }

            if (!TunnelSecurityNames.TryParseCipher(k.Cipher, out var cipher))
            {
                return $"cipher '{k.Cipher}' is not aes-gcm or chacha20";
            }

            if (k.Material is not { Length: TunnelKey.Length })
            {
                return $"a tunnel key is {TunnelKey.Length} bytes";
            }

            var held = keys.KeyOf(k.Phase);
            if (k.Phase == keys.SendPhase && held is not null && held.Id != k.KeyId)
            {
                // Replacing the key in use would drop every packet in flight: rotation installs into the spare phase.
                return $"phase {k.Phase} is the send phase; a new key goes into the other phase";
            }

            if (held?.Id != k.KeyId)
            {
                keys.Install(k.Phase, new TunnelKey(k.KeyId, cipher, k.Material));
            }
        }

        if (update.SendPhase is { } send && (send is not (0 or 1) || !keys.UseForSending(send)))
        {
            return $"phase {send} has no key to send with";
        }

        if (update.RetirePhase is { } retire && (retire is not (0 or 1) || !keys.Retire(retire)))
        {
            return $"phase {retire} is the send phase and cannot be retired";
        }

        return null;
    }

    /// <summary>The ack of <paramref name="update"/>: what the ring holds now, by key id.</summary>
    public static KeyAck Ack(TunnelKeyRing keys, KeyUpdate update, ushort nodeId, string? error) =>
        new(update.DvaId, update.Sequence, nodeId, error is null, error, keys.SendPhase, keys.KeyOf(0)?.Id ?? 0, keys.KeyOf(1)?.Id ?? 0);
}
