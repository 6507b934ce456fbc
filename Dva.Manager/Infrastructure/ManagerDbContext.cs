using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Infrastructure;

internal sealed class ManagerDbContext(DbContextOptions<ManagerDbContext> options) : DbContext(options)
{
    public DbSet<Appliance> Dvas => Set<Appliance>();

    public DbSet<SharedInterface> Interfaces => Set<SharedInterface>();

    public DbSet<StaticRoute> Routes => Set<StaticRoute>();

    public DbSet<FirewallRule> FirewallRules => Set<FirewallRule>();

    public DbSet<Vip> Vips => Set<Vip>();

    public DbSet<Pool> Pools => Set<Pool>();

    public DbSet<Member> Members => Set<Member>();

    public DbSet<Node> Nodes => Set<Node>();

    public DbSet<TableVersionRecord> TableVersions => Set<TableVersionRecord>();

    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<FleetMark> FleetMarks => Set<FleetMark>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ManagerDbContext).Assembly);

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Enums as text: the database stays readable and reordering an enum cannot corrupt it.
        configurationBuilder.Properties<Enum>().HaveConversion<string>();
        // SQLite cannot order or compare DateTimeOffset; store UTC ticks so audit paging can sort by time.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetTicksConverter>();
        configurationBuilder.Properties<ulong>().HaveConversion<long>();
    }
}
