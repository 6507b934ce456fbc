using Dva.Simulator;

namespace Dva.Shared.Tests.Simulation;

public class SimulatorCommandTests
{
    [Fact]
    public void Parse_NoScenario_RunsEveryBuiltInForTheGivenUnits()
    {
        SimulatorCommand command = SimulatorCommand.Parse(["--units", "64", "--flows", "5000", "--churn", "0.25", "--no-prune"]);

        Assert.Equal(ScenarioScript.BuiltInNames, command.Scenarios.Select(s => s.Name));
        Assert.Equal("start 8; add 8 x7", command.Scenarios[0].Script);
        Assert.Equal(5000, command.Options.Flows);
        Assert.Equal(0.25, command.Options.Churn);
        Assert.False(command.Options.PruneEmptyHistory);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--flows")]
    [InlineData("--flows", "-3")]
    [InlineData("--churn", "much")]
    public void Parse_BadArguments_ThrowsFormatException(params string[] args)
    {
        Assert.Throws<FormatException>(() => SimulatorCommand.Parse(args));
    }
}
