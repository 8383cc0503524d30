#!/usr/bin/env bash
# sipbench against the minimal tokio-rustls loop (examples/calibrate.rs), in interleaved rounds
# (A B A B ...) so that drift on a shared machine hits both alike. Prints one line per run and
# the medians. Usage: [BIN=path/to/sipbench] scripts/compare-baseline.sh [ROUNDS]   (default 3;
# about 25 s a round; the build in $CARGO_TARGET_DIR or target/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release --bins --examples >/dev/null 2>&1
release="${CARGO_TARGET_DIR:-./target}/release"
bin=${BIN:-$release/sipbench}
tmp=$(mktemp -d)
rate() { python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['phases'][0]; print(p['rates'][sys.argv[2]])" "$@"; }
declare -A runs
for ((i = 1; i <= rounds; i++)); do
  "$bin" run --phase tls-full-handshake -q --out "$tmp/full.json"
  runs[sipbench-full]+="$(rate "$tmp/full.json" sessions_per_s) "
  runs[baseline-full]+="$("$release/examples/calibrate" --mode full --seconds 5 | awk '/sessions\/s/ {for (i=1;i<=NF;i++) if ($i=="sessions/s") print $(i-1)}') "
  "$bin" run --phase mtls-full-handshake -q --out "$tmp/mtls.json"
  runs[sipbench-mtls]+="$(rate "$tmp/mtls.json" sessions_per_s) "
  runs[baseline-mtls]+="$("$release/examples/calibrate" --mode mtls --seconds 5 | awk '/sessions\/s/ {for (i=1;i<=NF;i++) if ($i=="sessions/s") print $(i-1)}') "
  "$bin" run --phase sip-options-kept-tls -q --out "$tmp/kept.json"
  runs[sipbench-kept]+="$(rate "$tmp/kept.json" transactions_per_s) "
  runs[baseline-kept]+="$("$release/examples/calibrate" --mode kept --seconds 5 | awk '/exchanges\/s/ {for (i=1;i<=NF;i++) if ($i=="exchanges/s") print $(i-1)}') "
done
for k in sipbench-full baseline-full sipbench-mtls baseline-mtls sipbench-kept baseline-kept; do
  median=$(echo "${runs[$k]}" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-15s median %10s   runs: %s\n' "$k" "$median" "${runs[$k]}"
done
