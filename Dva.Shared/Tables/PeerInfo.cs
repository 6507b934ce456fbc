using System.Net;

namespace Dva.Shared.Tables;

/// <summary>Role of a node in a DVA (DESIGN.md §1).</summary>
public enum PeerRole : byte
{
    Dispatcher = 1,
    DataPlane = 2,
}

/// <summary>A node of the DVA as the tables list it.</summary>
/// <param name="Endpoint">Tunnel endpoint (IPv4 or IPv6, port above 0).</param>
/// <param name="Weight">Share of buckets for a data plane; 0 for a dispatcher or a draining data plane,
/// which stays a peer (predecessors must stay reachable for punts) but owns no bucket.</param>
public sealed record PeerInfo(ushort NodeId, PeerRole Role, IPEndPoint Endpoint, int Weight = 0);
