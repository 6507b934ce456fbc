using System.Text.Json;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

/// <summary>Mapping shared by every <see cref="ManagedEntity"/>.</summary>
internal static class ManagedEntityConfiguration
{
    private static readonly ValueComparer<List<StatusCondition>> ConditionsComparer = new(
        (a, b) => a!.SequenceEqual(b!),
        list => list.Aggregate(0, (hash, c) => HashCode.Combine(hash, c.GetHashCode())),
        list => list.ToList());

    public static void ConfigureManaged<T>(this EntityTypeBuilder<T> builder)
        where T : ManagedEntity
    {
        builder.HasKey(e => e.Id);
        // Application-managed version: services bump it, EF adds "WHERE Version = @original" to updates.
        builder.Property(e => e.Version).IsConcurrencyToken();
        builder.Property(e => e.Conditions)
            .HasConversion(
                list => JsonSerializer.Serialize(list, JsonSerializerOptions.Web),
                json => JsonSerializer.Deserialize<List<StatusCondition>>(json, JsonSerializerOptions.Web) ?? new List<StatusCondition>(),
                ConditionsComparer)
            .HasColumnName("ConditionsJson");
    }
}
