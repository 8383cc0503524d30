#!/usr/bin/env bash
# What `--metrics` costs: full TLS handshakes (closed loop, 32 in flight, embedded server,
# release build) with and without `run --metrics`, scraped once a second as Prometheus would,
# interleaved for ROUNDS rounds (default 3); medians and ranges of sessions/s.
#
# Usage: scripts/metrics-overhead.sh [OUT_DIR] [DURATION]   (default results/metrics, 10s)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/metrics}"
dur="${2:-10s}"
rounds="${ROUNDS:-3}"
bin="$root/target/release/sipbench"
port=29464
mkdir -p "$out"

scrape() { # until the run ends: GET /metrics once a second
    python3 - "$port" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
while True:
    time.sleep(1)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()
    except OSError:
        pass
PY
    scraper=$!
}

for i in $(seq "$rounds"); do
    "$bin" run --mode tls -c 32 --warmup 1s -d "$dur" -q -o "$out/plain-$i.json" 2>/dev/null
    scrape
    "$bin" run --mode tls -c 32 --warmup 1s -d "$dur" -q -o "$out/metrics-$i.json" \
        --metrics "127.0.0.1:$port" 2>/dev/null
    kill "$scraper" 2>/dev/null || true
done

python3 - "$out" "$rounds" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("| run | sessions/s median (min-max) | session p99 median (ms) | CPU us per session median |")
print("|---|---|---|---|")
for name in ["plain", "metrics"]:
    ps = [json.load(open(os.path.join(out, f"{name}-{i}.json")))["phases"][0] for i in range(1, rounds + 1)]
    r = [p["rates"]["sessions_per_s"] for p in ps]
    p99 = statistics.median(p["latency_us"]["session"]["p99"] for p in ps) / 1000
    cpu = statistics.median(p["cpu"]["per_session_us"] for p in ps)
    print(f"| {name} | {statistics.median(r):.0f} ({min(r):.0f}-{max(r):.0f}) | {p99:.2f} | {cpu:.0f} |")
PY
