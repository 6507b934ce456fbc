using System.Diagnostics.CodeAnalysis;

// The project is named Dva.Shared; "Shared" is a VB keyword, which does not matter for a C#-only
// codebase. Scoped to the namespaces this folder and Flows own.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Packets", Justification = "C#-only codebase; the project name is fixed.")]
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Flows", Justification = "C#-only codebase; the project name is fixed.")]
