using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Infrastructure;

/// <summary>
/// Runs a changing request again when its write lost a race (EF's Version check) and the client sent no If-Match.
/// Without If-Match the client asked for the change whatever the object's version, and the manager itself writes
/// nodes and statuses on its own (the fleet reconciler drains the same node an operator drains when a DVA scales in):
/// such a race is the manager's business, not the client's. The second run starts from fresh rows. With If-Match the
/// client asked for that version only, so the lost race stays a 412 (<see cref="ProblemExceptionHandler"/>).
/// </summary>
internal sealed class ConcurrencyRetryFilter : IEndpointFilter
{
    /// <summary>Runs in all; a row that changes under every run is left to the 412.</summary>
    public const int Attempts = 3;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var request = context.HttpContext.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || request.Headers.IfMatch.Count > 0)
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
                context.HttpContext.RequestServices.GetRequiredService<ManagerDbContext>().ChangeTracker.Clear();
            }
        }
    }
}
