namespace Dva.Tests.Common;

/// <summary>
/// Bytes a piece of per-packet code allocates on the test thread. The runtime's own one-off work (tiering a method up,
/// which can land in any pass) allocated a few kilobytes on the calling thread in full test runs under load (5 880
/// bytes in TunnelWriterTests, 6 856 in RuleSetTests), so the fewest bytes of several passes is the figure: an
/// allocation in the code itself shows in every pass.
/// </summary>
internal static class AllocationProbe
{
    public static long FewestBytes(Action pass, int passes = 5)
    {
        ArgumentNullException.ThrowIfNull(pass);
        var fewest = long.MaxValue;
        for (var i = 0; i < passes; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            pass();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return fewest;
    }
}
