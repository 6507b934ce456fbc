using Dva.Shared.Wire;

namespace Dva.Shared.Security;

/// <summary>
/// The replay windows of one receiving node, one per sender (HNODE 1..4094), shared by its engine threads.
/// A window is made on the first packet from a sender (once per peer, not per packet).
/// </summary>
public sealed class ReplayGuard
{
    /// <summary>Sequence numbers behind the highest seen that are still checked exactly (≥ 1024, DESIGN.md §2).</summary>
    public const int WindowSize = ReplayWindow.Size;

    private readonly ReplayWindow?[] _windows = new ReplayWindow?[TunnelLayout.MaxNodeId + 1];

    /// <summary>Forgets a sender's window, for example when it left the DVA and its node id may be given again with a new key.</summary>
    public void Forget(ushort hnode)
    {
        if (hnode < _windows.Length)
        {
            Volatile.Write(ref _windows[hnode], null);
        }
    }

    internal ReplayWindow For(ushort hnode)
    {
        ref var slot = ref _windows[hnode];
        var window = Volatile.Read(ref slot);
        if (window is null)
        {
            var made = new ReplayWindow();
            window = Interlocked.CompareExchange(ref slot, made, null) ?? made;
        }

        return window;
    }
}
