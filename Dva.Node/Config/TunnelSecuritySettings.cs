using Dva.Shared.Security;

namespace Dva.Node.Config;

/// <summary>
/// The validated <c>tunnel.security</c> section: mode, cipher, and the keys a statically configured node starts with
/// (a managed node gets its keys over the hub instead).
/// </summary>
internal sealed record TunnelSecuritySettings(TunnelSecurityMode Mode, AeadAlgorithm Cipher, IReadOnlyList<(int Phase, TunnelKey Key)> Keys, int SendPhase)
{
    public static TunnelSecuritySettings Plain { get; } = new(TunnelSecurityMode.Plain, AeadAlgorithm.Aes256Gcm, [], 0);

    /// <summary>SEQ and TAG: what a secure datagram carries more than a plain one.</summary>
    public int Overhead => Mode == TunnelSecurityMode.Plain ? 0 : Shared.Wire.TunnelLayout.SeqLength + Shared.Wire.TunnelLayout.TagLength;

    /// <summary>Installs the configured keys into <paramref name="ring"/> and selects the send phase.</summary>
    public void InstallInto(TunnelKeyRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        foreach (var (phase, key) in Keys)
        {
            ring.Install(phase, key);
        }

        if (Keys.Count > 0)
        {
            _ = ring.UseForSending(SendPhase);
        }
    }

    internal static TunnelSecuritySettings Validate(TunnelSecurityConfig c, List<string> errors)
    {
        var before = errors.Count;
        if (!TunnelSecurityNames.TryParseMode(c.Mode, out var mode))
        {
            errors.Add($"tunnel.security.mode: '{c.Mode}' is not a mode (plain, authenticated or encrypted)");
        }

        if (!TunnelSecurityNames.TryParseCipher(c.Cipher, out var cipher))
        {
            errors.Add($"tunnel.security.cipher: '{c.Cipher}' is not a cipher (aes-gcm or chacha20)");
        }

        var keys = new List<(int, TunnelKey)>();
        var phases = new HashSet<int>();
        for (var i = 0; i < c.Keys.Count; i++)
        {
            var k = c.Keys[i];
            var at = $"tunnel.security.keys[{i}]";
            if (k.Phase is not (0 or 1))
            {
                errors.Add($"{at}.phase: {k.Phase} is not a key phase (0 or 1)");
                continue;
            }

            if (!phases.Add(k.Phase))
            {
                errors.Add($"{at}.phase: phase {k.Phase} has another key");
            }

            if (k.Id == 0)
            {
                errors.Add($"{at}.id: required (1 or more)");
            }

            // The value is never echoed: an error message must not leak (part of) a key into a log.
            var material = new byte[TunnelKey.Length];
            if (k.Key is null || !Convert.TryFromBase64String(k.Key, material, out var written) || written != TunnelKey.Length)
            {
                errors.Add($"{at}.key: must be {TunnelKey.Length} bytes in base64");
                continue;
            }

            keys.Add((k.Phase, new TunnelKey(k.Id, cipher, material)));
            Array.Clear(material);
        }

        if (c.SendPhase is not (0 or 1))
        {
            errors.Add($"tunnel.security.sendPhase: {c.SendPhase} is not a key phase (0 or 1)");
        }
        else if (keys.Count > 0 && !phases.Contains(c.SendPhase))
        {
            errors.Add($"tunnel.security.sendPhase: phase {c.SendPhase} has no key");
        }

        if (mode == TunnelSecurityMode.Plain && c.Keys.Count > 0)
        {
            errors.Add("tunnel.security.keys: keys are given but the mode is plain");
        }

        return errors.Count > before ? Plain : new TunnelSecuritySettings(mode, cipher, keys, c.SendPhase);
    }
}
