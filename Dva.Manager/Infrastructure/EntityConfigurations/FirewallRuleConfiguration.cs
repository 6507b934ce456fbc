using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class FirewallRuleConfiguration : IEntityTypeConfiguration<FirewallRule>
{
    public void Configure(EntityTypeBuilder<FirewallRule> builder)
    {
        builder.ToTable("FirewallRules");
        builder.ConfigureManaged();
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.DvaId, e.Priority });
        builder.Property(e => e.Source).HasMaxLength(49);
        builder.Property(e => e.Destination).HasMaxLength(49);
        builder.Property(e => e.SourcePorts).HasMaxLength(11);
        builder.Property(e => e.DestinationPorts).HasMaxLength(11);
        builder.Property(e => e.Description).HasMaxLength(1024);
        builder.OwnsOne(e => e.Vlan, vlan =>
        {
            vlan.ToTable("FirewallRuleVlans");
            vlan.WithOwner().HasForeignKey("RuleId");
            vlan.HasKey("RuleId");
        });
        builder.Navigation(e => e.Vlan).IsRequired();
    }
}
