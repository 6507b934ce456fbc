using Dva.Shared.Security;
using Dva.Shared.Wire;

namespace Dva.Shared.Tests.Security;

/// <summary>Secure datagrams made by the real writer, and keys with known material.</summary>
internal static class SecureFixtures
{
    public const int Headroom = 128;

    /// <summary>Key material 00 01 02 … 1f, used by the known-answer tests.</summary>
    public static byte[] CountingKeyBytes { get; } = Enumerable.Range(0, TunnelKey.Length).Select(i => (byte)i).ToArray();

    public static TunnelKey CountingKey(AeadAlgorithm algorithm = AeadAlgorithm.Aes256Gcm) => new(1, algorithm, CountingKeyBytes);

    public static TunnelKeyRing Ring(TunnelKey key, int phase = 0)
    {
        var ring = new TunnelKeyRing();
        ring.Install(phase, key);
        Assert.True(ring.UseForSending(phase));
        return ring;
    }

    /// <summary>A secure DISPATCH from <paramref name="hnode"/> to DP 5 carrying a frame of <paramref name="frameLength"/> bytes; returns the exact datagram.</summary>
    public static byte[] Datagram(int frameLength = 64, bool encrypted = true, ushort hnode = 1, ushort vlanTci = 0, byte fill = 0x5a)
    {
        var buffer = new byte[Headroom + frameLength + TunnelLayout.TagLength];
        var frame = buffer.AsSpan(Headroom, frameLength);
        frame.Fill(fill);
        Convert.FromHexString("02000000000a02000000000b0800").CopyTo(frame);
        var fields = new TunnelFields
        {
            Flags = TunnelFlags.Secure | (encrypted ? TunnelFlags.Encrypted : TunnelFlags.None),
            DNode = 5, HNode = hnode, Type = TunnelType.Dispatch, Era = 1, Ttl = 255, SNode = 1, IfId = 2, VlanTci = vlanTci,
        };
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, Headroom, frameLength, fields, [], out var start, out var length));
        return buffer.AsSpan(start, length).ToArray();
    }

    /// <summary>Reads the header, then opens; a packet the reader rejects comes back as <see cref="SecureError.BadHeader"/>.</summary>
    public static SecureError ReadAndOpen(TunnelOpener opener, byte[] datagram)
    {
        if (TunnelHeader.TryRead(datagram, out var header) != WireError.None)
        {
            return SecureError.BadHeader;
        }

        return opener.Open(datagram, header, out _);
    }
}
