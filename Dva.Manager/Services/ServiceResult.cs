namespace Dva.Manager.Services;

internal enum ServiceStatus { NotFound, Invalid, Conflict, PreconditionFailed, PreconditionRequired }

/// <summary>Why a service operation did not happen; the REST layer maps it to problem+json, the UI to a message.</summary>
internal sealed record ServiceFailure(ServiceStatus Status, string Detail, IDictionary<string, string[]>? Errors = null)
{
    public static ServiceFailure NotFound(string what, long id) => new(ServiceStatus.NotFound, $"{what} {id} does not exist.");

    public static ServiceFailure Invalid(ValidationErrors errors) =>
        new(ServiceStatus.Invalid, "One or more fields are invalid.", errors.ToDictionary());

    public static ServiceFailure Stale(long currentVersion) => new(ServiceStatus.PreconditionFailed,
        $"The object was changed by someone else; its current version is \"{currentVersion}\". Read it again and retry.");

    public static ServiceFailure IfMatchRequired(string what) =>
        new(ServiceStatus.PreconditionRequired, $"Replacing {what} requires an If-Match header with the ETag read last.");

    public static ServiceFailure Conflict(string detail) => new(ServiceStatus.Conflict, detail);
}

/// <summary>Either a value or a <see cref="ServiceFailure"/>.</summary>
internal readonly struct ServiceResult<T>
{
    private ServiceResult(T? value, ServiceFailure? failure)
    {
        Value = value;
        Failure = failure;
    }

    public T? Value { get; }

    public ServiceFailure? Failure { get; }

    public static implicit operator ServiceResult<T>(T value) => new(value, null);

    public static implicit operator ServiceResult<T>(ServiceFailure failure) => new(default, failure);
}
