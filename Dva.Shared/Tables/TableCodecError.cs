namespace Dva.Shared.Tables;

/// <summary>Why an encoded table (or the parts of a table handed to a builder) was rejected.</summary>
public enum TableCodecError
{
    None = 0,

    /// <summary>The data ends before a field it declares.</summary>
    Truncated,

    /// <summary>Bytes follow the checksum.</summary>
    TrailingBytes,
    BadMagic,
    UnsupportedFormatVersion,
    ReservedNotZero,
    ChecksumMismatch,

    /// <summary>M is not a power of two in 256..65536.</summary>
    BadBucketCount,
    BadNodeId,

    /// <summary>More peers than node ids, or peers not strictly ascending by node id.</summary>
    TooManyPeers,
    DuplicatePeer,
    BadPeerRole,
    BadPeerWeight,

    /// <summary>Address family not 4 or 6, or port 0.</summary>
    BadPeerEndpoint,
    /// <summary>More chain entries than peers.</summary>
    ChainTooLong,
    ChainNodeNotDataPlane,
    DuplicateChainNode,

    /// <summary>A data-plane peer is missing from the chain.</summary>
    ChainIncomplete,
    OwnerNotDataPlane,
    HistoryBucketOutOfRange,
    HistoryBucketsNotAscending,

    /// <summary>History depth 0 or above 4.</summary>
    BadHistoryDepth,
    HistoryNodeNotDataPlane,

    /// <summary>A move time outside the range of <see cref="DateTimeOffset"/>.</summary>
    BadMoveTime,
    DuplicateHistoryNode,
    OwnerInOwnHistory,
    CauseTooLong,
    CauseNotUtf8,
}
