using static Dva.Shared.Tests.Wire.GoldenVectors;

namespace Dva.Shared.Tests.Wire;

public class ProtocolDocTests
{
    private static string ReadProtocolDoc()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dva.sln")))
        {
            directory = directory.Parent;
        }

        Assert.NotNull(directory);
        return File.ReadAllText(Path.Combine(directory.FullName, "docs", "protocol.md"));
    }

    [Fact]
    public void ProtocolDoc_GoldenVectors_SameBytesAsTheTests()
    {
        // Implementers of other stacks copy these bytes from the doc; they must be the ones the code produces.
        var doc = ReadProtocolDoc();
        string[] expected =
        [
            Frame, BroadcastFrame, ResolveFrame,
            DispatchHeader + "  F", PuntHeader + "  F", BroadcastHeader + "  FB", EgressResolveHeader + "  FR",
            SecureDispatchHeader + "  F\n" + SecureTag, ControlHeader + "  " + ControlPayload,
            OffloadDispatchHeader + "  F", ParkDispatchHeader + "  F", ShortcutEgressHeader + "  F", OriginEgressHeader + "  F",
        ];

        foreach (var text in expected)
        {
            Assert.Contains(text, doc, StringComparison.Ordinal);
        }
    }
}
