using System.Security.Cryptography;

namespace Dva.Shared.Security;

/// <summary>The AEAD a DVA's tunnel uses (docs/protocol.md, "Secure mode in detail").</summary>
public enum AeadAlgorithm : byte
{
    /// <summary>AES-256-GCM, 16-byte tag: the default, fast wherever the CPU has AES instructions.</summary>
    Aes256Gcm = 0,

    /// <summary>ChaCha20-Poly1305, 16-byte tag: for CPUs without AES instructions (<see cref="ChaCha20Poly1305.IsSupported"/>).</summary>
    ChaCha20Poly1305 = 1,
}

/// <summary>
/// One tunnel key of a DVA: 32 secret bytes, an id (so nodes and the manager can say which key a phase holds
/// without showing it) and the algorithm. Immutable; the manager makes new ones with <see cref="Generate"/>.
/// </summary>
public sealed class TunnelKey
{
    /// <summary>Length of the key material: 256 bits for both algorithms.</summary>
    public const int Length = 32;

    private readonly byte[] _material;

    /// <summary>A key from material delivered by the manager.</summary>
    public TunnelKey(uint id, AeadAlgorithm algorithm, ReadOnlySpan<byte> material)
    {
        if (material.Length != Length)
        {
            throw new ArgumentException($"a tunnel key is {Length} bytes, not {material.Length}", nameof(material));
        }

        if (algorithm is not (AeadAlgorithm.Aes256Gcm or AeadAlgorithm.ChaCha20Poly1305))
        {
            throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "unknown AEAD algorithm");
        }

        Id = id;
        Algorithm = algorithm;
        _material = material.ToArray();
    }

    /// <summary>Names the key in logs and hub messages; never derived from the material.</summary>
    public uint Id { get; }

    /// <summary>The AEAD this key is used with.</summary>
    public AeadAlgorithm Algorithm { get; }

    /// <summary>The secret bytes (to deliver the key to a node over the authenticated control channel).</summary>
    public ReadOnlySpan<byte> Material => _material;

    /// <summary>A new key: 32 bytes and an id from the system's cryptographic random source.</summary>
    public static TunnelKey Generate(AeadAlgorithm algorithm = AeadAlgorithm.Aes256Gcm)
    {
        Span<byte> material = stackalloc byte[Length];
        RandomNumberGenerator.Fill(material);
        var id = (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue);
        var key = new TunnelKey(id, algorithm, material);
        CryptographicOperations.ZeroMemory(material);
        return key;
    }

    /// <summary>Id and algorithm only: the material never reaches a log.</summary>
    public override string ToString() => $"key {Id:x8} ({Algorithm})";
}
