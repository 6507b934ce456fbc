using System.Globalization;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

/// <summary>Maps service results to typed HTTP results; every failure becomes problem+json.</summary>
internal static class ApiResults
{
    public static Results<Ok<T>, ValidationProblem, ProblemHttpResult> Ok<T>(ServiceResult<T> result, HttpResponse response)
    {
        if (result.Failure is { } failure)
        {
            return Map<Results<Ok<T>, ValidationProblem, ProblemHttpResult>>(failure, r => r, r => r);
        }

        SetETag(response, result.Value);
        return TypedResults.Ok(result.Value);
    }

    public static Results<Created<T>, ValidationProblem, ProblemHttpResult> Created<T>(
        ServiceResult<T> result, HttpResponse response, Func<T, string> location)
    {
        if (result.Failure is { } failure)
        {
            return Map<Results<Created<T>, ValidationProblem, ProblemHttpResult>>(failure, r => r, r => r);
        }

        SetETag(response, result.Value);
        return TypedResults.Created(location(result.Value!), result.Value);
    }

    public static Results<Accepted<T>, ValidationProblem, ProblemHttpResult> Accepted<T>(
        ServiceResult<T> result, HttpResponse response, string location)
    {
        if (result.Failure is { } failure)
        {
            return Map<Results<Accepted<T>, ValidationProblem, ProblemHttpResult>>(failure, r => r, r => r);
        }

        SetETag(response, result.Value);
        return TypedResults.Accepted(location, result.Value);
    }

    public static Results<NoContent, ValidationProblem, ProblemHttpResult> NoContent(ServiceResult<bool> result) =>
        result.Failure is { } failure
            ? Map<Results<NoContent, ValidationProblem, ProblemHttpResult>>(failure, r => r, r => r)
            : TypedResults.NoContent();

    /// <summary>
    /// The version in an If-Match header ("5" or W/"5"); null when absent or "*". A value that is not a
    /// version we issued can never match, so it is returned as -1 and fails as stale.
    /// </summary>
    public static long? IfMatch(HttpRequest request)
    {
        var header = request.Headers.IfMatch.ToString().Trim();
        if (header.Length == 0 || header == "*")
        {
            return null;
        }

        var tag = header.StartsWith("W/", StringComparison.Ordinal) ? header[2..] : header;
        return tag.Length > 2 && tag[0] == '"' && tag[^1] == '"'
            && long.TryParse(tag.AsSpan(1, tag.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? version
            : -1;
    }

    private static void SetETag<T>(HttpResponse response, T value)
    {
        if (value is IVersioned versioned)
        {
            response.Headers.ETag = $"\"{versioned.Version.ToString(CultureInfo.InvariantCulture)}\"";
        }
    }

    private static TResult Map<TResult>(
        ServiceFailure failure,
        Func<ValidationProblem, TResult> invalid,
        Func<ProblemHttpResult, TResult> problem) => failure.Status switch
        {
            // ProblemHttpResult rather than NotFound<ProblemDetails>: the latter is sent as application/json.
            ServiceStatus.NotFound => problem(TypedResults.Problem(failure.Detail, statusCode: StatusCodes.Status404NotFound, title: "Not found")),
            ServiceStatus.Invalid => invalid(TypedResults.ValidationProblem(failure.Errors!, failure.Detail)),
            ServiceStatus.Conflict => problem(TypedResults.Problem(failure.Detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict")),
            ServiceStatus.PreconditionFailed => problem(TypedResults.Problem(failure.Detail, statusCode: StatusCodes.Status412PreconditionFailed, title: "Precondition failed")),
            _ => problem(TypedResults.Problem(failure.Detail, statusCode: StatusCodes.Status428PreconditionRequired, title: "Precondition required")),
        };
}
