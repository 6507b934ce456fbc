#!/usr/bin/env python3
"""Independent generator of the golden frames in GoldenFrames.cs (plain struct/bytes, no C# code
shared). Run: python3 make_frames.py > GoldenFrames.cs"""
import struct, ipaddress

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def ip(a): return ipaddress.ip_address(a).packed
def mac(m): return bytes.fromhex(m.replace(':', ''))

A = mac('02:00:00:00:00:01'); B = mac('02:00:00:00:00:02')

def eth(dst, src, et, vlan=None):
    if vlan is None: return dst + src + struct.pack('!H', et)
    return dst + src + struct.pack('!HHH', 0x8100, vlan, et)

def ipv4(src, dst, proto, payload, ident=0, ff=0, ttl=64, tos=0, options=b''):
    ihl = 5 + len(options) // 4
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, tos, ihl * 4 + len(payload), ident, ff, ttl, proto, 0, ip(src), ip(dst)) + options
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload

def ipv6(src, dst, nh, payload, hop=64):
    return struct.pack('!IHBB16s16s', 0x60000000, len(payload), nh, hop, ip(src), ip(dst)) + payload

def pseudo(src, dst, proto, length):
    s, d = ip(src), ip(dst)
    if len(s) == 4: return s + d + struct.pack('!BBH', 0, proto, length)
    return s + d + struct.pack('!IxxxB', length, proto)

def tcp(src, dst, sport, dport, seq, ack, flags, options=b'', payload=b'', window=65535):
    off = (20 + len(options)) // 4
    h = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, off << 4, flags, window, 0, 0) + options + payload
    c = csum(pseudo(src, dst, 6, len(h)) + h)
    return h[:16] + struct.pack('!H', c) + h[18:]

def udp(src, dst, sport, dport, payload):
    h = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(src, dst, 17, len(h)) + h) or 0xffff
    return h[:6] + struct.pack('!H', c) + h[8:]

def icmp4(t, code, rest, data):
    h = struct.pack('!BBH', t, code, 0) + rest + data
    return h[:2] + struct.pack('!H', csum(h)) + h[4:]

def icmp6(src, dst, t, code, rest, data):
    h = struct.pack('!BBH', t, code, 0) + rest + data
    c = csum(pseudo(src, dst, 58, len(h)) + h)
    return h[:2] + struct.pack('!H', c) + h[4:]

frames = {}
V4A, V4B, RTR4 = '192.0.2.1', '198.51.100.2', '203.0.113.254'
V6A, V6B, RTR6 = '2001:db8::1', '2001:db8:1::2', '2001:db8:ffff::1'

# TCP/IPv4 SYN 192.0.2.1:50000 -> 198.51.100.2:80, MSS 1460, NOP NOP SACK-permitted, 4 payload bytes.
syn_opts = bytes([2, 4, 0x05, 0xb4, 1, 1, 4, 2])
tcp4 = ipv4(V4A, V4B, 6, tcp(V4A, V4B, 50000, 80, 0x01020304, 0, 0x02, syn_opts, b'ABCD'), ident=0x1234, ff=0x4000)
frames['TcpSynIpv4'] = eth(B, A, 0x0800) + tcp4
frames['TcpSynIpv4Vlan'] = eth(B, A, 0x0800, vlan=0x2064) + tcp4
# Same SYN with the MSS behind one NOP (value at an odd offset inside the TCP header).
odd_opts = bytes([1, 2, 4, 0x05, 0xb4, 1, 1, 1])
frames['TcpSynIpv4OddMss'] = eth(B, A, 0x0800) + ipv4(V4A, V4B, 6, tcp(V4A, V4B, 50000, 80, 0x01020304, 0, 0x02, odd_opts), ident=7)
# IPv4 with an options word (NOP NOP NOP EOL) carrying UDP.
frames['UdpIpv4Options'] = eth(B, A, 0x0800) + ipv4(V4A, V4B, 17, udp(V4A, V4B, 5353, 53, b'hello'), options=bytes([1, 1, 1, 0]))

# UDP/IPv6 with hop-by-hop (PadN) and destination-options headers.
udp6 = udp(V6A, V6B, 40000, 53, b'query!')
dst_opts = bytes([17, 0, 1, 4, 0, 0, 0, 0])
hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0])
frames['UdpIpv6Ext'] = eth(B, A, 0x86dd) + ipv6(V6A, V6B, 0, hbh + dst_opts + udp6)

# ICMPv4 fragmentation needed (MTU 1400) from the router about the SYN: what the builder must produce.
quote4 = tcp4[:20 + 8]
frames['IcmpFragNeededIpv4'] = eth(A, B, 0x0800) + ipv4(RTR4, V4A, 1, icmp4(3, 4, struct.pack('!HH', 0, 1400), quote4))
# Same error, quote cut after 4 bytes of TCP (tolerated).
frames['IcmpShortQuoteIpv4'] = eth(A, B, 0x0800) + ipv4(RTR4, V4A, 1, icmp4(3, 1, b'\0' * 4, tcp4[:24]))

