using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// A raw socket address (sockaddr_in, sockaddr_in6 or sockaddr_ll) kept inline in each packet buffer,
/// so a datagram's peer travels with it without allocating an <see cref="IPEndPoint"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PacketAddress : IEquatable<PacketAddress>
{
    /// <summary>sizeof(struct sockaddr_in6), the largest address the sources use.</summary>
    public const int Capacity = 28;

    private Storage _bytes;

    /// <summary>Bytes of <see cref="Bytes"/> in use; 0 when there is no address.</summary>
    public int Length { get; private set; }

    public readonly bool IsEmpty => Length == 0;

    public ushort Family => MemoryMarshal.Read<ushort>(Bytes);

    /// <summary>The whole storage, <see cref="Capacity"/> bytes, for the kernel to fill.</summary>
    [UnscopedRef]
    public Span<byte> Bytes => _bytes;

    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Used => ((ReadOnlySpan<byte>)_bytes)[..Length];

    /// <summary>The UDP/IP port in host order, 0 for other families.</summary>
    public readonly int Port
    {
        get
        {
            ReadOnlySpan<byte> b = _bytes;
            var family = MemoryMarshal.Read<ushort>(b);
            return family is Libc.AF_INET or Libc.AF_INET6 ? BinaryPrimitives.ReadUInt16BigEndian(b[2..]) : 0;
        }
    }

    public void SetLength(int length) => Length = Math.Clamp(length, 0, Capacity);

    public void Clear()
    {
        Bytes.Clear();
        Length = 0;
    }

    public static PacketAddress FromEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = default(PacketAddress);
        var b = address.Bytes;
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            MemoryMarshal.Write(b, (ushort)Libc.AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(b[4..8], out _);
            address.Length = 16;
        }
        else if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            MemoryMarshal.Write(b, (ushort)Libc.AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(b[8..24], out _);
            MemoryMarshal.Write(b[24..], (uint)endPoint.Address.ScopeId);
            address.Length = 28;
        }
        else
        {
            throw new ArgumentException($"address family {endPoint.AddressFamily} is not IPv4 or IPv6", nameof(endPoint));
        }

        return address;
    }

    /// <summary>Converts an IPv4/IPv6 address to an endpoint; allocates, so for control paths and tests.</summary>
    public readonly bool TryGetEndPoint([NotNullWhen(true)] out IPEndPoint? endPoint)
    {
        ReadOnlySpan<byte> b = _bytes;
        endPoint = null;
        if (Length < 16)
        {
            return false;
        }

        var family = MemoryMarshal.Read<ushort>(b);
        var port = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        if (family == Libc.AF_INET)
        {
            endPoint = new IPEndPoint(new IPAddress(b[4..8]), port);
            return true;
        }

        if (family == Libc.AF_INET6 && Length >= 28)
        {
            endPoint = new IPEndPoint(new IPAddress(b[8..24], MemoryMarshal.Read<uint>(b[24..])), port);
            return true;
        }

        return false;
    }

    /// <summary>Same family, address and port; for AF_PACKET the same ifindex. Byte comparison, no allocation.</summary>
    public readonly bool Equals(PacketAddress other) => Length == other.Length && Used.SequenceEqual(other.Used);

    /// <summary>
    /// Whether a tunnel datagram from this address may come from the peer at <paramref name="endpoint"/>: the same
    /// IP address, and either the peer's tunnel port or a per-flow source port (DESIGN.md §2: 49152 and up).
    /// </summary>
    public readonly bool IsFromTunnelPeer(in PacketAddress endpoint)
    {
        if (Length != endpoint.Length || Length < 16)
        {
            return false;
        }

        ReadOnlySpan<byte> mine = _bytes;
        ReadOnlySpan<byte> theirs = endpoint.Used;

        // Family (0..1), then everything after the port (address, and flow info + scope for IPv6).
        if (!mine[..2].SequenceEqual(theirs[..2]) || !mine[4..Length].SequenceEqual(theirs[4..]))
        {
            return false;
        }

        var port = Port;
        return port == endpoint.Port || port >= FlowPortSender.FirstSourcePort;
    }

    public override readonly bool Equals(object? obj) => obj is PacketAddress other && Equals(other);

    public override readonly int GetHashCode()
    {
        var hash = default(HashCode);
        hash.AddBytes(Used);
        return hash.ToHashCode();
    }

    public override readonly string ToString() =>
        TryGetEndPoint(out var ep) ? ep.ToString() : $"family {MemoryMarshal.Read<ushort>((ReadOnlySpan<byte>)_bytes)}";

    public static bool operator ==(PacketAddress left, PacketAddress right) => left.Equals(right);

    public static bool operator !=(PacketAddress left, PacketAddress right) => !left.Equals(right);

    [InlineArray(Capacity)]
    private struct Storage
    {
        private byte _element0;
    }
}
