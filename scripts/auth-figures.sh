#!/usr/bin/env bash
# Digest-authenticated REGISTER against the reference server (`sipbench serve --auth`, its own
# process) and against Kamailio 5.6 (scripts/kamailio-peer.sh), with the same generator runs:
#   sessions  a new TLS session per REGISTER: handshake, REGISTER, 401, REGISTER, 200
#             (closed loop, 16 in flight)
#   kept      256 kept TLS sessions re-registering at 2,000/s (open loop), the nonce reused
#             (nonce count + 1), so only each session's first REGISTER is challenged
# and, for the reference server, the same without --auth (no challenge) as the baseline.
#
# Usage: scripts/auth-figures.sh [OUT_DIR] [DURATION]    (default results/auth, 10s)
# Needs a release build (cargo build --release) and, for Kamailio, root or kamailio installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/serve-lib.sh"
out="${1:-$root/results/auth}"
dur="${2:-10s}"
bin="$root/target/release/sipbench"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'kill "${serve_pid:-}" 2>/dev/null || true; "$root/scripts/kamailio-peer.sh" stop "$work/kam" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$bin" pki init "$work/pki" >/dev/null
# Kamailio's rule: user U's password is pass-U.
for i in $(seq 0 9999); do echo "u$i,pass-u$i"; done >"$work/users.csv"

run() { # NAME TLS_ADDR [run flags...]
    local name=$1 addr=$2
    shift 2
    "$bin" run --tls-addr "$addr" --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
        --users "$work/users.csv" --domain example.test --transactions REGISTER --warmup 1s \
        --duration "$dur" -q -o "$out/$name.json" "$@" || true
}

serve() { # extra serve flags
    "$bin" serve --pki "$work/pki" --tcp-addr 127.0.0.1:27160 --tls-addr 127.0.0.1:27161 \
        --mtls-addr 127.0.0.1:27162 --workers 1 "$@" >"$work/serve.json" 2>"$work/serve.err" &
    serve_pid=$!
    serve_wait "$work/serve.err" || exit 1
}

stop_serve() {
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
    serve_pid=
}

for auth in none md5 sha-256; do
    case $auth in
        none) serve ;;
        md5) serve --auth "$work/users.csv" --realm example.test --auth-algorithms MD5 ;;
        sha-256) serve --auth "$work/users.csv" --realm example.test --auth-algorithms SHA-256 ;;
    esac
    run "sipbench-$auth-sessions" 127.0.0.1:27161 --workers 1 --concurrency 16
    run "sipbench-$auth-kept" 127.0.0.1:27161 --workers 1 --workload kept --connections 256 --rate 2000
    stop_serve
    cp "$work/serve.json" "$out/sipbench-$auth-server.json"
done

for alg in MD5 SHA-256; do
    eval "$(KAM_CHILDREN=1 KAM_AUTH_ALGORITHM=$alg KAM_SHM_MB=256 "$root/scripts/kamailio-peer.sh" start "$work/kam" "$work/pki")"
    a=$(echo "$alg" | tr 'A-Z' 'a-z')
    run "kamailio-$a-sessions" "127.0.0.1:$KAM_TLS_PORT" --workers 1 --concurrency 16
    run "kamailio-$a-kept" "127.0.0.1:$KAM_TLS_PORT" --workers 1 --workload kept --connections 256 --rate 2000
    "$root/scripts/kamailio-peer.sh" stop "$work/kam" >/dev/null
    rm -rf "$work/kam"
done

python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
print("| server | auth | workload | ok | failed | challenges | rate | REGISTER p50 / p99 (ms) | session p50 / p99 (ms) |")
print("|---|---|---|---|---|---|---|---|---|")
for server in ["sipbench", "kamailio"]:
    for auth in ["none", "md5", "sha-256"]:
        for wl in ["sessions", "kept"]:
            f = os.path.join(out, f"{server}-{auth}-{wl}.json")
            if not os.path.exists(f):
                continue
            p = json.load(open(f))["phases"][0]
            reg = p["latency_us"].get("sip.REGISTER", {})
            ses = p["latency_us"].get("session", {})
            txn = p["transactions"].get("REGISTER", {"ok": 0, "failed": 0})
            rate = (f"{p['rates']['sessions_per_s']:.0f} sessions/s" if wl == "sessions"
                    else f"{p['rates']['transactions_per_s']:.0f} REGISTER/s")
            ms = lambda s, k: f"{s[k] / 1000:.2f}" if k in s else "-"
            print(f"| {server} | {auth} | {wl} | {txn['ok']} | {txn['failed']} "
                  f"| {p.get('auth', {}).get('challenges', 0)} | {rate} "
                  f"| {ms(reg, 'p50')} / {ms(reg, 'p99')} | {ms(ses, 'p50')} / {ms(ses, 'p99')} |")
EOF
