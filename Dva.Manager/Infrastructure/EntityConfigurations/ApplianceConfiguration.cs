using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class ApplianceConfiguration : IEntityTypeConfiguration<Appliance>
{
    public void Configure(EntityTypeBuilder<Appliance> builder)
    {
        builder.ToTable("Dvas");
        builder.ConfigureManaged();
        builder.Property(e => e.Name).HasMaxLength(63).IsRequired();
        builder.HasIndex(e => e.Name).IsUnique();
        builder.Property(e => e.Description).HasMaxLength(1024);
        builder.Property(e => e.FirewallRulesVersion).IsConcurrencyToken();
        builder.OwnsOne(e => e.Tunnel, tunnel =>
        {
            tunnel.ToTable("DvaTunnels");
            tunnel.WithOwner().HasForeignKey("DvaId");
            tunnel.HasKey("DvaId");
            tunnel.Property(t => t.Security).HasConversion<string>().HasMaxLength(16);
            tunnel.Property(t => t.Cipher).HasConversion<string>().HasMaxLength(16);
        });
        builder.Navigation(e => e.Tunnel).IsRequired();
        builder.OwnsOne(e => e.DataPlane, dataPlane =>
        {
            dataPlane.ToTable("DvaDataPlanes");
            dataPlane.WithOwner().HasForeignKey("DvaId");
            dataPlane.HasKey("DvaId");
        });
        builder.Navigation(e => e.DataPlane).IsRequired();
        builder.OwnsOne(e => e.Dispatcher, dispatcher =>
        {
            dispatcher.ToTable("DvaDispatchers");
            dispatcher.WithOwner().HasForeignKey("DvaId");
            dispatcher.HasKey("DvaId");
        });
        builder.Navigation(e => e.Dispatcher).IsRequired();
        builder.OwnsOne(e => e.Offload, offload =>
        {
            offload.ToTable("DvaOffloads");
            offload.WithOwner().HasForeignKey("DvaId");
            offload.HasKey("DvaId");
        });
        builder.Navigation(e => e.Offload).IsRequired();
        builder.OwnsOne(e => e.Shortcut, shortcut =>
        {
            shortcut.ToTable("DvaShortcuts");
            shortcut.WithOwner().HasForeignKey("DvaId");
            shortcut.HasKey("DvaId");
        });
        builder.Navigation(e => e.Shortcut).IsRequired();
    }
}
