using Dva.Simulator;

namespace Dva.Shared.Tests.Simulation;

public class ScenarioScriptTests
{
    [Fact]
    public void Parse_ScaleOutByRepeat_StartThenSevenAdds()
    {
        IReadOnlyList<ScenarioStep> steps = ScenarioScript.Parse("start 8; add 8 x7");

        Assert.Equal(8, steps.Count);
        Assert.Equal(new ScenarioStep(StepKind.Start, 8), steps[0]);
        Assert.All(steps.Skip(1), s => Assert.Equal(new ScenarioStep(StepKind.Add, 8), s));
    }

    [Fact]
    public void Parse_PercentAllAndWeight_ResolveAgainstActiveUnits()
    {
        IReadOnlyList<ScenarioStep> steps = ScenarioScript.Parse("start 40; fail 10%; weight all 150");

        Assert.Equal(4, steps[1].ResolveCount(40));
        Assert.Equal(40, steps[2].ResolveCount(40));
        Assert.Equal(150, steps[2].Weight);
        Assert.Equal("weight all 150", steps[2].ToString());
    }

    [Theory]
    [InlineData("add 8")]
    [InlineData("start 8; start 9")]
    [InlineData("start 8; grow 2")]
    [InlineData("start 8; weight 2")]
    [InlineData("start 8; drain -1")]
    [InlineData("start 8; add 2 x0")]
    public void Parse_Invalid_ThrowsFormatException(string script)
    {
        Assert.Throws<FormatException>(() => ScenarioScript.Parse(script));
    }

    [Theory]
    [InlineData("scale-out", 64, "start 8; add 8 x7")]
    [InlineData("scale-in", 64, "start 64; drain 8 x7")]
    [InlineData("fail", 1000, "start 1000; fail 10%")]
    public void BuiltIn_ScalesWithUnits(string name, int units, string expected)
    {
        Assert.Equal(expected, ScenarioScript.BuiltIn(name, units, steps: 10));
    }
}
