namespace Dva.Node;

internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine("dva-node: the DVA node agent (dispatcher or data plane).");
            Console.WriteLine("usage: dva-node help");
            return 0;
        }

        Console.Error.WriteLine($"dva-node: unknown command '{args[0]}'. Run 'dva-node help' for the list of commands.");
        return 2;
    }
}
