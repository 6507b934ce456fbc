using System.Buffers.Binary;
using Dva.Manager.Model;

namespace Dva.Manager.Rollout;

/// <summary>
/// The DVA id tables and nodes carry (a Guid), derived from the database id and the DVA's random seed: stable for
/// the DVA's life, and different for a later DVA that reuses a deleted one's database id.
/// </summary>
internal static class DvaIdentity
{
    public static Guid TableId(Appliance dva)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, dva.Id);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], dva.Seed);
        return new Guid(bytes, bigEndian: true);
    }
}
