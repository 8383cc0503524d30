#!/usr/bin/env bash
# Reproduces the figures in results/README.md and stores the runs under results/.
# Run it on an otherwise idle machine: every figure is generator and server in one process,
# sharing the machine's cores. Takes about eight minutes after the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins --examples
bin=./target/release/sipbench
out=results
mkdir -p "$out"

echo "== default profile (TLS 1.3 full handshakes, MTLS full handshakes, OPTIONS over 256 kept TLS sessions)"
"$bin" run --out "$out/default.json"

echo "== full TLS 1.3 and MTLS handshakes with TLS13_AES_128_GCM_SHA256 pinned (SHA-256 has hardware support here)"
"$bin" run --phase tls-full-handshake --phase mtls-full-handshake --cipher-suite TLS13_AES_128_GCM_SHA256 \
  --out "$out/handshakes-aes128.json"

echo "== open loop: 3000 TLS sessions/s (latency corrected for coordinated omission)"
"$bin" run --mode tls --rate 3000 --transactions REGISTER --duration 5s --out "$out/tls-open-3000.json"

echo "== 5000 TLS sessions held open at once, memory per session"
"$bin" run --profile profiles/hold.toml --out "$out/hold-5000.json"

echo "== cleartext TCP baseline: OPTIONS over 256 kept sessions"
"$bin" run --mode tcp --workload kept --connections 256 --transactions OPTIONS --duration 5s --out "$out/tcp-kept.json"

echo "== session resumption in every form, and reconnect storms"
"$bin" run --profile profiles/resumption.toml --out "$out/resumption.json"

echo "== bulk records and pipelined MESSAGE (three runs: this VM varies a lot on single-stream throughput)"
for i in 1 2 3; do
  "$bin" run --profile profiles/bulk.toml --out "$out/bulk-$i.json"
done

echo "== the machine's baseline: a minimal tokio-rustls loop (no SIP, no measurement)"
./target/release/examples/calibrate --seconds 5 | tee "$out/calibrate.txt"

echo "== the trust model: the audit (roots only, and with issuing CAs), and MTLS with a share of bad certificates"
"$bin" audit -o "$out/audit.json" > "$out/audit.txt"
"$bin" audit --intermediate -o "$out/audit-intermediate.json" > "$out/audit-intermediate.txt"
"$bin" run --profile profiles/trust.toml --out "$out/trust.json"

echo "== what a two-level chain costs: three interleaved rounds, roots only vs issuing CAs, per stack"
: > "$out/trust-chain-interleaved.txt"
for i in 1 2 3; do
  for chain in leaf-root leaf-issuing-root; do
    flag=""
    [[ $chain == leaf-root ]] || flag="--intermediate"
    for backend in aws-lc-rs openssl; do
      "$bin" run --phase tls-full-handshake --phase mtls-full-handshake --backend "$backend" -q --out "$out/chain.json" $flag
      python3 - "$out/chain.json" "round=$i backend=$backend chain=$chain" >> "$out/trust-chain-interleaved.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[2], ' '.join('%s %.0f/s %.0fus' % (p['plan']['mode'], p['rates']['sessions_per_s'], p['cpu']['per_session_us']) for p in r['phases']))
PY
    done
  done
done
rm -f "$out/chain.json"
cat "$out/trust-chain-interleaved.txt"
# What the trust checks cost against an earlier revision (builds it in a worktree):
#   scripts/compare-revisions.sh REV 3 results/trust-checks-interleaved.txt

echo "== crypto backends, groups and key types (interleaved rounds)"
common="-c 64 -d 4s --warmup 1s --transactions REGISTER --rounds 3"
"$bin" compare --backends aws-lc-rs,ring,graviola,openssl --mode mtls $common -o "$out/compare-backends-mtls.json"
"$bin" compare --backends aws-lc-rs,ring,graviola,openssl --mode mtls $common --cipher-suite TLS13_AES_128_GCM_SHA256 --kx-group X25519 --memory-sessions 0 -o "$out/compare-backends-mtls-pinned.json"
"$bin" compare --backends aws-lc-rs,ring,graviola,openssl --mode tls $common --cipher-suite TLS13_AES_128_GCM_SHA256 --kx-group X25519 -o "$out/compare-backends-tls-pinned.json"
"$bin" compare --kx-groups X25519,secp256r1,secp384r1,X25519MLKEM768 --mode tls $common --cipher-suite TLS13_AES_128_GCM_SHA256 --memory-sessions 0 -o "$out/compare-kx-groups.json"
"$bin" compare --key-types ecdsa-p256,ecdsa-p384,rsa2048,rsa3072,ed25519 --mode mtls $common --cipher-suite TLS13_AES_128_GCM_SHA256 --kx-group X25519 --memory-sessions 0 -o "$out/compare-key-types.json"
