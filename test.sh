#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, builds, runs every test project,
# and ends with one line "N passed, N failed, N skipped". Exits non-zero if any test failed or none ran.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages used by the tests (real peers in network namespaces, the browser for dashboard tests).
APT_PACKAGES=(iproute2 iputils-ping arping iperf3 curl socat nginx-light tcpdump tshark chromium python3-scapy procps ndisc6)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || { echo "test.sh: apt-get install failed"; exit 1; }
  fi
fi

results=test-results
rm -rf "$results"; mkdir -p "$results"

dotnet build Dva.sln -c Release -nologo -clp:ErrorsOnly -v:q || { echo "test.sh: build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

projects=(tests/Dva.Shared.Tests tests/Dva.Node.Tests tests/Dva.Manager.Tests tests/Dva.Web.Tests tests/Dva.EndToEnd.Tests)
status=0
for p in "${projects[@]}"; do
  name=$(basename "$p")
  echo "=== $name"
  dotnet test "$p" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --blame-hang-timeout 10m -- RunConfiguration.TreatNoTestsAsError=false || status=1
done

passed=0; failed=0; skipped=0; files=0
for f in "$results"/*.trx; do
  [ -f "$f" ] || continue
  files=$((files+1))
  c=$(grep -o '<Counters [^>]*>' "$f" | head -1)
  get() { echo "$c" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  total=$(get total); exec=$(get executed); pa=$(get passed); fa=$(get failed); er=$(get error); to=$(get timeout); ab=$(get aborted)
  passed=$((passed + ${pa:-0}))
  failed=$((failed + ${fa:-0} + ${er:-0} + ${to:-0} + ${ab:-0}))
  skipped=$((skipped + ${total:-0} - ${exec:-0}))
done
if [ "$files" -lt "${#projects[@]}" ]; then
  echo "test.sh: only $files of ${#projects[@]} test projects produced results"
  status=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then status=1; fi
exit $status