# TCP/IPv6 data segment (ACK|PSH) 2001:db8::1:443 -> 2001:db8:1::2:55000 with 1300 bytes of payload.
tcp6 = ipv6(V6A, V6B, 6, tcp(V6A, V6B, 443, 55000, 1000, 2000, 0x18, b'', bytes(i & 0xff for i in range(1300))))
frames['TcpIpv6Big'] = eth(B, A, 0x86dd) + tcp6
quote6 = tcp6[:1280 - 48]
frames['PacketTooBigIpv6'] = eth(A, B, 0x86dd) + ipv6(RTR6, V6A, 58, icmp6(RTR6, V6A, 2, 0, struct.pack('!I', 1280), quote6))

# ICMPv4 echo request/reply (id 0x4242, seq 7).
ping = icmp4(8, 0, struct.pack('!HH', 0x4242, 7), b'ping-data-0123456789')
frames['EchoRequestIpv4'] = eth(B, A, 0x0800) + ipv4(V4A, V4B, 1, ping, ident=99, ttl=57)
frames['EchoReplyIpv4'] = eth(A, B, 0x0800) + ipv4(V4B, V4A, 1, icmp4(0, 0, struct.pack('!HH', 0x4242, 7), b'ping-data-0123456789'))

# ICMPv6 echo request/reply (id 0x0101, seq 3), VLAN tagged.
frames['EchoRequestIpv6'] = eth(B, A, 0x86dd, vlan=5) + ipv6(V6A, V6B, 58, icmp6(V6A, V6B, 128, 0, struct.pack('!HH', 0x0101, 3), b'v6ping'))
frames['EchoReplyIpv6'] = eth(A, B, 0x86dd, vlan=5) + ipv6(V6B, V6A, 58, icmp6(V6B, V6A, 129, 0, struct.pack('!HH', 0x0101, 3), b'v6ping'))

# TCP RSTs answering the SYN (no ACK: RST|ACK, ack = seq + 4 payload + 1 SYN) and the v6 data segment (ACK: RST, seq = its ack).
frames['RstForSynIpv4'] = eth(A, B, 0x0800) + ipv4(V4B, V4A, 6, tcp(V4B, V4A, 80, 50000, 0, 0x01020304 + 5, 0x14, window=0))
frames['RstForDataIpv6'] = eth(A, B, 0x86dd) + ipv6(V6B, V6A, 6, tcp(V6B, V6A, 55000, 443, 2000, 0, 0x04, window=0))

# ARP request 192.0.2.1 asks for 192.0.2.2; reply from 02:00:00:00:00:02.
frames['ArpRequest'] = eth(b'\xff' * 6, A, 0x0806) + struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, A, ip(V4A), b'\0' * 6, ip('192.0.2.2'))
frames['ArpReply'] = eth(A, B, 0x0806) + struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 2, B, ip('192.0.2.2'), A, ip(V4A))

# A 2960-byte UDP datagram fragmented for MTU 1500: first (MF, offset 0) and second (offset 1480).
big = udp(V4A, V4B, 7000, 8000, bytes(i % 251 for i in range(2952)))
frames['FragmentFirstIpv4'] = eth(B, A, 0x0800) + ipv4(V4A, V4B, 17, big[:1480], ident=0xbeef, ff=0x2000)
frames['FragmentSecondIpv4'] = eth(B, A, 0x0800) + ipv4(V4A, V4B, 17, big[1480:], ident=0xbeef, ff=1480 // 8)
# IPv6: same datagram in two fragments (fragment header id 0xdeadbeef).
big6 = udp(V6A, V6B, 7000, 8000, bytes(i % 251 for i in range(1500)))
frag1 = struct.pack('!BBHI', 17, 0, 0 | 1, 0xdeadbeef) + big6[:1232]
frag2 = struct.pack('!BBHI', 17, 0, 1232, 0xdeadbeef) + big6[1232:]
frames['FragmentFirstIpv6'] = eth(B, A, 0x86dd) + ipv6(V6A, V6B, 44, frag1)
frames['FragmentSecondIpv6'] = eth(B, A, 0x86dd) + ipv6(V6A, V6B, 44, frag2)

print('// <auto-generated> by make_frames.py (independent Python implementation of the checksums). </auto-generated>')
print('namespace Dva.Shared.Tests.Packets;\n')
print('internal static class GoldenFrames\n{')
for name, data in frames.items():
    print(f'    public static byte[] {name} => Convert.FromHexString("{data.hex()}");\n')
print('}')
