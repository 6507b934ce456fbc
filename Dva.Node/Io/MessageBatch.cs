using System.Runtime.InteropServices;
using Dva.Node.Interop;
using Dva.Shared.Packets;

namespace Dva.Node.Io;

/// <summary>How a datagram port addresses what it sends.</summary>
internal enum SendAddressing
{
    /// <summary>Each buffer's <see cref="PacketBuffer.Peer"/> (the UDP tunnel socket).</summary>
    PerBuffer,

    /// <summary>One fixed peer for every datagram (the udp: wire).</summary>
    Fixed,

    /// <summary>No address: the socket is bound to its destination (AF_PACKET bound to an ifindex).</summary>
    None,
}

/// <summary>
/// The native mmsghdr/iovec/sockaddr arrays for one socket's recvmmsg and sendmmsg, allocated once so a
/// batch costs one system call and no managed allocation. With <c>vnetHeaders</c> (an AF_PACKET socket with
/// PACKET_VNET_HDR) each message is two iovecs: its <see cref="VirtioNetHeader"/> in a native slot, then the frame in
/// its buffer at the usual place, so the frame is neither moved nor copied. With <c>auxData</c> (PACKET_AUXDATA) each
/// received message also brings a <c>struct tpacket_auxdata</c> control message, and an 802.1Q tag the kernel took off
/// the frame is put back (<see cref="PacketBuffer.TryInsertVlanTag"/>).
/// </summary>
internal sealed unsafe class MessageBatch : IDisposable
{
    private readonly MMsgHdr* _messages;
    private readonly IoVec* _iovecs;
    private readonly byte* _addresses;
    private readonly SendAddressing _addressing;
    private readonly PacketAddress _fixedPeer;
    private readonly byte* _vnet;
    private readonly byte* _control;
    private readonly int _iovPerMessage;
    private int _disposed;

    /// <summary>Room for one control message: cmsghdr (16 bytes) and tpacket_auxdata (20), aligned.</summary>
    private const int ControlSpace = 64;
    private const int ControlHeaderLength = 16;
    private const int AuxDataLength = 20;
    private const uint StatusVlanValid = 0x10;
    private const uint StatusVlanTpidValid = 0x40;

