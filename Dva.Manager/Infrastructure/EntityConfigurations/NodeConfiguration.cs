using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class NodeConfiguration : IEntityTypeConfiguration<Node>
{
    public void Configure(EntityTypeBuilder<Node> builder)
    {
        builder.ToTable("Nodes");
        builder.ConfigureManaged();
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.SetNull);
        builder.HasIndex(e => e.Name).IsUnique();
        // Node ids are unique within a DVA; unallocated nodes (NULL DvaId) do not collide in SQLite.
        builder.HasIndex(e => new { e.DvaId, e.NodeId }).IsUnique();
        builder.Property(e => e.Name).HasMaxLength(63);
        builder.Property(e => e.TunnelEndpoint).HasMaxLength(64);
    }
}
