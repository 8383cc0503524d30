#!/usr/bin/env bash
# How late open-loop sends leave (generator.lag) with each pacing, and what that does to the
# corrected latency: SIP OPTIONS over 64 kept TLS sessions at three rates, against the reference
# server in its own process (`sipbench serve --workers 1` pinned to the last core, the generator
# with one worker pinned to the first), TLS 1.3, aws-lc-rs, ECDSA P-256.
#
# Usage: scripts/pacing-figures.sh [OUT_DIR] [DURATION] [RATES]
#        (default results/pacing, 10s, "300 3000 20000"). Needs a release build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/serve-lib.sh"
out="${1:-$root/results/pacing}"
dur="${2:-10s}"
rates="${3:-300 3000 20000}"
bin="$root/target/release/sipbench"
last=$(( $(nproc) - 1 ))
mkdir -p "$out"
work="$(mktemp -d)"
trap 'kill "${serve_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" pki init "$work/pki" >/dev/null
taskset -c "$last" "$bin" serve --pki "$work/pki" --tcp-addr 127.0.0.1:27360 --tls-addr 127.0.0.1:27361 \
    --mtls-addr 127.0.0.1:27362 --workers 1 >"$work/serve.json" 2>"$work/serve.err" &
serve_pid=$!
serve_wait "$work/serve.err" || exit 1

for rate in $rates; do
    for pacing in timer precise; do
        taskset -c 0 "$bin" run --tls-addr 127.0.0.1:27361 --server-name sip.example.test \
            --ca "$work/pki/enterprise-ca.pem" --mode tls --workload kept --connections 64 \
            --transactions OPTIONS --rate "$rate" --pacing "$pacing" --warmup 1s --duration "$dur" \
            --workers 1 -q -o "$out/$rate-$pacing.json" 2>/dev/null || true
    done
done

python3 - "$out" "$rates" <<'PY'
import json, os, sys
out, rates = sys.argv[1], sys.argv[2].split()
print("| rate/s | pacing | achieved/s | generator.lag p50 / p99 / p99.9 (us) | OPTIONS p50 corrected / uncorrected (us) | ratio | p99 corrected / uncorrected (us) | generator CPU us per OPTIONS |")
print("|---|---|---|---|---|---|---|---|")
for rate in rates:
    for pacing in ["timer", "precise"]:
        f = os.path.join(out, f"{rate}-{pacing}.json")
        if not os.path.exists(f):
            continue
        p = json.load(open(f))["phases"][0]
        lag = p["latency_us"]["generator.lag"]
        c, u = p["latency_us"]["sip.OPTIONS"], p["latency_us"]["sip.OPTIONS.uncorrected"]
        cpu = p["cpu"]
        per = (cpu["user_s"] + cpu["system_s"]) * 1e6 / max(1, c["count"])
        print(f"| {rate} | {pacing} | {p['rates']['transactions_per_s']:.0f} | {lag['p50']} / {lag['p99']} / {lag['p99_9']} | {c['p50']} / {u['p50']} | {c['p50']/max(1,u['p50']):.2f} | {c['p99']} / {u['p99']} | {per:.1f} |")
PY
