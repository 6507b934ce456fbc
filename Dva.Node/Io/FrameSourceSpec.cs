using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Dva.Node.Io;

internal enum FrameSourceKind
{
    AfPacket,
    AfXdp,
    Tap,
    Udp,
}

/// <summary>
/// A parsed frame source: <c>afpacket:IFNAME</c> (<c>afpacket:IFNAME?ring=1</c> for the PACKET_MMAP ring,
/// <c>afpacket:IFNAME?gso=1</c> for whole GSO/GRO super-frames with a virtio_net_hdr),
/// <c>afxdp:IFNAME[?mode=native|generic]</c> (an AF_XDP socket fed by an XDP program),
/// <c>tap:NAME</c> or <c>udp:LOCAL=ip:port,PEER=ip:port[,MTU=n]</c> (IPv6 in brackets: <c>[2001:db8::1]:7000</c>; MTU
/// gives the wire a link MTU, 68..65535, as a device has one).
/// <see cref="TryParse"/> names what is wrong.
/// </summary>
internal sealed record FrameSourceSpec
{
    public const string Syntax = "afpacket:IFNAME[?ring=1|?gso=1], afxdp:IFNAME[?mode=native|generic], tap:NAME or udp:LOCAL=ip:port,PEER=ip:port[,MTU=n]";

    private const string RingOption = "ring=1";
    private const string GsoOption = "gso=1";

    /// <summary>IFNAMSIZ - 1.</summary>
    public const int MaxInterfaceNameLength = 15;

    public required FrameSourceKind Kind { get; init; }

    /// <summary>The interface (afpacket) or device (tap) name.</summary>
    public string? InterfaceName { get; init; }

    /// <summary>afpacket: receive through a TPACKET_V3 PACKET_MMAP ring (<see cref="AfPacketRingFrameSource"/>) instead of recvmmsg.</summary>
    public bool Ring { get; init; }

    /// <summary>
    /// afpacket: PACKET_VNET_HDR on the socket, so TSO/GSO super-frames (up to ~64 KiB) arrive and leave whole, with their
    /// offload (and a checksum left to the device) described in a virtio_net_hdr instead of arriving unfinished. Needs
    /// the node's <c>superFrames</c> buffers.
    /// </summary>
    public bool Gso { get; init; }

    /// <summary>afxdp: where the XDP program runs (<see cref="XdpAttachMode.Auto"/>: in the driver if it can, else generic).</summary>
    public XdpAttachMode XdpMode { get; init; }

    public IPEndPoint? Local { get; init; }

    public IPEndPoint? Peer { get; init; }

    /// <summary>A <c>udp:</c> wire's link MTU (<c>MTU=n</c>), null when none is given (no limit but the datagram's).</summary>
    public int? WireMtu { get; init; }

    public static bool TryParse(string? text, [NotNullWhen(true)] out FrameSourceSpec? spec, out string error)
    {
        spec = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"frame source is empty; expected {Syntax}";
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            error = $"frame source '{text}' has no kind; expected {Syntax}";
            return false;
        }

