using Dva.Node.Agent;
using Dva.Node.Bench;
using Dva.Node.Traffic;

namespace Dva.Node;

internal static class Program
{
    public const string Usage = """
        dva-node: the DVA node agent (dispatcher or data plane).

        usage:
          dva-node run --config node.json       run a node from its configuration file (Ctrl-C or SIGTERM stops it)
          dva-node agent --manager URL --enrollment TOKEN   run a unit managed by a manager ('dva-node agent --help')
          dva-node counters --control ip:port   print a running node's counters (--json for the raw document)
          dva-node traffic ...                  play client and server hosts on two udp: wires ('dva-node traffic --help')
          dva-node relay ...                    measure the engine's relay rate on loopback (relay --help)
          dva-node afpacket-bench ...           recvmmsg vs PACKET_MMAP ring (--xdp: and AF_XDP) receive on a veth pair (root)
          dva-node dispatcher-bench ...         the real dispatcher on 1 and N engines (PACKET_FANOUT) on a veth pair (root)
          dva-node shortcut-bench ...           the kernel shortcut's BPF programs per frame, timed by the kernel (root)
          dva-node help                         this text

        exit codes: 0 success, 1 failure while running, 2 bad command line or configuration.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return 0;
        }

        var rest = args[1..];
        switch (args[0])
        {
            case "run":
                return await RunCommand.RunAsync(rest, Console.Out, Console.Error);
            case "agent":
                return await AgentCommand.RunAsync(rest, Console.Out, Console.Error);
            case "counters":
                return await CountersCommand.RunAsync(rest, Console.Out, Console.Error);
            case "traffic":
                return await TrafficCommand.RunAsync(rest, Console.Out, Console.Error);
            case "relay":
                if (rest is ["--help"] or ["-h"])
                {
                    Console.WriteLine($"usage: dva-node {RelayHarnessCommand.Usage}");
                    return 0;
                }

                return RelayHarnessCommand.Run(rest, Console.Out, Console.Error);
            case "afpacket-bench":
                return AfPacketRingHarness.Run(rest, Console.Out, Console.Error);
            case "dispatcher-bench":
                return await DispatcherEnginesHarness.RunAsync(rest, Console.Out, Console.Error);
            case "shortcut-bench":
                return ShortcutProgramHarness.Run(rest, Console.Out, Console.Error);
            default:
                Console.Error.WriteLine($"dva-node: unknown command '{args[0]}'. Run 'dva-node help' for the list of commands.");
                return 2;
        }
    }
}
