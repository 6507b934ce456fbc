using System.Net.Sockets;
using System.Text;
using System.Buffers;

namespace Dva.Shared.Tables;

/// <summary>
/// The consistency rules of a table version, shared by the builders (which throw) and the decoder
/// (which returns the reason): no throw here, it runs on untrusted input.
/// </summary>
internal static class TableValidator
{
    /// <param name="peers">Ascending by node id.</param>
    public static TableCodecError Validate(ReadOnlySpan<ushort> owners, HistoryTable history, ReadOnlySpan<ushort> chain, ReadOnlySpan<PeerInfo> peers, string cause)
    {
        if (!TableLimits.IsValidBucketCount(owners.Length) || history.BucketCount != owners.Length)
        {
            return TableCodecError.BadBucketCount;
        }

        Span<byte> roles = stackalloc byte[4096];
        roles.Clear();
        int dataPlanes = 0;
        foreach (PeerInfo peer in peers)
        {
            TableCodecError error = ValidatePeer(peer);
            if (error != TableCodecError.None)
            {
                return error;
            }

            if (roles[peer.NodeId] != 0)
            {
                return TableCodecError.DuplicatePeer;
            }

            roles[peer.NodeId] = (byte)peer.Role;
            if (peer.Role == PeerRole.DataPlane)
            {
                dataPlanes++;
            }
        }

        foreach (ushort owner in owners)
        {
            if (owner >= roles.Length || roles[owner] != (byte)PeerRole.DataPlane)
            {
                return TableCodecError.OwnerNotDataPlane;
            }
        }

        Span<bool> inChain = stackalloc bool[4096];
        inChain.Clear();
        foreach (ushort node in chain)
        {
            if (node >= roles.Length || roles[node] != (byte)PeerRole.DataPlane)
            {
                return TableCodecError.ChainNodeNotDataPlane;
            }

            if (inChain[node])
            {
                return TableCodecError.DuplicateChainNode;
            }

            inChain[node] = true;
        }

        if (chain.Length != dataPlanes)
        {
            return TableCodecError.ChainIncomplete;
        }

        TableCodecError historyError = ValidateHistory(owners, history, roles);
        if (historyError != TableCodecError.None)
        {
            return historyError;
        }

        if (!IsWellFormedUtf16(cause))
        {
            return TableCodecError.CauseNotUtf8;
        }

        return Encoding.UTF8.GetByteCount(cause) > TableLimits.MaxCauseBytes ? TableCodecError.CauseTooLong : TableCodecError.None;
    }

    public static TableCodecError ValidatePeer(PeerInfo peer)
    {
        if (!TableLimits.IsValidNodeId(peer.NodeId))
        {
            return TableCodecError.BadNodeId;
        }

        if (peer.Role is not (PeerRole.Dispatcher or PeerRole.DataPlane))
        {
            return TableCodecError.BadPeerRole;
        }

        if (peer.Weight < 0)
        {
            return TableCodecError.BadPeerWeight;
        }

        return peer.Endpoint is { Port: > 0 } endpoint
            && endpoint.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? TableCodecError.None
            : TableCodecError.BadPeerEndpoint;
    }

    /// <summary>False for a lone surrogate, which UTF-8 cannot carry.</summary>
    private static bool IsWellFormedUtf16(string text)
    {
        ReadOnlySpan<char> rest = text;
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out _, out int consumed) != OperationStatus.Done)
            {
                return false;
            }

            rest = rest[consumed..];
        }

        return true;
    }

    private static TableCodecError ValidateHistory(ReadOnlySpan<ushort> owners, HistoryTable history, ReadOnlySpan<byte> roles)
    {
        ReadOnlySpan<int> buckets = history.Buckets;
        ReadOnlySpan<ushort> slots = history.NodeSlots;
        for (int i = 0; i < buckets.Length; i++)
        {
            int bucket = buckets[i];
            if ((uint)bucket >= (uint)owners.Length)
            {
                return TableCodecError.HistoryBucketOutOfRange;
            }

            if (i > 0 && buckets[i - 1] >= bucket)
            {
                return TableCodecError.HistoryBucketsNotAscending;
            }

            ReadOnlySpan<ushort> entry = slots.Slice(i * TableLimits.MaxHistoryDepth, TableLimits.MaxHistoryDepth);
            int depth = entry.IndexOf((ushort)0);
            if (depth == 0 || (depth > 0 && entry[depth..].IndexOfAnyExcept((ushort)0) >= 0))
            {
                return TableCodecError.BadHistoryDepth;
            }

            entry = depth < 0 ? entry : entry[..depth];
            for (int d = 0; d < entry.Length; d++)
            {
                ushort node = entry[d];
                if (node >= roles.Length || roles[node] != (byte)PeerRole.DataPlane)
                {
                    return TableCodecError.HistoryNodeNotDataPlane;
                }

                if (entry[..d].Contains(node))
                {
                    return TableCodecError.DuplicateHistoryNode;
                }

                if (node == owners[bucket])
                {
                    return TableCodecError.OwnerInOwnHistory;
                }
            }
        }

        return TableCodecError.None;
    }
}
