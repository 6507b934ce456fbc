using Dva.Shared.Security;

namespace Dva.Shared.Tests.Security;

public class ReplayWindowTests
{
    [Fact]
    public void Size_AtLeastWhatDesignAsks()
    {
        Assert.True(ReplayGuard.WindowSize >= 1024);
    }

    [Fact]
    public void TryAccept_EdgeOfWindow_LastInsideAcceptedFirstOutsideTooOld()
    {
        var window = new ReplayWindow();
        const ulong top = 1_000_000;
        Assert.Equal(SecureError.None, window.TryAccept(top));

        Assert.Equal(SecureError.None, window.TryAccept(top - ReplayWindow.Size + 1));
        Assert.Equal(SecureError.TooOld, window.TryAccept(top - ReplayWindow.Size));
    }

    [Fact]
    public void TryAccept_BigJumpForward_ForgetsOldBitsButNotNewOnes()
    {
        var window = new ReplayWindow();
        for (var s = 100UL; s < 200; s++)
        {
            Assert.Equal(SecureError.None, window.TryAccept(s));
        }

        Assert.Equal(SecureError.None, window.TryAccept(100 + 64 * 40));

        Assert.Equal(SecureError.TooOld, window.Check(150));
        Assert.Equal(SecureError.Replayed, window.Check(100 + 64 * 40));
        Assert.Equal(SecureError.None, window.Check(100 + 64 * 40 - 1));
    }

    [Fact]
    public void TryAccept_RandomOrderWithinWindow_EachOnceExactly()
    {
        var window = new ReplayWindow();
        var random = new Random(7);
        var seqs = Enumerable.Range(0, 5000).Select(i => (ulong)i + 10).ToArray();

        // Shuffle only within blocks of 1000 so no SEQ falls behind the window.
        for (var start = 0; start < seqs.Length; start += 1000)
        {
            random.Shuffle(seqs.AsSpan(start, 1000));
        }

        Assert.All(seqs, s => Assert.Equal(SecureError.None, window.TryAccept(s)));
        Assert.All(seqs[^1000..], s => Assert.Equal(SecureError.Replayed, window.TryAccept(s)));
    }

    [Fact]
    public void Check_DoesNotRecord()
    {
        var window = new ReplayWindow();

        Assert.Equal(SecureError.None, window.Check(5));
        Assert.Equal(SecureError.None, window.TryAccept(5));
        Assert.Equal(SecureError.Replayed, window.Check(5));
    }
}
