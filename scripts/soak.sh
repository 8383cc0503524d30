#!/usr/bin/env bash
# Soak: CONNECTIONS concurrent MTLS sessions kept for DURATION, each sending OPTIONS (open
# loop, RATE a second across them), against `sipbench serve` in a separate process. Both
# processes' resident memory is sampled every SOAK_INTERVAL seconds (default 10).
# It passes when no session or transaction failed and each process's RSS stays within
# SOAK_TOLERANCE percent (default 5) over the run: the samples from 20% into it on, after every
# session has been opened and has sent a first request.
#
# Usage: scripts/soak.sh [CONNECTIONS] [DURATION] [RATE] [OUT_DIR]
#   defaults: 15000 sessions, 10m, 1500 transactions/s, results/soak
#   the short version CI runs: SOAK_INTERVAL=2 SOAK_TOLERANCE=20 scripts/soak.sh 500 20s 200 DIR
#   (20 seconds are too short for memory to settle within 5%: CI checks the failures and that
#   nothing grows wildly; the long run checks flatness)
# Writes OUT_DIR/soak-run.json (the generator's results), OUT_DIR/soak-server.json (the
# server's counters), OUT_DIR/soak-rss.txt (the samples) and OUT_DIR/soak-summary.txt; exit
# status 0 when it passed, 1 when not.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-15000}
duration=${2:-10m}
rate=${3:-1500}
out=${4:-results/soak}
interval=${SOAK_INTERVAL:-10}
tolerance=${SOAK_TOLERANCE:-5}
bin=${SIPBENCH:-./target/release/sipbench}
[[ -x $bin ]] || cargo build --release --bins >/dev/null 2>&1
mkdir -p "$out"
work=$(mktemp -d)
srv_pid=
cleanup() {
  [[ -n $srv_pid ]] && kill "$srv_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Each side holds CONNECTIONS sockets: raise the soft open-files limit to the hard one.
ulimit -n "$(ulimit -Hn)"
if ((conns + 200 > $(ulimit -n))); then
  echo "soak: the open-files limit $(ulimit -n) is below the ~$((conns + 200)) descriptors each side needs" >&2
  exit 2
fi

extra=()
if "$bin" serve --help | grep -q -- '--max-connections-per-address'; then
  extra+=(--max-connections-per-address "$((conns + 100))")
fi
"$bin" serve --tls-addr 127.0.0.1:0 --mtls-addr 127.0.0.1:0 --tcp-addr 127.0.0.1:0 \
  --pki "$work/pki" --max-connections "$((conns + 1000))" --idle-timeout 1h "${extra[@]}" \
  >"$out/soak-server.json" 2>"$work/serve.log" &
srv_pid=$!
for _ in $(seq 1 300); do
  grep -q '^sipbench serve:' "$work/serve.log" && break
  kill -0 "$srv_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 2; }
  sleep 0.1
done
ready=$(grep '^sipbench serve:' "$work/serve.log")
addr_after() { echo "$ready" | tr ' ' '\n' | grep -A1 -x "$1" | tail -1; }
tls=$(addr_after tls)
mtls=$(addr_after mtls)

"$bin" run --tls-addr "$tls" --mtls-addr "$mtls" --server-name sip.example.test \
  --ca "$work/pki/enterprise-ca.pem" --cert "$work/pki/edge.pem" --key "$work/pki/edge.key" \
  --mode mtls --workload kept --connections "$conns" --rate "$rate" --transactions OPTIONS \
  --warmup 0s --duration "$duration" --connect-timeout 30s --handshake-timeout 30s \
  --sip-timeout 10s -q -o "$out/soak-run.json" &
gen_pid=$!

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "t_s server_rss_kib generator_rss_kib" >"$out/soak-rss.txt"
start=$(date +%s)
while kill -0 "$gen_pid" 2>/dev/null; do
  echo "$(($(date +%s) - start)) $(rss "$srv_pid") $(rss "$gen_pid")" >>"$out/soak-rss.txt"
  sleep "$interval"
done
set +e
wait "$gen_pid"
gen_status=$?
set -e
# The server drains on SIGTERM and prints its counters.
kill -TERM "$srv_pid"
wait "$srv_pid" || true
srv_pid=

python3 - "$out/soak-run.json" "$out/soak-rss.txt" "$gen_status" "$conns" "$duration" "$tolerance" >"$out/soak-summary.txt" <<'PY'
import json, sys
run, rss_file, status, conns, duration, tolerance = sys.argv[1:7]
r = json.load(open(run))
p = r['phases'][0]
failed = sum(p['failures'].values())
rows = [list(map(int, l.split())) for l in open(rss_file).read().splitlines()[1:] if l.strip()]
end = rows[-1][0] if rows else 0
steady = [row for row in rows if row[0] >= 0.2 * end and row[1] > 0 and row[2] > 0]
ok = int(status) == 0 and failed == 0 and p['sessions']['ok'] == int(conns) and len(steady) >= 2
print(f"soak: {conns} MTLS sessions kept for {duration}; generator exit status {status}")
print(f"sessions ok {p['sessions']['ok']} of {p['sessions']['started']}; transactions "
      f"{sum(t['ok'] for t in p['transactions'].values())} ok, "
      f"{p['rates']['transactions_per_s']:.0f}/s; failures {p['failures'] or 'none'}")
for name, col in (('server', 1), ('generator', 2)):
    vals = [row[col] for row in steady]
    if not vals:
        print(f"{name}: no samples")
        continue
    lo, hi = min(vals), max(vals)
    spread = (hi - lo) / lo * 100 if lo else float('inf')
    ok = ok and spread <= float(tolerance)
    print(f"{name} RSS from 20% of the run on: {lo / 1024:.1f} to {hi / 1024:.1f} MiB "
          f"({spread:.1f}% spread, {len(vals)} samples; at most {tolerance}%)")
print('PASS' if ok else 'FAIL')
PY
cat "$out/soak-summary.txt"
grep -q '^PASS$' "$out/soak-summary.txt"
