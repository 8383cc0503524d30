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
# The server is pinned to the last core and the generator to the first (taskset), so that the
# two processes do not trade places between runs (unpinned, the same run varied 2x here); each
# configuration runs REPEAT times (default 3), interleaved, and the table gives the median with
# the range.
#
# Usage: scripts/udp-figures.sh [OUT_DIR] [DURATION] [FLOWS]   (default results/udp, 10s, 64)
# Needs a release build (cargo build --release).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/serve-lib.sh"
out="${1:-$root/results/udp}"
dur="${2:-10s}"
flows="${3:-64}"
repeat="${REPEAT:-3}"
last=$(( $(nproc) - 1 ))
bin="$root/target/release/sipbench"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'kill "${serve_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" pki init "$work/pki" >/dev/null

serve() { # extra serve flags
    taskset -c "$last" "$bin" serve --pki "$work/pki" --tcp-addr 127.0.0.1:27260 --tls-addr 127.0.0.1:27261 \
        --mtls-addr 127.0.0.1:27262 --udp-addr 127.0.0.1:27260 --workers 1 "$@" \
        >"$work/serve.json" 2>"$work/serve.err" &
    serve_pid=$!
    serve_wait "$work/serve.err" || exit 1
}

stop_serve() {
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
    serve_pid=
}

cpu_ticks() { # user + system clock ticks of the server process
    awk '{print $14 + $15}' "/proc/$serve_pid/stat"
}

run() { # NAME MODE
    local before after
    before=$(cpu_ticks)
    taskset -c 0 "$bin" run --tls-addr 127.0.0.1:27261 --tcp-addr 127.0.0.1:27260 --udp-addr 127.0.0.1:27260 \
        --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
        --mode "$2" --workload kept --connections "$flows" --transactions OPTIONS \
        --warmup 0s --duration "$dur" --workers 1 -q -o "$out/$1.json" || true
    after=$(cpu_ticks)
    # The server's CPU over the run (no warm-up: the run is the measured window and its set-up).
    echo "$(( after - before )) $(getconf CLK_TCK)" >"$out/$1.server-cpu"
}

for i in $(seq "$repeat"); do
    serve --udp-recv batched
    run "udp-batched-$i" udp
    run "tcp-$i" tcp
    run "tls-$i" tls
    stop_serve
    cp "$work/serve.json" "$out/server-batched-$i.json"
    serve --udp-recv plain
    run "udp-plain-$i" udp
    stop_serve
    cp "$work/serve.json" "$out/server-plain-$i.json"
done

python3 - "$out" "$repeat" <<'EOF'
import json, os, statistics, sys
out, repeat = sys.argv[1], int(sys.argv[2])
print("| transport | OPTIONS/s median (min-max) | p50 (us) | p99 (us) | p99.9 (us) | failed | retransmitted | generator CPU us per OPTIONS | server CPU us per OPTIONS median (min-max) |")
print("|---|---|---|---|---|---|---|---|---|")
for name in ["udp-batched", "udp-plain", "tcp", "tls"]:
    runs, server = [], []
    for i in range(1, repeat + 1):
        f = os.path.join(out, f"{name}-{i}.json")
        if os.path.exists(f):
            p = json.load(open(f))["phases"][0]
            runs.append(p)
            ticks, hz = map(int, open(os.path.join(out, f"{name}-{i}.server-cpu")).read().split())
            n = p["latency_us"].get("sip.OPTIONS", {}).get("count", 0)
            server.append(ticks / hz * 1e6 / max(1, n))
    if not runs:
        continue
    rates = [p["rates"]["transactions_per_s"] for p in runs]
    med = sorted(runs, key=lambda p: p["rates"]["transactions_per_s"])[len(runs) // 2]
    lat = med["latency_us"].get("sip.OPTIONS", {})
    failed = sum(sum(p["failures"].values()) for p in runs)
    rt = sum((p.get("udp") or {}).get("retransmissions", 0) for p in runs) if name.startswith("udp") else "-"
    cpu = med["cpu"]
    per = (cpu["user_s"] + cpu["system_s"]) * 1e6 / max(1, lat.get("count", 0))
    print(f"| {name} | {statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f}) | {lat.get('p50')} | {lat.get('p99')} | {lat.get('p99_9')} | {failed} | {rt} | {per:.1f} | {statistics.median(server):.1f} ({min(server):.1f}-{max(server):.1f}) |")
print(f"\n(p50/p99/p99.9 and CPU of the median run; failures and retransmissions summed over {repeat} runs each)")
EOF
