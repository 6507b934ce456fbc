using System.Security.Cryptography;
using Dva.Shared.Wire;

namespace Dva.Shared.Security;

/// <summary>
/// One key's AEAD instance, built once per key per engine thread: AesGcm and ChaCha20Poly1305 keep the
/// expanded key (no allocation per call) but are not thread-safe. Both take the datagram's own spans, so
/// sealing and opening happen in place.
/// </summary>
internal sealed class AeadCipher : IDisposable
{
    private readonly AesGcm? _aes;
    private readonly ChaCha20Poly1305? _chacha;

    public AeadCipher(TunnelKey key)
    {
        Key = key;
        if (key.Algorithm == AeadAlgorithm.ChaCha20Poly1305)
        {
            _chacha = new ChaCha20Poly1305(key.Material);
        }
        else
        {
            _aes = new AesGcm(key.Material, TunnelLayout.TagLength);
        }
    }

    public TunnelKey Key { get; }

    public void Encrypt(ReadOnlySpan<byte> nonce, Span<byte> payload, Span<byte> tag, ReadOnlySpan<byte> aad)
    {
        if (_aes is not null)
        {
            _aes.Encrypt(nonce, payload, payload, tag, aad);
        }
        else
        {
            _chacha!.Encrypt(nonce, payload, payload, tag, aad);
        }
    }

    /// <summary>
    /// Decrypts in place. The platform reports a bad tag only by exception; that costs an allocation, but
    /// only on packets that are forged or damaged, after every cheaper check (phase, replay window) passed.
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, Span<byte> payload, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> aad)
    {
        try
        {
            if (_aes is not null)
            {
                _aes.Decrypt(nonce, payload, tag, payload, aad);
            }
            else
            {
                _chacha!.Decrypt(nonce, payload, tag, payload, aad);
            }

            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
    }
}

/// <summary>The two per-phase ciphers of one engine thread, rebuilt only when the ring's key for a phase changes.</summary>
internal struct PhaseCiphers : IDisposable
{
    private AeadCipher? _phase0;
    private AeadCipher? _phase1;

    public AeadCipher? For(TunnelKey? key, int phase)
    {
        ref var slot = ref phase == 0 ? ref _phase0 : ref _phase1;
        if (key is null)
        {
            return null;
        }

        if (!ReferenceEquals(slot?.Key, key))
        {
            slot?.Dispose();
            slot = new AeadCipher(key);
        }

        return slot;
    }

    public void Dispose()
    {
        _phase0?.Dispose();
        _phase1?.Dispose();
        _phase0 = null;
        _phase1 = null;
    }
}
