using Dva.Node.Agent;
using Dva.Shared.Wire;

namespace Dva.Node.Dispatcher;

/// <summary>The counted drop reason for each tunnel header the codec rejects.</summary>
internal static class WireDrops
{
    public static DropReason ReasonFor(WireError error) => error switch
    {
        WireError.Truncated => DropReason.WireTruncated,
        WireError.BadVersion => DropReason.WireBadVersion,
        WireError.ReservedBitSet or WireError.EncryptedWithoutSecure or WireError.KeyPhaseWithoutSecure => DropReason.WireReservedBit,
        WireError.HdrSizeMismatch or WireError.TooManyNids or WireError.NidsWithoutTrace => DropReason.WireHeaderSize,
        WireError.UnknownType => DropReason.WireUnknownType,
        WireError.UnknownHandoff => DropReason.WireUnknownHandoff,
        WireError.UnknownHook => DropReason.WireUnknownHook,
        WireError.UnknownTable => DropReason.WireUnknownTable,
        WireError.TtlZero => DropReason.WireTtlZero,
        WireError.InnerFrameTooShort => DropReason.WireInnerTooShort,
        WireError.NodeIdZero or WireError.NodeIdOutOfRange => DropReason.WireBadNodeId,
        _ => DropReason.WireOther,
    };
}