    public MessageBatch(SendAddressing addressing, PacketAddress fixedPeer = default, bool vnetHeaders = false, bool auxData = false)
    {
        _addressing = addressing;
        _fixedPeer = fixedPeer;
        _iovPerMessage = vnetHeaders ? 2 : 1;
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(PacketPort.MaxBatch * sizeof(MMsgHdr)));
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)(PacketPort.MaxBatch * _iovPerMessage * sizeof(IoVec)));
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)(PacketPort.MaxBatch * PacketAddress.Capacity));
        _vnet = vnetHeaders ? (byte*)NativeMemory.AllocZeroed((nuint)(PacketPort.MaxBatch * VirtioNetHeader.Length)) : null;
        _control = auxData ? (byte*)NativeMemory.AllocZeroed((nuint)(PacketPort.MaxBatch * ControlSpace)) : null;
    }

    /// <summary>Points message <paramref name="i"/>'s iovecs at its virtio header slot (if any) and <paramref name="data"/>.</summary>
    private IoVec* SetIov(int i, byte* data, int length)
    {
        var iov = _iovecs + (i * _iovPerMessage);
        var next = iov;
        if (_vnet is not null)
        {
            next->Base = _vnet + (i * VirtioNetHeader.Length);
            next->Length = VirtioNetHeader.Length;
            next++;
        }

        next->Base = data;
        next->Length = (nuint)length;
        return iov;
    }

    /// <summary>
    /// recvmmsg into <paramref name="buffers"/>. When <paramref name="onlyFrom"/> is true, datagrams from
    /// any address but the fixed peer are counted as <see cref="PortCounters.ForeignPeer"/> and dropped.
    /// </summary>
    public int Receive(int fd, Span<PacketBuffer> buffers, PortCounters counters, bool onlyFrom = false)
    {
        var n = Math.Min(buffers.Length, PacketPort.MaxBatch);
        if (n == 0)
        {
            return 0;
        }

        for (var i = 0; i < n; i++)
        {
            var buffer = buffers[i];
            ref var header = ref _messages[i].Header;
            header.Name = _addresses + (i * PacketAddress.Capacity);
            header.NameLength = PacketAddress.Capacity;
            header.Iov = SetIov(i, buffer.ReceivePointer, buffer.ReceiveCapacity);
            header.IovLength = (nuint)_iovPerMessage;
            header.Control = _control is null ? null : _control + (i * ControlSpace);
            header.ControlLength = _control is null ? 0 : (nuint)ControlSpace;
            header.Flags = 0;
            _messages[i].Length = 0;
        }

        int received;
        do
        {
            received = Libc.recvmmsg(fd, _messages, (uint)n, 0, null);
        }
        while (received < 0 && Libc.LastErrno == Errno.EINTR);

        if (received <= 0)
        {
            if (received < 0 && Libc.LastErrno != Errno.EAGAIN)
            {
                counters.ReceiveFailed(Libc.LastErrno);
            }

            return 0;
        }

        var kept = 0;
        long bytes = 0;
        for (var i = 0; i < received; i++)
        {
            ref var message = ref _messages[i];
            if ((message.Header.Flags & Libc.MSG_TRUNC) != 0)
            {
                counters.AddTruncated();
                continue;
            }

            var nameLength = (int)Math.Min(message.Header.NameLength, (uint)PacketAddress.Capacity);
            var name = new ReadOnlySpan<byte>(_addresses + (i * PacketAddress.Capacity), nameLength);
            if (onlyFrom && !name.SequenceEqual(_fixedPeer.Used))
            {
                counters.AddForeignPeer();
                continue;
            }

            var buffer = buffers[i];
            var length = (int)message.Length;
            if (_vnet is not null)
            {
                length -= VirtioNetHeader.Length;
                if (length < 0 || !VirtioNetHeader.TryRead(new ReadOnlySpan<byte>(_vnet + (i * VirtioNetHeader.Length), VirtioNetHeader.Length), buffer))
                {
                    counters.AddBadOffload();
                    continue;
                }

                // SetReceived below clears the offload it just read; keep it across.
                var offload = buffer.Offload;
                var start = buffer.ChecksumStart;
                var offset = buffer.ChecksumOffset;
                var headers = buffer.GsoHeaderLength;
                buffer.SetReceived(length);
                buffer.Offload = offload;
                buffer.ChecksumStart = start;
                buffer.ChecksumOffset = offset;
                buffer.GsoHeaderLength = headers;
            }
            else
            {
                buffer.SetReceived(length);
            }

            if (_control is not null && !PutBackVlanTag(ref message.Header, buffer))
            {
                counters.AddTruncated();
                continue;
            }

            name.CopyTo(buffer.Peer.Bytes);
            buffer.Peer.SetLength(nameLength);
            bytes += buffer.FrameLength;
            if (i != kept)
            {
                (buffers[kept], buffers[i]) = (buffers[i], buffers[kept]);
            }

            kept++;
        }

        counters.AddReceived(kept, bytes);
        return kept;
    }

    /// <summary>
    /// Reads the message's PACKET_AUXDATA and puts back the VLAN tag the kernel took off (TP_STATUS_VLAN_VALID; the TPID
    /// from tp_vlan_tpid when TP_STATUS_VLAN_TPID_VALID, else 802.1Q's). An offload's csum_start and hdr_len move with the
    /// headers. False when the tag does not fit the buffer's headroom.
    /// </summary>
    internal static bool PutBackVlanTag(ref MsgHdr header, PacketBuffer buffer)
    {
        var control = (byte*)header.Control;
        if (header.ControlLength < ControlHeaderLength + AuxDataLength
            || *(int*)(control + 8) != Libc.SOL_PACKET || *(int*)(control + 12) != Libc.PACKET_AUXDATA)
        {
            return true;
        }

        var data = control + ControlHeaderLength;
        var status = *(uint*)data;
        if ((status & StatusVlanValid) == 0)
        {
            return true;
        }

        var tpid = (status & StatusVlanTpidValid) != 0 ? *(ushort*)(data + 18) : (ushort)0x8100;
        if (!buffer.TryInsertVlanTag(tpid, *(ushort*)(data + 16)))
        {
            return false;
        }

        if (buffer.Offload.NeedsChecksum)
        {
            buffer.ChecksumStart += PacketConstants.VlanTagLength;
        }

        if (buffer.Offload.IsGso)
        {
            buffer.GsoHeaderLength += PacketConstants.VlanTagLength;
        }

        return true;
    }

    /// <summary>sendmmsg of every buffer's frame, in chunks of <see cref="PacketPort.MaxBatch"/>.</summary>
    public int Send(int fd, ReadOnlySpan<PacketBuffer> buffers, PortCounters counters)
    {
        var total = 0;
        while (!buffers.IsEmpty)
        {
            var chunk = buffers[..Math.Min(buffers.Length, PacketPort.MaxBatch)];
            buffers = buffers[chunk.Length..];
            total += SendChunk(fd, chunk, counters);
        }

        return total;
    }

    private int SendChunk(int fd, ReadOnlySpan<PacketBuffer> buffers, PortCounters counters)
    {
        var n = 0;
        for (var i = 0; i < buffers.Length; i++)
        {
            var buffer = buffers[i];
            ref var header = ref _messages[n].Header;
            var name = _addresses + (n * PacketAddress.Capacity);
            switch (_addressing)
            {
                case SendAddressing.PerBuffer:
                    if (buffer.Peer.IsEmpty)
                    {
                        counters.AddNoPeer();
                        continue;
                    }

                    buffer.Peer.Used.CopyTo(new Span<byte>(name, PacketAddress.Capacity));
                    header.Name = name;
                    header.NameLength = (uint)buffer.Peer.Length;
                    break;
                case SendAddressing.Fixed:
                    _fixedPeer.Used.CopyTo(new Span<byte>(name, PacketAddress.Capacity));
                    header.Name = name;
                    header.NameLength = (uint)_fixedPeer.Length;
                    break;
                default:
                    header.Name = null;
                    header.NameLength = 0;
                    break;
            }

            header.Iov = SetIov(n, buffer.FramePointer, buffer.FrameLength);
            header.IovLength = (nuint)_iovPerMessage;
            if (_vnet is not null)
            {
                VirtioNetHeader.Write(new Span<byte>(_vnet + (n * VirtioNetHeader.Length), VirtioNetHeader.Length), buffer);
            }

            header.Control = null;
            header.ControlLength = 0;
            header.Flags = 0;
            n++;
        }

        var done = 0;
        var accepted = 0;
        while (done < n)
        {
            var sent = Libc.sendmmsg(fd, _messages + done, (uint)(n - done), 0);
            if (sent > 0)
            {
                long bytes = 0;
                for (var i = done; i < done + sent; i++)
                {
                    bytes += _messages[i].Length - (_vnet is null ? 0u : VirtioNetHeader.Length);
                }

                counters.AddSent(sent, bytes);
                done += sent;
                accepted += sent;
                continue;
            }

            var errno = Libc.LastErrno;
            if (errno == Errno.EINTR)
            {
                continue;
            }

            if (errno == Errno.EAGAIN || sent == 0)
            {
                // The send buffer is full: UDP semantics, drop the rest rather than stall the loop.
                counters.SendFailed(n - done, Errno.EAGAIN);
                break;
            }

            // The first message itself failed (unreachable peer, frame too big): drop it, keep the rest.
            counters.SendFailed(1, errno);
            done++;
        }

        return accepted;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        NativeMemory.Free(_messages);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_addresses);
        NativeMemory.Free(_vnet);
        NativeMemory.Free(_control);
    }
}
