using System.Buffers.Binary;
using System.Net;

namespace Dva.Shared.Packets;

/// <summary>
/// An IPv4 or IPv6 address as a comparable value: IPv4 sits in the low 32 bits of <see cref="Value"/>
/// (host order), IPv6 is the 128-bit big-endian address read as a number. Ordering compares the
/// numeric value, which equals the byte-wise (network order) ordering within one family.
/// </summary>
public readonly struct IpAddr : IEquatable<IpAddr>, IComparable<IpAddr>
{
    private readonly UInt128 _value;
    private readonly byte _version;

    private IpAddr(UInt128 value, byte version)
    {
        _value = value;
        _version = version;
    }

    /// <summary>The numeric value (IPv4 in the low 32 bits).</summary>
    public UInt128 Value => _value;

    /// <summary>4, 6, or 0 for the default (no address).</summary>
    public byte Version => _version;

    public bool IsV4 => _version == 4;

    public bool IsV6 => _version == 6;

    /// <summary>The IPv4 address in host order; 0 for IPv6.</summary>
    public uint V4 => _version == 4 ? (uint)_value : 0;

    public static IpAddr FromV4(uint address) => new(address, 4);

    public static IpAddr FromV6(UInt128 address) => new(address, 6);

    /// <summary>Reads 4 (IPv4) or 16 (IPv6) network-order bytes; other lengths give the default value.</summary>
    public static IpAddr Read(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes)),
        16 => FromV6(BinaryPrimitives.ReadUInt128BigEndian(bytes)),
        _ => default,
    };

    /// <summary>Writes the address in network order; returns the number of bytes written (0 if it does not fit).</summary>
    public int WriteTo(Span<byte> destination)
    {
        if (_version == 4 && destination.Length >= 4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)_value);
            return 4;
        }

        if (_version == 6 && destination.Length >= 16)
        {
            BinaryPrimitives.WriteUInt128BigEndian(destination, _value);
            return 16;
        }

        return 0;
    }

    /// <summary>Converts from <see cref="IPAddress"/> (allocation-free apart from the caller's object).</summary>
    public static IpAddr From(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        return address.TryWriteBytes(bytes, out int written) ? Read(bytes[..written]) : default;
    }

    /// <summary>Allocates an <see cref="IPAddress"/>: for logs, tests and the control plane, never per packet.</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = WriteTo(bytes);
        return length == 0 ? IPAddress.None : new IPAddress(bytes[..length]);
    }

    public bool Equals(IpAddr other) => _value == other._value && _version == other._version;

    public override bool Equals(object? obj) => obj is IpAddr other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_value, _version);

    public int CompareTo(IpAddr other)
    {
        int byVersion = _version.CompareTo(other._version);
        return byVersion != 0 ? byVersion : _value.CompareTo(other._value);
    }

    public override string ToString() => _version == 0 ? "-" : ToIPAddress().ToString();

    public static bool operator ==(IpAddr left, IpAddr right) => left.Equals(right);

    public static bool operator !=(IpAddr left, IpAddr right) => !left.Equals(right);

    public static bool operator <(IpAddr left, IpAddr right) => left.CompareTo(right) < 0;

    public static bool operator >(IpAddr left, IpAddr right) => left.CompareTo(right) > 0;

    public static bool operator <=(IpAddr left, IpAddr right) => left.CompareTo(right) <= 0;

    public static bool operator >=(IpAddr left, IpAddr right) => left.CompareTo(right) >= 0;
}
