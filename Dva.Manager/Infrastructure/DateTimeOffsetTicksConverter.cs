using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Dva.Manager.Infrastructure;

internal sealed class DateTimeOffsetTicksConverter() : ValueConverter<DateTimeOffset, long>(
    value => value.UtcTicks,
    ticks => new DateTimeOffset(ticks, TimeSpan.Zero));
