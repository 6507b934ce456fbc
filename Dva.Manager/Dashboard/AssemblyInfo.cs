using System.Runtime.CompilerServices;

// The dashboard's browser and component tests drive the real backend and live state.
[assembly: InternalsVisibleTo("Dva.Web.Tests")]
