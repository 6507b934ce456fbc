using System.Diagnostics;

namespace Dva.Benchmarks.Rollout;

/// <summary>
/// Counts the manager's EF Core work from EF's DiagnosticListener (the manager runs in this process): SQL commands,
/// SaveChanges calls, transactions committed, and query compilations — a LINQ query EF had to translate because its
/// query cache had no plan for it, a per-call cost at steady state. Work done inside a rollout call (the caller flags
/// it with <see cref="InRollout"/>, which flows into the coordinator's awaits) is counted apart from the rest (the
/// fleet reconciler's passes, heartbeats).
/// </summary>
internal sealed class EfActivity : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private const string Compiling = "Microsoft.EntityFrameworkCore.Query.QueryCompilationStarting";
    private const string Command = "Microsoft.EntityFrameworkCore.Database.Command.CommandExecuted";
    private const string Saved = "Microsoft.EntityFrameworkCore.Update.SaveChangesCompleted";
    private const string Committed = "Microsoft.EntityFrameworkCore.Database.Transaction.TransactionCommitted";
    private static readonly string[] Counted = [Compiling, Command, Saved, Committed];

    private static readonly AsyncLocal<bool> Flag = new();

    private readonly long[] _inRollout = new long[Counted.Length];
    private readonly long[] _elsewhere = new long[Counted.Length];
    private readonly List<IDisposable> _subscriptions = [];
    private readonly IDisposable _all;

    public EfActivity() => _all = DiagnosticListener.AllListeners.Subscribe(this);

    /// <summary>Set by the caller before it starts a rollout, cleared after; flows with the call's execution context.</summary>
    public static bool InRollout
    {
        get => Flag.Value;
        set => Flag.Value = value;
    }

    /// <summary>The counts so far: inside rollout calls, and elsewhere.</summary>
    public Counts Read() => new(Snapshot(_inRollout), Snapshot(_elsewhere));

    public void Dispose()
    {
        _all.Dispose();
        lock (_subscriptions)
        {
            _subscriptions.ForEach(s => s.Dispose());
        }
    }

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener value)
    {
        if (value.Name == "Microsoft.EntityFrameworkCore")
        {
            lock (_subscriptions)
            {
                _subscriptions.Add(value.Subscribe(this, name => Array.IndexOf(Counted, name) >= 0));
            }
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        var k = Array.IndexOf(Counted, value.Key);
        if (k >= 0)
        {
            Interlocked.Increment(ref (InRollout ? _inRollout : _elsewhere)[k]);
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }

    private static Tally Snapshot(long[] counts) =>
        new(Interlocked.Read(ref counts[0]), Interlocked.Read(ref counts[1]), Interlocked.Read(ref counts[2]), Interlocked.Read(ref counts[3]));

    /// <summary>Query compilations, SQL commands, SaveChanges calls, transactions committed.</summary>
    internal readonly record struct Tally(long Compilations, long Commands, long Saves, long Commits)
    {
        public static Tally operator +(Tally a, Tally b) =>
            new(a.Compilations + b.Compilations, a.Commands + b.Commands, a.Saves + b.Saves, a.Commits + b.Commits);

        public static Tally operator -(Tally a, Tally b) =>
            new(a.Compilations - b.Compilations, a.Commands - b.Commands, a.Saves - b.Saves, a.Commits - b.Commits);

        public override string ToString() => $"{Commands} SQL commands, {Saves} SaveChanges, {Commits} commits, {Compilations} query compilations";
    }

    internal readonly record struct Counts(Tally InRollout, Tally Elsewhere)
    {
        public static Counts operator -(Counts a, Counts b) => new(a.InRollout - b.InRollout, a.Elsewhere - b.Elsewhere);
    }
}
