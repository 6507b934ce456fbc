using System.Buffers.Binary;
using System.Diagnostics;
using Dva.Shared.Wire;

namespace Dva.EndToEnd.Tests.Wireshark;

/// <summary>
/// The Lua dissector in tools/wireshark/dva.lua, run by the real tshark over a capture of datagrams that
/// the project's own writer produced: the decoded fields must be the ones written.
/// </summary>
public sealed class DissectorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dva-dissector-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Tshark_DecodesHeadersTheWriterProduced()
    {
        var dispatch = Datagram(new TunnelFields
        {
            DNode = 7, HNode = 100, SNode = 100, Type = TunnelType.Dispatch, Era = 1, Ttl = 255, IfId = 2, VlanTci = 0x0064,
        }, []);
        var punt = Datagram(new TunnelFields
        {
            DNode = 3, HNode = 9, SNode = 100, Type = TunnelType.Handoff, Handoff = Handoff.Punt, Hook = Hook.PreRouting,
            Table = NetfilterTable.Raw, Trr = true, Era = 0, Ttl = 253, IfId = 1,
        }, [7, 9, 4094]);
        var egress = Datagram(new TunnelFields
        {
            DNode = 100, HNode = 5, SNode = 100, Type = TunnelType.Egress, Handoff = Handoff.Resolve, Hook = Hook.PostRouting,
            Table = NetfilterTable.Nat, Era = 1, Ttl = 250, IfId = 3,
        }, []);

        var pcap = Path.Combine(_dir, "tunnel.pcap");
        WritePcap(pcap, [dispatch, punt, egress]);

        var fields = new[] { "dva.type", "dva.handoff", "dva.era", "dva.snode", "dva.ifid", "dva.ttl", "dva.dnode", "dva.hnode", "dva.nid_list", "dva.hook", "dva.table", "dva.vlan_tci", "ip.dst" };
        var lines = await RunTsharkAsync(pcap, fields);

        Assert.Equal(3, lines.Length);
        // The inner frame is dissected too, so ip.dst lists the outer and then the inner destination.
        Assert.Equal("0,0,1,100,2,255,7,100,,0,0,0x0064,127.0.0.2,198.51.100.2", lines[0]);
        Assert.Equal("1,1,0,100,1,253,3,9,7,9,4094,1,1,0x0000,127.0.0.2,198.51.100.2", lines[1]);
        Assert.Equal("2,5,1,100,3,250,100,5,,5,3,0x0000,127.0.0.2,198.51.100.2", lines[2]);
    }

    private static byte[] Datagram(TunnelFields fields, ushort[] nids)
    {
        var frame = InnerFrame();
        var buffer = new byte[128 + frame.Length];
        frame.CopyTo(buffer, 128);
        var error = TunnelWriter.TryWriteInFront(buffer, 128, frame.Length, fields, nids, out var start, out var length);
        Assert.Equal(WireError.None, error);
        return buffer.AsSpan(start, length).ToArray();
    }

    // Ethernet + IPv4 + UDP 192.0.2.10:40000 -> 198.51.100.2:53 with an 8-byte payload.
    private static byte[] InnerFrame()
    {
        var f = new byte[14 + 20 + 8 + 8];
        f[0] = 0x02; f[5] = 0x01; f[6] = 0x02; f[11] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        WriteIpv4(f.AsSpan(14), 17, 0xC000020A, 0xC6336402, 8 + 8);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 53);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), 16);
        return f;
    }

    private static void WriteIpv4(Span<byte> ip, byte protocol, uint src, uint dst, int payload)
    {
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payload));
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dst);
        uint sum = 0;
        for (var i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
    }

    // Classic libpcap file, link type Ethernet; each datagram in Ethernet + IPv4 + UDP to port 6090.
    private static void WritePcap(string path, byte[][] datagrams)
    {
        using var file = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1);
        file.Write(header);
        var t = 1_700_000_000u;
        Span<byte> record = stackalloc byte[16];
        foreach (var d in datagrams)
        {
            var packet = new byte[14 + 20 + 8 + d.Length];
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(12), 0x0800);
            WriteIpv4(packet.AsSpan(14), 17, 0x7F000001, 0x7F000002, 8 + d.Length);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(34), 49152);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(36), TunnelLayout.DefaultUdpPort);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(38), (ushort)(8 + d.Length));
            d.CopyTo(packet, 42);
            BinaryPrimitives.WriteUInt32LittleEndian(record, t++);
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)packet.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)packet.Length);
            file.Write(record);
            file.Write(packet);
        }
    }

    internal static async Task<string[]> RunTsharkAsync(string pcap, IEnumerable<string> fields, string? filter = "dva")
    {
        var script = Path.Combine(RepoRoot(), "tools", "wireshark", "dva.lua");
        var psi = new ProcessStartInfo("tshark")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-n", "-X", $"lua_script:{script}", "-r", pcap, "-T", "fields", "-E", "separator=,", "-E", "aggregator=," })
        {
            psi.ArgumentList.Add(a);
        }

        if (filter is not null)
        {
            psi.ArgumentList.Add("-Y");
            psi.ArgumentList.Add(filter);
        }

        foreach (var f in fields)
        {
            psi.ArgumentList.Add("-e");
            psi.ArgumentList.Add(f);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("tshark did not start (is it installed? test.sh installs it)");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        var output = await stdout;
        Assert.True(p.ExitCode == 0, $"tshark exited {p.ExitCode}: {await stderr}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Dva.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Dva.sln not found above the test assembly");
    }
}
