using System.Diagnostics.CodeAnalysis;

// The project name "Dva.Shared" is fixed by the repository layout; "Shared" is only a keyword in VB,
// which no consumer of these tables uses.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Tables", Justification = "Project name fixed by the repository layout.")]
