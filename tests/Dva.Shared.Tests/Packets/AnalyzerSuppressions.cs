using System.Diagnostics.CodeAnalysis;

// xunit needs public test classes; "Shared" is only a keyword in VB.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Tests.Packets", Justification = "C#-only codebase; the project name is fixed.")]
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Tests.Flows", Justification = "C#-only codebase; the project name is fixed.")]