        var kind = text[..colon];
        var rest = text[(colon + 1)..];
        switch (kind)
        {
            case "afpacket":
                return TryParseAfPacket(rest, out spec, out error);
            case "afxdp":
                return TryParseAfXdp(rest, out spec, out error);
            case "tap":
                if (!TryParseInterfaceName(kind, rest, out error))
                {
                    return false;
                }

                spec = new FrameSourceSpec { Kind = FrameSourceKind.Tap, InterfaceName = rest };
                return true;
            case "udp":
                return TryParseUdp(rest, out spec, out error);
            default:
                error = $"unknown frame source kind '{kind}' in '{text}'; expected afpacket, afxdp, tap or udp";
                return false;
        }
    }

    /// <summary>
    /// Opens the source this spec names. Setup path: throws a readable error if the system refuses. An <c>afpacket:</c>
    /// source joins <paramref name="fanout"/> when given, an <c>afxdp:</c> source <paramref name="queues"/> (one source
    /// per engine of a dispatcher); the other kinds cannot share their frames and refuse one.
    /// </summary>
    public FrameSource Open(bool promiscuous = false, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes, AfPacketFanout? fanout = null, XdpQueueGroup? queues = null) => Kind switch
    {
        FrameSourceKind.AfPacket when Ring => AfPacketRingFrameSource.Open(this, promiscuous, fanout: fanout),
        FrameSourceKind.AfPacket => AfPacketFrameSource.Open(this, promiscuous, socketBufferBytes, fanout),
        _ when fanout is not null => throw new InvalidOperationException($"{this}: only an afpacket: source can share its frames among engines by PACKET_FANOUT"),
        FrameSourceKind.AfXdp => AfXdpFrameSource.Open(this, promiscuous, socketBufferBytes, queues),
        _ when queues is not null => throw new InvalidOperationException($"{this}: only an afxdp: source reads one receive queue per engine"),
        FrameSourceKind.Tap => TapFrameSource.Open(this),
        _ => UdpFrameSource.Open(this, socketBufferBytes),
    };

    public override string ToString() => Kind switch
    {
        FrameSourceKind.AfPacket => Ring ? $"afpacket:{InterfaceName}?{RingOption}" : Gso ? $"afpacket:{InterfaceName}?{GsoOption}" : $"afpacket:{InterfaceName}",
        FrameSourceKind.AfXdp => XdpMode == XdpAttachMode.Auto ? $"afxdp:{InterfaceName}" : $"afxdp:{InterfaceName}?mode={XdpMode.ToString().ToLowerInvariant()}",
        FrameSourceKind.Tap => $"tap:{InterfaceName}",
        _ => WireMtu is { } mtu ? $"udp:LOCAL={Local},PEER={Peer},MTU={mtu}" : $"udp:LOCAL={Local},PEER={Peer}",
    };

    private static bool TryParseAfPacket(string rest, [NotNullWhen(true)] out FrameSourceSpec? spec, out string error)
    {
        spec = null;
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        var name = question < 0 ? rest : rest[..question];
        if (!TryParseInterfaceName("afpacket", name, out error))
        {
            return false;
        }

        var ring = false;
        var gso = false;
        if (question >= 0)
        {
            foreach (var option in rest[(question + 1)..].Split('&'))
            {
                switch (option)
                {
                    case RingOption or "ring=0":
                        ring = option == RingOption;
                        break;
                    case GsoOption or "gso=0":
                        gso = option == GsoOption;
                        break;
                    default:
                        error = $"afpacket: unknown option '{option}'; the options are ?{RingOption} (receive through a PACKET_MMAP ring) and ?{GsoOption} (GSO super-frames with a virtio_net_hdr)";
                        return false;
                }
            }
        }

        if (ring && gso)
        {
            error = $"afpacket: ?{RingOption} and ?{GsoOption} cannot be combined (the ring source does not read the virtio_net_hdr); choose one";
            return false;
        }

        spec = new FrameSourceSpec { Kind = FrameSourceKind.AfPacket, InterfaceName = name, Ring = ring, Gso = gso };
        return true;
    }

    private static bool TryParseAfXdp(string rest, [NotNullWhen(true)] out FrameSourceSpec? spec, out string error)
    {
        spec = null;
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        var name = question < 0 ? rest : rest[..question];
        if (!TryParseInterfaceName("afxdp", name, out error))
        {
            return false;
        }

        var mode = XdpAttachMode.Auto;
        if (question >= 0)
        {
            foreach (var option in rest[(question + 1)..].Split('&'))
            {
                switch (option)
                {
                    case "mode=native":
                        mode = XdpAttachMode.Native;
                        break;
                    case "mode=generic":
                        mode = XdpAttachMode.Generic;
                        break;
                    default:
                        error = $"afxdp: unknown option '{option}'; the only option is ?mode=native (the XDP program in the driver, refused if it cannot) or ?mode=generic (after the kernel built an skb); without it the driver is tried first";
                        return false;
                }
            }
        }

        spec = new FrameSourceSpec { Kind = FrameSourceKind.AfXdp, InterfaceName = name, XdpMode = mode };
        return true;
    }

    private static bool TryParseInterfaceName(string kind, string name, out string error)
    {
        if (name.Length == 0)
        {
            error = $"{kind}: interface name is missing; expected {kind}:NAME";
            return false;
        }

        if (name.Length > MaxInterfaceNameLength)
        {
            error = $"{kind}: interface name '{name}' is {name.Length} characters; Linux allows at most {MaxInterfaceNameLength}";
            return false;
        }

        foreach (var c in name)
        {
            if (c <= ' ' || c > '~' || c is '/' or ':' or ',' or '=' or '?')
            {
                error = $"{kind}: interface name '{name}' contains '{c}', which an interface name cannot have";
                return false;
            }
        }

        error = string.Empty;
        return true;
    }

    private static bool TryParseUdp(string rest, [NotNullWhen(true)] out FrameSourceSpec? spec, out string error)
    {
        spec = null;
        IPEndPoint? local = null;
        IPEndPoint? peer = null;
        int? mtu = null;
        if (rest.Length == 0)
        {
            error = "udp: LOCAL and PEER are missing; expected udp:LOCAL=ip:port,PEER=ip:port";
            return false;
        }

        foreach (var item in rest.Split(','))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                error = $"udp: '{item}' is not KEY=ip:port; expected udp:LOCAL=ip:port,PEER=ip:port";
                return false;
            }

            var key = item[..equals].ToUpperInvariant();
            var value = item[(equals + 1)..];
            if (key == "MTU")
            {
                if (mtu is not null || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 68 or > 65535)
                {
                    error = $"udp: MTU '{value}' {(mtu is null ? "is not a number in 68..65535" : "is given twice")}";
                    return false;
                }

                mtu = n;
                continue;
            }

            if (key is not ("LOCAL" or "PEER"))
            {
                error = $"udp: unknown key '{item[..equals]}'; only LOCAL, PEER and MTU are allowed";
                return false;
            }

            if ((key == "LOCAL" ? local : peer) is not null)
            {
                error = $"udp: {key} is given twice";
                return false;
            }

            if (!TryParseEndPoint(value, out var endPoint, out var why))
            {
                error = $"udp: {key} '{value}' {why}";
                return false;
            }

            if (key == "LOCAL")
            {
                local = endPoint;
            }
            else
            {
                peer = endPoint;
            }
        }

        if (local is null || peer is null)
        {
            error = $"udp: {(local is null ? "LOCAL" : "PEER")} is missing; expected udp:LOCAL=ip:port,PEER=ip:port";
            return false;
        }

        if (local.AddressFamily != peer.AddressFamily)
        {
            error = $"udp: LOCAL {local} and PEER {peer} are of different address families";
            return false;
        }

        if (peer.Port == 0 || peer.Address.Equals(IPAddress.Any) || peer.Address.Equals(IPAddress.IPv6Any))
        {
            error = $"udp: PEER {peer} must be a concrete address and a non-zero port";
            return false;
        }

        spec = new FrameSourceSpec { Kind = FrameSourceKind.Udp, Local = local, Peer = peer, WireMtu = mtu };
        error = string.Empty;
        return true;
    }

    private static bool TryParseEndPoint(string text, [NotNullWhen(true)] out IPEndPoint? endPoint, out string why)
    {
        endPoint = null;
        string host;
        string port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
            {
                why = "is not [ipv6]:port";
                return false;
            }

            host = text[1..close];
            port = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                why = "has no port; expected ip:port";
                return false;
            }

            host = text[..colon];
            port = text[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                why = "is an IPv6 address without brackets; write [address]:port";
                return false;
            }
        }

        if (!IPAddress.TryParse(host, out var address) ||
            address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6) ||
            (address.AddressFamily == AddressFamily.InterNetwork && host.Count(c => c == '.') != 3))
        {
            why = $"has '{host}', which is not an IP address";
            return false;
        }

        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > 65535)
        {
            why = $"has port '{port}', which is not a number from 0 to 65535";
            return false;
        }

        endPoint = new IPEndPoint(address, number);
        why = string.Empty;
        return true;
    }
}
