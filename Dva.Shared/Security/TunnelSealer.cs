using System.Buffers.Binary;
using Dva.Shared.Wire;

namespace Dva.Shared.Security;

/// <summary>
/// Seals secure tunnel datagrams in place for one sender (docs/protocol.md, "Secure mode in detail"). One per
/// engine thread (the AEAD instances are not thread-safe); the key ring and the SEQ counter are shared by all
/// threads of the node. Zero allocation per packet: ciphers are built once per key.
/// </summary>
public sealed class TunnelSealer : IDisposable
{
    private readonly TunnelKeyRing _keys;
    private readonly TunnelSequence _sequence;
    private PhaseCiphers _ciphers;

    /// <summary>A sealer taking keys from <paramref name="keys"/> and SEQs from <paramref name="sequence"/>.</summary>
    public TunnelSealer(TunnelKeyRing keys, TunnelSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(sequence);
        _keys = keys;
        _sequence = sequence;
    }

    /// <summary>
    /// Seals <paramref name="datagram"/>, a whole secure datagram as <see cref="TunnelWriter"/> (or a forwarding
    /// <see cref="TunnelRewriter"/>) left it, TAG room included: sets FLAGS.K to the send phase, writes the next
    /// SEQ, then either encrypts the payload (VLAN TCI and frame) and writes the TAG (E set), or writes a TAG over
    /// the whole datagram up to the TAG as associated data (E clear). Never throws.
    /// </summary>
    public SecureError Seal(Span<byte> datagram, out ulong seq)
    {
        seq = 0;
        var error = TunnelHeader.TryRead(datagram, out var header);
        if (error != WireError.None)
        {
            return SecureError.BadHeader;
        }

        if (!header.IsSecure)
        {
            return SecureError.NotSecure;
        }

        var encrypted = (header.Flags & TunnelFlags.Encrypted) != 0;
        if (encrypted && header.Type == TunnelType.Control)
        {
            return SecureError.EncryptedControl;
        }

        var snapshot = _keys.Current;
        var phase = snapshot.SendPhase;
        var cipher = _ciphers.For(snapshot.KeyOf(phase), phase);
        if (cipher is null)
        {
            return SecureError.NoSendKey;
        }

        if (!_sequence.TryNext(out seq))
        {
            return SecureError.SequenceExhausted;
        }

        var flags = datagram[0];
        datagram[0] = (byte)(phase == 0 ? flags & ~KeyPhaseBit : flags | KeyPhaseBit);
        BinaryPrimitives.WriteUInt64BigEndian(datagram[TunnelLayout.L1Length..], seq);

        Span<byte> nonce = stackalloc byte[TunnelSecurity.NonceLength];
        TunnelSecurity.TryWriteNonce(nonce, header.HNode, seq);
        var tag = datagram.Slice(header.TagOffset, TunnelLayout.TagLength);
        if (encrypted)
        {
            cipher.Encrypt(nonce, datagram.Slice(header.PayloadOffset, header.PayloadLength), tag, datagram[..header.AadLength]);
        }
        else
        {
            // Authenticate only: the AEAD over an empty plaintext, with everything before the TAG as associated data
            // (the header and payload are contiguous, so nothing is copied).
            cipher.Encrypt(nonce, [], tag, datagram[..header.TagOffset]);
        }

        return SecureError.None;
    }

    /// <summary>Releases the AEAD instances (their expanded keys).</summary>
    public void Dispose() => _ciphers.Dispose();

    // FLAGS.K in the first byte (VER in the high nibble, FLAGS in the low one).
    internal const int KeyPhaseBit = (int)TunnelFlags.KeyPhase;
}
