namespace Dva.Shared.Security;

/// <summary>How a DVA's units protect the tunnel between them (DESIGN.md §2; docs/protocol.md, "Secure mode in detail").</summary>
public enum TunnelSecurityMode : byte
{
    /// <summary>No SEQ, no TAG: a receiver trusts HNODE only when the source address is that peer's endpoint.</summary>
    Plain = 0,

    /// <summary>FLAGS.S: every datagram carries SEQ and an AEAD TAG over all of it; the inner frame stays readable.</summary>
    Authenticated = 1,

    /// <summary>FLAGS.S and FLAGS.E: as authenticated, and the VLAN TCI and inner frame are encrypted (CONTROL probes are only authenticated).</summary>
    Encrypted = 2,
}

/// <summary>The names of modes and ciphers as configuration files, the REST API and the hub spell them.</summary>
public static class TunnelSecurityNames
{
    /// <summary>The mode's name: <c>plain</c>, <c>authenticated</c> or <c>encrypted</c>.</summary>
    public static string Name(TunnelSecurityMode mode) => mode switch
    {
        TunnelSecurityMode.Authenticated => "authenticated",
        TunnelSecurityMode.Encrypted => "encrypted",
        _ => "plain",
    };

    /// <summary>The cipher's name: <c>aes-gcm</c> or <c>chacha20</c>.</summary>
    public static string Name(AeadAlgorithm algorithm) => algorithm == AeadAlgorithm.ChaCha20Poly1305 ? "chacha20" : "aes-gcm";

    /// <summary>Reads a mode name (case-insensitive); null or empty is plain.</summary>
    public static bool TryParseMode(string? text, out TunnelSecurityMode mode)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case null or "" or "plain":
                mode = TunnelSecurityMode.Plain;
                return true;
            case "authenticated":
                mode = TunnelSecurityMode.Authenticated;
                return true;
            case "encrypted":
                mode = TunnelSecurityMode.Encrypted;
                return true;
            default:
                mode = TunnelSecurityMode.Plain;
                return false;
        }
    }

    /// <summary>Reads a cipher name (case-insensitive); null or empty is AES-256-GCM.</summary>
    public static bool TryParseCipher(string? text, out AeadAlgorithm algorithm)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case null or "" or "aes-gcm" or "aes-256-gcm" or "aes256gcm":
                algorithm = AeadAlgorithm.Aes256Gcm;
                return true;
            case "chacha20" or "chacha20-poly1305" or "chacha20poly1305":
                algorithm = AeadAlgorithm.ChaCha20Poly1305;
                return true;
            default:
                algorithm = AeadAlgorithm.Aes256Gcm;
                return false;
        }
    }
}
