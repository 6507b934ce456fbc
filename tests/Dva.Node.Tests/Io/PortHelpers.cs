using System.Diagnostics;
using System.Net;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

/// <summary>Receiving from real ports in tests: waits with poll and a deadline, never sleeps.</summary>
internal static class PortHelpers
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Receives until <paramref name="count"/> packets matching <paramref name="match"/> arrived; copies frame and peer.</summary>
    public static List<(byte[] Frame, PacketAddress Peer)> ReceiveMatching(PacketPort port, int count, Func<byte[], bool>? match = null, int frameSize = BufferPool.DefaultFrameSize)
    {
        var pool = new BufferPool(PacketPort.MaxBatch, frameSize);
        var slots = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < slots.Length; i++)
        {
            Assert.True(pool.TryRent(out var buffer));
            slots[i] = buffer;
        }

        var received = new List<(byte[], PacketAddress)>();
        var clock = Stopwatch.StartNew();
        while (received.Count < count)
        {
            var left = Timeout - clock.Elapsed;
            Assert.True(left > TimeSpan.Zero, $"{port.Name}: received {received.Count} of {count} packets before the timeout");
            if (!port.WaitReadable((int)left.TotalMilliseconds))
            {
                continue;
            }

            var n = port.Receive(slots);
            for (var i = 0; i < n; i++)
            {
                var frame = slots[i].Frame.ToArray();
                if (match is null || match(frame))
                {
                    received.Add((frame, slots[i].Peer));
                }
            }
        }

        return received;
    }

    public static PacketBuffer Frame(ReadOnlySpan<byte> bytes, IPEndPoint? peer = null)
    {
        var buffer = PacketBuffer.CreateUnpooled();
        Assert.True(buffer.TrySetFrame(bytes));
        if (peer is not null)
        {
            buffer.Peer = PacketAddress.FromEndPoint(peer);
        }

        return buffer;
    }

    /// <summary>The local experimental ethertype the raw-frame tests send (IEEE 802 OUI extended ethertype 1).</summary>
    public const int TestEthertype = 0x88B5;

    public static bool IsTestFrame(byte[] frame) => frame.Length >= 18 && ((frame[12] << 8) | frame[13]) == TestEthertype;

    /// <summary>Broadcast, the test ethertype, then the sequence number and a pattern seeded by it.</summary>
    public static byte[] TestFrame(int sequence, int length)
    {
        var frame = Pattern(sequence, length);
        frame.AsSpan(0, 6).Fill(0xFF);
        byte[] source = [0x02, 0, 0, 0, 0, 0x01];
        source.CopyTo(frame, 6);
        frame[12] = TestEthertype >> 8;
        frame[13] = TestEthertype & 0xFF;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), sequence);
        return frame;
    }

    /// <summary>A payload whose bytes depend on <paramref name="seed"/> and position, so a mix-up shows.</summary>
    public static byte[] Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((seed * 31) + (i * 7));
        }

        return bytes;
    }

    /// <summary>A loopback port that was free a moment ago (the udp: wire needs both ports before either opens).</summary>
    public static int FreeLoopbackPort(IPAddress? loopback = null)
    {
        using var probe = UdpTunnelSocket.Open(new IPEndPoint(loopback ?? IPAddress.Loopback, 0), socketBufferBytes: 0);
        return probe.LocalEndPoint.Port;
    }
}
