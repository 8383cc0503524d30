#!/usr/bin/env bash
# Efficiency against this machine's bare tokio-rustls loop (issue 14): the default profile's
# three phases (full TLS sessions, full MTLS sessions, OPTIONS over 256 kept TLS sessions), each
# followed by its bare-loop counterpart in the same process (`run --efficiency`: same provider,
# suite, group, key type, threads and concurrency), ROUNDS times (default 3), so the rounds
# interleave phase and loop. Prints the medians and ranges of the ratios and of both CPU costs,
# and keeps each round's results file in OUT_DIR.
#
# Usage: [BIN=path/to/sipbench] [SUITE=TLS13_AES_128_GCM_SHA256] scripts/efficiency-figures.sh [OUT_DIR]
#        (default results/efficiency; the release build in $CARGO_TARGET_DIR or target/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/efficiency}"
rounds="${ROUNDS:-3}"
bin="${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/sipbench}"
[ -x "$bin" ] || (cd "$root" && cargo build --release)
suite=()
[ -n "${SUITE:-}" ] && suite=(--cipher-suite "$SUITE")
mkdir -p "$out"
for r in $(seq "$rounds"); do
    "$bin" run --efficiency "${suite[@]}" -q -o "$out/round-$r.json"
done
python3 - "$out" "$rounds" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(os.path.join(out, f"round-{r}.json"))) for r in range(1, rounds + 1)]
env = runs[0]["environment"]
print(f"{env['cpu_model']}, {env['cores']} cores, {env['backend']}, rev {env['git_revision']}, {env['build_profile']} build")
print()
print("| phase | sipbench per s | bare loop per s | ratio median (min-max) | CPU us sipbench / bare | negotiated (bare loop) |")
print("|---|---|---|---|---|---|")
for i, p0 in enumerate(runs[0]["phases"]):
    es = [r["phases"][i].get("efficiency") for r in runs]
    if not all(es):
        print(f"| {p0['plan']['name']} | - | - | no counterpart | - | - |")
        continue
    med = lambda k: statistics.median(e[k] for e in es)
    ratios = [e["ratio"] for e in es]
    print(f"| {p0['plan']['name']} | {med('per_s'):.0f} | {med('bare_per_s'):.0f} | "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
          f"{med('cpu_us'):.1f} / {med('bare_cpu_us'):.1f} | {es[0]['negotiated']} |")
PY
