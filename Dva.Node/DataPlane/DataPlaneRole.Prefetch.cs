using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

// The receive batch's prefetch pass (issue 9): at 1 M flows every flow-table lookup is a memory miss (about 300 ns
// on this project's VM, see docs/benchmarks.md). Looked up one after another, a batch pays them one after another;
// this pass reads every packet's flow key, hashes it and starts loading the tags of its home slot, then, a second pass,
// the entry whose tag matches, so the misses of a batch overlap, and the decision that follows finds the key and hash
// ready (TakePrefetched) and the entry in the cache.
internal sealed partial class DataPlaneRole
{
    internal readonly record struct PrefetchedKey(FlowKey Key, bool IsForward, TcpFlags TcpFlags, ulong Hash, ulong Seed);

    private readonly PrefetchedKey[] _prefetched = new PrefetchedKey[PacketPort.MaxBatch];
    private readonly bool[] _hasPrefetched = new bool[PacketPort.MaxBatch];

    // The batch slot whose packet Process is deciding, or -1 outside OnBatch (held packets, tests).
    private int _batchIndex = -1;

    /// <summary>Packets whose key and hash the prefetch pass read, since the role started (for tests).</summary>
    internal long PrefetchedPackets { get; private set; }

    private void Prefetch(PacketBatch batch)
    {
        var state = _tables.State;
        var count = Math.Min(batch.Count, _hasPrefetched.Length);
        for (var i = 0; i < count; i++)
        {
            _hasPrefetched[i] = false;
            var buffer = batch[i];
            if (buffer is null || state.Current is null
                || TunnelHeader.TryRead(buffer.Frame, out var rx) != WireError.None
                || rx.IsSecure || rx.Type is not (TunnelType.Dispatch or TunnelType.Handoff) || rx.Handoff == Handoff.Broadcast)
            {
                continue;
            }

            var table = state.ForEra(rx.Era);
            if (table is null
                || !FlowKey.TryFromFrame(buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength), out var key, out var isForward, out var flags))
            {
                continue;
            }

            var hash = FlowHasher.Hash(key, table.Seed);
            _flows.Prefetch(hash);
            _prefetched[i] = new PrefetchedKey(key, isForward, flags, hash, table.Seed);
            _hasPrefetched[i] = true;
            PrefetchedPackets++;
        }

        // Second stage: the tags of the first have had the whole pass to arrive; start loading the entry each lookup will read.
        for (var i = 0; i < count; i++)
        {
            if (_hasPrefetched[i])
            {
                _flows.PrefetchProbe(_prefetched[i].Hash);
            }
        }
    }

    /// <summary>
    /// The key and hash the prefetch pass read for the packet being decided, if it read them with the seed of the table
    /// the decision uses (a table installed between the two passes may bring another seed).
    /// </summary>
    private bool TakePrefetched(ulong seed, out PrefetchedKey prefetched)
    {
        var index = _batchIndex;
        if ((uint)index < (uint)_hasPrefetched.Length && _hasPrefetched[index] && _prefetched[index].Seed == seed)
        {
            _hasPrefetched[index] = false;
            prefetched = _prefetched[index];
            return true;
        }

        prefetched = default;
        return false;
    }
}
