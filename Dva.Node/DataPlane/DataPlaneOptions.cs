using Dva.Node.Services.LoadBalancer;
using Dva.Node.Agent;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

/// <summary>What a CLAIMed TCP packet that is not a SYN gets when no data plane had its flow (DESIGN.md §6).</summary>
internal enum MidStreamPolicy
{
    /// <summary>Accept it as a new, established flow (a flow that lost its state keeps working).</summary>
    Loose,

    /// <summary>Drop it, counted as <see cref="DropReason.MidStreamNoState"/>.</summary>
    Strict,
}

/// <summary>Sizes and periods of a data plane; the defaults are the production values, tests shrink them.</summary>
internal sealed record DataPlaneOptions
{
    public static DataPlaneOptions Default { get; } = new();

    /// <summary>Flow table slots (power of two).</summary>
    public int FlowCapacity { get; init; } = FlowTable.DefaultCapacity;

    /// <summary>
    /// Slots the expiry sweep walks per tick. 16 k slots of 128 B every 10 ms is a full pass over 1 M slots in
    /// 0.64 s while touching ~2 MB per tick, small enough not to stall the packets of that turn.
    /// </summary>
    public int SweepSlotsPerTick { get; init; } = 16 * 1024;

    public TimeSpan SweepPeriod { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Packets held while no table serves their ERA (DESIGN.md §5: ≤ 64).</summary>
    public int HoldCapacity { get; init; } = HoldQueue.DefaultCapacity;

    /// <summary>How long a held packet waits for its table (DESIGN.md §5: ≤ 50 ms).</summary>
    public TimeSpan HoldMaxAge { get; init; } = HoldQueue.DefaultMaxAge;

    /// <summary>How often held packets are checked for their age.</summary>
    public TimeSpan HoldCheckPeriod { get; init; } = TimeSpan.FromMilliseconds(5);

    public TimeSpan NeighbourExpiryPeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The mid-stream policy when no firewall is configured; a firewall's policy names its own.</summary>
    public MidStreamPolicy MidStreamPolicy { get; init; } = MidStreamPolicy.Loose;

    /// <summary>Load-balanced flows this data plane can translate at once.</summary>
    public int NatCapacity { get; init; } = NatTable.DefaultCapacity;

    /// <summary>
    /// SNAT source ports tested for a reply bucket this data plane owns before settling for any port and STEERing the
    /// replies (DESIGN.md §8). 0 makes every translated flow steered: for tests of that path.
    /// </summary>
    public int SnatTries { get; init; } = SnatPortPool.DefaultTries;
}

/// <summary>The counted drop reason for each tunnel codec error.</summary>
internal static class WireDrops
{
    public static DropReason ToDropReason(WireError error) => error switch
    {
        WireError.Truncated => DropReason.WireTruncated,
        WireError.BadVersion => DropReason.WireBadVersion,

        // E and K without S are bits that must be zero in plain mode.
        WireError.ReservedBitSet or WireError.EncryptedWithoutSecure or WireError.KeyPhaseWithoutSecure => DropReason.WireReservedBit,
        WireError.HdrSizeMismatch or WireError.TooManyNids or WireError.NidsWithoutTrace => DropReason.WireHeaderSize,
        WireError.UnknownType => DropReason.WireUnknownType,
        WireError.UnknownHandoff => DropReason.WireUnknownHandoff,
        WireError.UnknownHook => DropReason.WireUnknownHook,
        WireError.UnknownTable => DropReason.WireUnknownTable,
        WireError.TtlZero => DropReason.WireTtlZero,
        WireError.NodeIdZero or WireError.NodeIdOutOfRange => DropReason.WireBadNodeId,
        WireError.InnerFrameTooShort => DropReason.WireInnerTooShort,
        WireError.BadOffload => DropReason.WireBadOffload,
        WireError.BadPark => DropReason.WireBadPark,
        WireError.BadShortcut => DropReason.WireBadShortcut,
        _ => DropReason.WireOther,
    };
}
