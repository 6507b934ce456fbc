using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class SharedInterfaceConfiguration : IEntityTypeConfiguration<SharedInterface>
{
    public void Configure(EntityTypeBuilder<SharedInterface> builder)
    {
        builder.ToTable("SharedInterfaces");
        builder.ConfigureManaged();
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.DvaId, e.Ifid }).IsUnique();
        builder.HasIndex(e => new { e.DvaId, e.Name }).IsUnique();
        builder.Property(e => e.Name).HasMaxLength(63);
        builder.Property(e => e.Mac).HasMaxLength(17);
        builder.PrimitiveCollection(e => e.Addresses);
        builder.OwnsOne(e => e.Trunk, trunk =>
        {
            trunk.ToTable("SharedInterfaceTrunks");
            trunk.WithOwner().HasForeignKey("InterfaceId");
            trunk.HasKey("InterfaceId");
            trunk.PrimitiveCollection(t => t.Vlans);
        });
        builder.Navigation(e => e.Trunk).IsRequired();
        builder.OwnsOne(e => e.Ipv6Router, router =>
        {
            router.ToTable("SharedInterfaceIpv6Routers");
            router.WithOwner().HasForeignKey("InterfaceId");
            router.HasKey("InterfaceId");
        });
        builder.Navigation(e => e.Ipv6Router).IsRequired();
        builder.OwnsOne(e => e.HostConfiguration, host =>
        {
            host.ToTable("SharedInterfaceHostConfigurations");
            host.WithOwner().HasForeignKey("InterfaceId");
            host.HasKey("InterfaceId");
            host.Property(h => h.Dhcpv6).HasMaxLength(8);
            host.PrimitiveCollection(h => h.DnsServers);
            host.PrimitiveCollection(h => h.DnsSearch);
        });
        builder.Navigation(e => e.HostConfiguration).IsRequired();
        builder.OwnsMany(e => e.SubInterfaces, sub =>
        {
            sub.ToTable("SharedInterfaceSubInterfaces");
            sub.WithOwner().HasForeignKey("InterfaceId");
            sub.HasKey("InterfaceId", nameof(SubInterface.Vlan));
            sub.Property(v => v.Vlan).ValueGeneratedNever();
            sub.PrimitiveCollection(v => v.Addresses);
        });
    }
}
