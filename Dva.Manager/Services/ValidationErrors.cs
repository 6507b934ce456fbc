namespace Dva.Manager.Services;

/// <summary>Collects every field error of a request before answering (field names are JSON paths).</summary>
internal sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            list = [];
            _errors[field] = list;
        }

        list.Add(message);
    }

    /// <summary>Adds <paramref name="message"/> when <paramref name="condition"/> is false.</summary>
    public void Require(bool condition, string field, string message)
    {
        if (!condition)
        {
            Add(field, message);
        }
    }

    public void RequireName(string value, string field, int maxLength = 63)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, "Required.");
        }
        else if (value.Length > maxLength)
        {
            Add(field, $"At most {maxLength} characters.");
        }
    }

    public Dictionary<string, string[]> ToDictionary() =>
        _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
}
