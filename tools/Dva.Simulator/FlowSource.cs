using Dva.Shared.Flows;
using Dva.Shared.Packets;

namespace Dva.Simulator;

/// <summary>SplitMix64: a fast, seedable generator, so a run replays exactly from its seed.</summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound).</summary>
    public int Below(int bound) => (int)((Next() >> 33) * (ulong)bound >> 31);

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Chance(double p) => (Next() >> 11) * (1.0 / (1UL << 53)) < p;
}

/// <summary>
/// Random client flows towards a handful of services, hashed once with the real <see cref="FlowKey"/> and
/// <see cref="FlowHasher"/>: the simulator keeps only the 64-bit hash of each flow.
/// </summary>
internal static class FlowSource
{
    private const byte Tcp = 6;
    private const byte Udp = 17;

    // Services in 203.0.113.0/24 (TEST-NET-3); clients anywhere in IPv4.
    private const uint ServiceNetwork = 0xCB007100;

    public static ulong NextFlowHash(ref SplitMix64 random, ulong dvaSeed)
    {
        ulong r = random.Next();
        var client = IpAddr.FromV4((uint)r);
        var service = IpAddr.FromV4(ServiceNetwork | (uint)((r >> 32) & 0x0F));
        var clientPort = (ushort)(1024 + ((r >> 36) % 64512));
        // About one flow in eight is UDP (DNS); the rest TCP to 443 or 80.
        bool udp = ((r >> 52) & 7) == 0;
        ushort servicePort = udp ? (ushort)53 : ((r >> 55) & 3) == 0 ? (ushort)80 : (ushort)443;
        FlowKey key = FlowKey.FromTuple(client, service, clientPort, servicePort, udp ? Udp : Tcp);
        return FlowHasher.Hash(key, dvaSeed);
    }
}
