using Dva.Manager.Apis;
using Dva.Manager.Dashboard;
using Dva.Manager.Demo;
using Dva.Manager.Extensions;
using Dva.Manager.Hubs;
using Dva.Manager.Provider;
using Dva.Manager.Rollout;

var builder = WebApplication.CreateBuilder(args);
builder.AddApplicationServices();
builder.AddNodeHub();
builder.AddDashboard();
builder.AddLocalComputeUnits();
builder.AddDemo();

var app = builder.Build();
app.UseApplicationPipeline();

app.MapOperationsApi();
app.MapDvasApi();
app.MapInterfacesApi();
app.MapRoutesApi();
app.MapFirewallRulesApi();
app.MapVipsApi();
app.MapPoolsApi();
app.MapNodesApi();
app.MapTablesApi();
app.MapStatsApi();
app.MapAuditApi();
app.MapKeysApi();
app.MapRolloutApi();
app.MapNodeHub();
app.MapDashboard();
app.MapLocalUnitsApi();
app.MapDemoApi();

app.Run();

/// <summary>Exposed for WebApplicationFactory in tests.</summary>
public partial class Program;
