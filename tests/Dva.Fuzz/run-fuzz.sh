#!/usr/bin/env bash
# Coverage-guided fuzzing of one target for a bounded time (docs/reliability.md, "Bad input").
#
#   tests/Dva.Fuzz/run-fuzz.sh TARGET SECONDS      TARGET: tunnel | packet | table | config
#
# Installs what it needs (AFL++ from Debian, the SharpFuzz instrumenter as a dotnet tool), builds Dva.Fuzz into
# a fresh folder, instruments Dva.Shared and the node's config parser, writes the seed corpus (the golden vectors
# and frames of the byte-exact tests), runs afl-fuzz for SECONDS and prints inputs tried and crashes found.
# Every crash is replayed so its exception is shown. Output: tests/Dva.Fuzz/out/ (or $FUZZ_OUT).
set -euo pipefail

target=${1:?usage: run-fuzz.sh TARGET SECONDS}
seconds=${2:?usage: run-fuzz.sh TARGET SECONDS}
case "$target" in tunnel|packet|table|config) ;; *) echo "unknown target '$target' (tunnel, packet, table, config)" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$here/out}
bin=$out/bin
findings=$out/findings/$target

if ! command -v afl-fuzz >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi

export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null; then
    dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# A fresh output folder each time: sharpfuzz refuses an assembly it already instrumented. Instrumented code writes
# to afl's shared memory, so it only runs under afl-fuzz: seeds and crash replays use an uninstrumented copy.
plain=$out/plain
rm -rf "$bin" "$plain"
dotnet build "$here/Dva.Fuzz.csproj" -c Release -o "$plain" -v:q -nologo >/dev/null
cp -r "$plain" "$bin"
sharpfuzz "$bin/Dva.Shared.dll" >/dev/null
sharpfuzz "$bin/dva-node.dll" Dva.Node.Config Dva.Node.Io.FrameSourceSpec >/dev/null

rm -rf "$out/seeds"
dotnet "$plain/Dva.Fuzz.dll" --seeds "$out/seeds"

rm -rf "$findings"
mkdir -p "$findings"
# .NET is not an afl-instrumented ELF (SKIP_BIN_CHECK); the JIT needs more than afl's default time and memory.
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
AFL_FORKSRV_INIT_TMOUT=30000 \
    afl-fuzz -V "$seconds" -t 5000 -m none -i "$out/seeds/$target" -o "$findings" -- dotnet "$bin/Dva.Fuzz.dll" "$target" \
    >"$findings/afl.log" 2>&1 || { echo "afl-fuzz failed; see $findings/afl.log" >&2; tail -20 "$findings/afl.log" >&2; exit 1; }

stats=$findings/default/fuzzer_stats
field() { sed -n "s/^$1 *: *//p" "$stats"; }
echo "target=$target seconds=$seconds execs_done=$(field execs_done) execs_per_sec=$(field execs_per_sec)" \
     "corpus_count=$(field corpus_count) bitmap_cvg=$(field bitmap_cvg) saved_crashes=$(field saved_crashes) saved_hangs=$(field saved_hangs)"

shopt -s nullglob
crashes=("$findings"/default/crashes/id:*)
if (( ${#crashes[@]} > 0 )); then
    echo "replaying ${#crashes[@]} crash(es):"
    dotnet "$plain/Dva.Fuzz.dll" --replay "$target" "${crashes[@]}" || true
    exit 1
fi
