namespace Dva.Shared.Security;

/// <summary>
/// Why a secure datagram could not be sealed or was not opened. Every drop is counted under its name
/// (docs/protocol.md, "Secure mode in detail").
/// </summary>
public enum SecureError : byte
{
    /// <summary>Sealed, or opened and authentic.</summary>
    None = 0,

    /// <summary>FLAGS.S is clear: there is no SEQ or TAG to seal or check.</summary>
    NotSecure,

    /// <summary>The span is not a datagram the reader accepts, or not the one the header was read from.</summary>
    BadHeader,

    /// <summary>Sealer: no key is installed for the send phase.</summary>
    NoSendKey,

    /// <summary>Sealer: the sender's SEQ space is used up; a new key (and sequence) is needed.</summary>
    SequenceExhausted,

    /// <summary>Sealer: CONTROL packets go out with E clear, because receivers check their VLAN TCI before opening.</summary>
    EncryptedControl,

    /// <summary>Opener: no key is installed for the packet's FLAGS.K (a retired or not yet delivered phase).</summary>
    UnknownKeyPhase,

    /// <summary>Opener: SEQ is further behind the sender's highest SEQ than the replay window reaches.</summary>
    TooOld,

    /// <summary>Opener: this SEQ from this sender was already accepted.</summary>
    Replayed,

    /// <summary>Opener: the tag does not match (forged, modified, or sealed with another key).</summary>
    BadTag,
}
