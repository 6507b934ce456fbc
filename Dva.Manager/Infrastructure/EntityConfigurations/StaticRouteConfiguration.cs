using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class StaticRouteConfiguration : IEntityTypeConfiguration<StaticRoute>
{
    public void Configure(EntityTypeBuilder<StaticRoute> builder)
    {
        builder.ToTable("StaticRoutes");
        builder.ConfigureManaged();
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.DvaId, e.Prefix }).IsUnique();
        builder.Property(e => e.Prefix).HasMaxLength(49);
        builder.Property(e => e.NextHop).HasMaxLength(45);
    }
}
