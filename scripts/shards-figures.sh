#!/usr/bin/env bash
# Three shards in network namespaces of their own against `sipbench serve` in a fourth, merged,
# against one process making the same load from a namespace of its own (issue 15's figure).
# Full TLS handshakes (REGISTER, OPTIONS a session), release build, interleaved for ROUNDS
# rounds (default 3): closed loop (48 in flight in all) for the rate, and open loop at RATE/s in
# all (default 600, about a quarter of this machine's capacity with the server on one core) for
# the latency. The server is pinned to CPU 1 and every generator process to CPU 0, so three
# shards share the one core the single process has: the table says what sharding costs on one
# host, not what three hosts would make. Each merged file is checked against the server's own
# counters (sessions and requests, the shards' clock probes included); that a merged histogram
# equals the one over the union of the samples is proven by tests/merge.rs on real runs.
#
# Needs root (network namespaces); everything it makes is removed on exit.
# Usage: scripts/shards-figures.sh [OUT_DIR] [DURATION]   (default results/shards, 10s)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/shards}"
dur="${2:-10s}"
rounds="${ROUNDS:-3}"
rate="${RATE:-600}"
bin="$root/target/release/sipbench"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
[ -x "$bin" ] || (cd "$root" && cargo build --release)
mkdir -p "$out"
work="$(mktemp -d)"
p="sbfig$$"
subnet="10.250.$(($$ % 250))"
nodes=(srv s0 s1 s2 solo)

cleanup() {
    [ -n "${serve:-}" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
    for n in hub "${nodes[@]}"; do ip netns del "$p$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "${p}hub"
ip -n "${p}hub" link add br0 type bridge
ip -n "${p}hub" link set br0 up
host=1
for i in "${!nodes[@]}"; do
    ns="$p${nodes[$i]}"
    ip netns add "$ns"
    ip -n "${p}hub" link add "v$i" type veth peer name "v${i}p" netns "$ns"
    ip -n "${p}hub" link set "v$i" master br0 up
    ip -n "$ns" addr add "$subnet.$host/24" dev "v${i}p"
    ip -n "$ns" link set "v${i}p" up
    ip -n "$ns" link set lo up
    host=$((host + 10))
done

"$bin" pki init "$work/pki" >/dev/null
srv="$subnet.1"
RUST_LOG=error ip netns exec "${p}srv" taskset -c 1 "$bin" serve --tls-addr "$srv:5061" \
    --mtls-addr "$srv:5062" --tcp-addr "$srv:5060" --workers 1 --pki "$work/pki" \
    >"$work/serve.out" 2>"$work/serve.err" &
serve=$!
for _ in $(seq 100); do grep -q "$srv:5061" "$work/serve.err" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done

gen() { # NS ARGS...: a generator in namespace NS on CPU 0
    local ns="$1"; shift
    RUST_LOG=error ip netns exec "$p$ns" taskset -c 0 "$bin" run --tls-addr "$srv:5061" \
        --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" --mode tls \
        --transactions REGISTER,OPTIONS --warmup 0s -d "$dur" -w 1 -q "$@"
}

for r in $(seq "$rounds"); do
    for load in closed open; do
        case $load in
            closed) args=(-c 48) ;;
            open) args=(--rate "$rate" --pacing timer) ;;
        esac
        gen solo "${args[@]}" -o "$out/one-$load-$r.json" 2>/dev/null
        at="$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)"
        pids=()
        for i in 0 1 2; do
            gen "s$i" "${args[@]}" --shard "$i/3" --start-at "$at" -o "$work/shard-$load-$r-$i.json" 2>/dev/null &
            pids+=($!)
        done
        for pid in "${pids[@]}"; do wait "$pid"; done
        "$bin" merge "$work"/shard-"$load"-"$r"-{0,1,2}.json -o "$out/three-$load-$r.json" >/dev/null
    done
done
kill -TERM "$serve"; wait "$serve" || true
serve=
cp "$work/serve.out" "$out/server-counters.json"

python3 - "$out" "$rounds" "$rate" <<'PY'
import json, os, statistics, sys
out, rounds, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(name): return json.load(open(os.path.join(out, name)))
runs = {(k, l): [load(f"{k}-{l}-{r}.json") for r in range(1, rounds + 1)] for k in ["one", "three"] for l in ["closed", "open"]}
# Everything the generators say they sent is what the server counted (the probes included).
sessions = requests = 0
for rs in runs.values():
    for f in rs:
        p = f["phases"][0]
        sessions += p["sessions"]["started"]
        requests += sum(t["ok"] + t["failed"] for t in p["transactions"].values())
        for s in f.get("shards", []):
            c = s.get("clock")
            if c:
                sessions += 1
                requests += c["probes"]
server = load("server-counters.json")
same = "equal" if (server["accepted"], server["requests"]) == (sessions, requests) else "DIFFERENT"
print(f"server counted {server['accepted']} connections and {server['requests']} requests; "
      f"the results files (no warm-up) {sessions} and {requests}: {same}")
print()
print("| load | generators | sessions/s median (min-max) | session p50 / p99 / p99.9 median (ms) | failures | clock offsets (ms, bounds) |")
print("|---|---|---|---|---|---|")
for l in ["closed", "open"]:
    for k, label in [("one", "1 process"), ("three", "3 shards, merged")]:
        ps = [f["phases"][0] for f in runs[(k, l)]]
        r = [p["rates"]["sessions_per_s"] for p in ps]
        q = lambda key: statistics.median(p["latency_us"]["session"][key] for p in ps) / 1000
        fails = sum(p["sessions"]["failed"] for p in ps)
        clocks = "; ".join(
            f"{c['offset_ms']:+.1f} [{c['low_ms']:+.1f}, {c['high_ms']:+.1f})"
            for f in runs[(k, l)][-1:] for s in f.get("shards", []) if (c := s.get("clock")) and c["samples"]
        ) or "-"
        load_name = "closed, 48 in flight" if l == "closed" else f"open, {rate}/s"
        print(f"| {load_name} | {label} | {statistics.median(r):.0f} ({min(r):.0f}-{max(r):.0f}) | "
              f"{q('p50'):.2f} / {q('p99'):.2f} / {q('p99_9'):.2f} | {fails} | {clocks} |")
PY
