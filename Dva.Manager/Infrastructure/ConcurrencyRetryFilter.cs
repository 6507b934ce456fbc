using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Infrastructure;

/// <summary>
/// Runs a changing request again when its write lost a race (EF's Version check) and the client sent no If-Match,
/// on the endpoints marked <see cref="RunAgainOnLostRaceMetadata"/> only. Without If-Match the client asked for the
/// change whatever the object's version, and the manager itself writes nodes and statuses on its own (the fleet
/// reconciler drains the same node an operator drains when a DVA scales in): such a race is the manager's business,
/// not the client's. The second run starts from fresh rows. With If-Match the client asked for that version only, so
/// the lost race stays a 412 (<see cref="ProblemExceptionHandler"/>), and so it does on an unmarked endpoint.
/// </summary>
/// <remarks>
/// A run is repeated whole, so only a handler whose every effect is in the one failed transaction may be marked:
/// it reads, changes tracked rows and saves once (<c>AuditLog.SaveAsync</c>). A handler that saves twice (the first
/// save stays), or acts outside the database before a save that can fail (hub messages such as a tunnel key
/// rotation's steps, process starts), would repeat what it did; it is left unmarked.
/// </remarks>
internal sealed class ConcurrencyRetryFilter : IEndpointFilter
{
    /// <summary>Runs in all; a row that changes under every run is left to the 412.</summary>
    public const int Attempts = 3;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var request = http.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || request.Headers.IfMatch.Count > 0
            || http.GetEndpoint()?.Metadata.GetMetadata<RunAgainOnLostRaceMetadata>() is null)
        {
            return await next(context);
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await next(context);
            }
            catch (DbUpdateConcurrencyException) when (attempt < Attempts)
            {
                // Nothing of the failed run was saved (SaveChanges is one transaction); forget its tracked, stale rows.
                http.RequestServices.GetRequiredService<ManagerDbContext>().ChangeTracker.Clear();
            }
        }
    }
}

/// <summary>
/// Endpoint metadata: the handler may be run again after a lost write race (<see cref="ConcurrencyRetryFilter"/>).
/// Put on an endpoint with <see cref="RunAgainOnLostRaceExtensions.RunAgainOnLostRace{TBuilder}"/>.
/// </summary>
internal sealed class RunAgainOnLostRaceMetadata
{
    public static readonly RunAgainOnLostRaceMetadata Instance = new();

    private RunAgainOnLostRaceMetadata()
    {
    }
}

internal static class RunAgainOnLostRaceExtensions
{
    /// <summary>
    /// Marks the endpoint safe to run again after a lost write race: its handler saves once, in one transaction, and
    /// does nothing outside the database before that save (see <see cref="ConcurrencyRetryFilter"/>).
    /// </summary>
    public static TBuilder RunAgainOnLostRace<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(RunAgainOnLostRaceMetadata.Instance);
}
