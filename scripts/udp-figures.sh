#!/usr/bin/env bash
# SIP OPTIONS per second on kept flows over UDP, TCP and TLS against the reference server in
# its own process (`sipbench serve --workers 1`, the generator with `--workers 1`: one core
# each), closed loop, one transaction outstanding per flow; then UDP again with the server
# reading one datagram per recvfrom (`--udp-recv plain`) instead of quinn-udp's batches.
#
#   udp-batched   mode udp, server --udp-recv batched (recvmmsg, GRO where the kernel has it)
#   udp-plain     mode udp, server --udp-recv plain
#   tcp           mode tcp (cleartext baseline)
#   tls           mode tls (TLS 1.3, the embedded throwaway PKI's ECDSA P-256 certificate)
#
# Usage: scripts/udp-figures.sh [OUT_DIR] [DURATION] [FLOWS]   (default results/udp, 10s, 64)
# Needs a release build (cargo build --release).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/udp}"
dur="${2:-10s}"
flows="${3:-64}"
bin="$root/target/release/sipbench"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'kill "${serve_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" pki init "$work/pki" >/dev/null

serve() { # extra serve flags
    "$bin" serve --pki "$work/pki" --tcp-addr 127.0.0.1:27260 --tls-addr 127.0.0.1:27261 \
        --mtls-addr 127.0.0.1:27262 --udp-addr 127.0.0.1:27260 --workers 1 "$@" \
        >"$work/serve.json" 2>"$work/serve.err" &
    serve_pid=$!
    for _ in $(seq 100); do grep -q "^sipbench serve:" "$work/serve.err" 2>/dev/null && return; sleep 0.1; done
    echo "serve did not start" >&2
    cat "$work/serve.err" >&2
    exit 1
}

stop_serve() {
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
    serve_pid=
}

run() { # NAME MODE
    "$bin" run --tls-addr 127.0.0.1:27261 --tcp-addr 127.0.0.1:27260 --udp-addr 127.0.0.1:27260 \
        --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
        --mode "$2" --workload kept --connections "$flows" --transactions OPTIONS \
        --warmup 1s --duration "$dur" --workers 1 -q -o "$out/$1.json" || true
}

serve --udp-recv batched
run udp-batched udp
run tcp tcp
run tls tls
stop_serve
cp "$work/serve.json" "$out/server-batched.json"
serve --udp-recv plain
run udp-plain udp
stop_serve
cp "$work/serve.json" "$out/server-plain.json"

python3 - "$out" "$flows" <<'EOF'
import json, os, sys
out, flows = sys.argv[1], sys.argv[2]
print(f"| transport | OPTIONS/s | p50 (us) | p99 (us) | p99.9 (us) | failed | retransmitted | CPU us per OPTIONS (generator) |")
print("|---|---|---|---|---|---|---|---|")
for name in ["udp-batched", "udp-plain", "tcp", "tls"]:
    f = os.path.join(out, f"{name}.json")
    if not os.path.exists(f):
        continue
    p = json.load(open(f))["phases"][0]
    lat = p["latency_us"].get("sip.OPTIONS", {})
    failed = sum(p["failures"].values())
    rt = (p.get("udp") or {}).get("retransmissions", "-")
    cpu = p["cpu"]
    per = (cpu["user_s"] + cpu["system_s"]) * 1e6 / max(1, lat.get("count", 0))
    print(f"| {name} | {p['rates']['transactions_per_s']:.0f} | {lat.get('p50')} | {lat.get('p99')} | {lat.get('p99_9')} | {failed} | {rt} | {per:.1f} |")
EOF
