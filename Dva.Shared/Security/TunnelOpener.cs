using System.Security.Cryptography;
using Dva.Shared.Wire;

namespace Dva.Shared.Security;

/// <summary>
/// Verifies and decrypts secure tunnel datagrams in place for one receiver (docs/protocol.md, "Secure mode in
/// detail"). One per engine thread (the AEAD instances are not thread-safe); the key ring and the replay guard
/// are shared by all threads of the node. Checks, cheapest first: S set, a key for FLAGS.K, SEQ inside the
/// sender's replay window and not seen, the TAG; only an authentic packet moves the window.
/// Zero allocation per accepted packet.
/// </summary>
public sealed class TunnelOpener : IDisposable
{
    private readonly TunnelKeyRing _keys;
    private readonly ReplayGuard _replay;
    private PhaseCiphers _ciphers;

    /// <summary>An opener taking keys from <paramref name="keys"/> and remembering SEQs in <paramref name="replay"/>.</summary>
    public TunnelOpener(TunnelKeyRing keys, ReplayGuard replay)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(replay);
        _keys = keys;
        _replay = replay;
    }

    /// <summary>
    /// Opens <paramref name="datagram"/>, whose header <see cref="TunnelHeader.TryRead"/> accepted as
    /// <paramref name="header"/>. On success the payload is plaintext and <paramref name="opened"/> is the header
    /// read again (with E, the VLAN TCI read before opening was ciphertext). On failure the datagram must be
    /// dropped: a bad tag with E set leaves the payload zeroed. Never throws.
    /// </summary>
    public SecureError Open(Span<byte> datagram, in TunnelHeader header, out TunnelHeader opened)
    {
        opened = default;
        if (!header.IsSecure)
        {
            return SecureError.NotSecure;
        }

        if (header.DatagramLength != datagram.Length || header.TagOffset + TunnelLayout.TagLength != datagram.Length)
        {
            return SecureError.BadHeader;
        }

        var snapshot = _keys.Current;
        var phase = (header.Flags & TunnelFlags.KeyPhase) != 0 ? 1 : 0;
        var cipher = _ciphers.For(snapshot.KeyOf(phase), phase);
        if (cipher is null)
        {
            return SecureError.UnknownKeyPhase;
        }

        var window = _replay.For(header.HNode);
        var error = window.Check(header.Seq);
        if (error != SecureError.None)
        {
            return error;
        }

        Span<byte> nonce = stackalloc byte[TunnelSecurity.NonceLength];
        TunnelSecurity.TryWriteNonce(nonce, header.HNode, header.Seq);
        var tag = datagram.Slice(header.TagOffset, TunnelLayout.TagLength);
        var encrypted = (header.Flags & TunnelFlags.Encrypted) != 0;
        if (encrypted)
        {
            if (!cipher.TryDecrypt(nonce, datagram.Slice(header.PayloadOffset, header.PayloadLength), tag, datagram[..header.AadLength]))
            {
                return SecureError.BadTag;
            }
        }
        else
        {
            Span<byte> expected = stackalloc byte[TunnelLayout.TagLength];
            cipher.Encrypt(nonce, [], expected, datagram[..header.TagOffset]);
            if (!CryptographicOperations.FixedTimeEquals(expected, tag))
            {
                return SecureError.BadTag;
            }
        }

        error = window.TryAccept(header.Seq);
        if (error != SecureError.None)
        {
            return error;
        }

        if (!encrypted)
        {
            opened = header;
            return SecureError.None;
        }

        return TunnelHeader.TryRead(datagram, out opened) == WireError.None ? SecureError.None : SecureError.BadHeader;
    }

    /// <summary>Releases the AEAD instances (their expanded keys).</summary>
    public void Dispose() => _ciphers.Dispose();
}
