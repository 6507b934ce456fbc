using System.Diagnostics.CodeAnalysis;

// "Shared" is a Visual Basic keyword; test namespaces mirror the production folders.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Tests.Wire",
    Justification = "C#-only test assembly; namespaces follow folders.")]
