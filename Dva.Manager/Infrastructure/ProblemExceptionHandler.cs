using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Infrastructure;

/// <summary>Maps exceptions to problem+json: unreadable bodies to 400/413, lost write races to 412/409, the rest to 500.</summary>
internal sealed class ProblemExceptionHandler(IProblemDetailsService problemDetails, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, ReasonPhrases.GetReasonPhrase(bad.StatusCode), bad.InnerException?.Message is { } inner ? $"{bad.Message} {inner}" : bad.Message),
            // Another request changed the row between our read and our write (EF's Version check).
            DbUpdateConcurrencyException => (StatusCodes.Status412PreconditionFailed, "Precondition failed",
                "The object was changed by someone else while this request ran. Read it again and retry."),
            // A unique index caught a duplicate that validation did not see because of a concurrent write.
            DbUpdateException => (StatusCodes.Status409Conflict, "Conflict", "The change conflicts with another object; read and retry."),
            _ => (StatusCodes.Status500InternalServerError, "Internal server error", "The manager failed to handle the request; see its log."),
        };
        if (status == StatusCodes.Status500InternalServerError)
        {
            logger.LogError(exception, "Unhandled exception for {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}
