using System.Diagnostics.CodeAnalysis;

// Namespaces mirror the production project "Dva.Shared"; "Shared" is only a keyword in VB.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Tests.Simulation", Justification = "Mirrors the production project name.")]
