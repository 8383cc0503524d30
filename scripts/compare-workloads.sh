#!/usr/bin/env bash
# Every workload's headline figure, this checkout against another revision, in interleaved
# rounds (old, new, old, new, ...) so that drift on a shared machine hits both alike. For a
# change that must not move any figure (a restructuring): the default profile (full TLS and
# MTLS sessions, SIP OPTIONS over kept sessions) on the rustls and the OpenSSL stack, TLS 1.3
# ticket resumption, an open-loop phase (coordinated-omission corrected), 1,000 held sessions,
# bulk records (16 KiB, TLS and MTLS), pipelined MESSAGEs and a reconnect storm.
# Prints one line per run and phase, then the medians per revision and phase.
#
# Usage: [ONLY=label,label] scripts/compare-workloads.sh REV [ROUNDS] [OUT]
#   REV: the revision to compare against (built once in a worktree under /tmp)
#   ROUNDS: default 3 (about 3 minutes a round); OUT: also append the lines to this file.
#   ONLY: run only these of the runs below (by label), e.g. ONLY=default,records.
# Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/compare-workloads.sh REV [ROUNDS] [OUT]}
rounds=${2:-3}
out=${3:-/dev/null}
short=$(git rev-parse --short=12 "$rev")
tree=/tmp/sipbench-$short
if [[ ! -d $tree ]]; then
  git worktree add --detach "$tree" "$short" >/dev/null
fi
(cd "$tree" && CARGO_TARGET_DIR="$tree/target" cargo build --release --bins >/dev/null 2>&1)
cargo build --release --bins >/dev/null 2>&1
old="$tree/target/release/sipbench"
new=./target/release/sipbench
head=$(git rev-parse --short=12 HEAD)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The runs of one round: a label and the arguments (flags both revisions understand).
runs=(
  "default|run"
  "default-openssl|run --backend openssl"
  "tickets|run --mode tls --workload sessions --concurrency 64 --resumption tls13-tickets --transactions REGISTER --warmup 1s --duration 5s"
  "open-loop|run --mode tls --workload sessions --rate 2000 --transactions REGISTER --warmup 1s --duration 5s"
  "hold|run --mode tls --workload hold --connections 1000 --warmup 0s --duration 2s"
  "records|run --profile profiles/bulk.toml --phase records-16k-aes256 --phase records-16k-mtls"
  "messages|run --profile profiles/bulk.toml --phase messages-1k-window8"
  "storm|run --mode tls --workload storm --connections 500 --warmup 500ms --duration 10s"
  "hold-5000|run --profile profiles/hold.toml"
)
if [[ -n ${ONLY:-} ]]; then
  keep=()
  for entry in "${runs[@]}"; do
    [[ ",$ONLY," == *",${entry%%|*},"* ]] && keep+=("$entry")
  done
  runs=("${keep[@]}")
fi

# Prints "<label> <phase> <figure>=<value> ..." for each phase of a results file.
figures() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for p in r['phases']:
    lat = p['latency_us']
    main = next((k for k in ('session', 'sip.OPTIONS', 'sip.MESSAGE', 'sip.REGISTER') if k in lat), None)
    f = {
        'sessions/s': p['rates']['sessions_per_s'],
        'txn/s': p['rates']['transactions_per_s'],
    }
    if main:
        f[main + '.p50_ms'] = lat[main]['p50'] / 1000
        f[main + '.p99_ms'] = lat[main]['p99'] / 1000
    if 'handshake.full' in lat:
        f['handshake.p50_ms'] = lat['handshake.full']['p50'] / 1000
    if p.get('bulk'):
        f['MB/s'] = p['bulk']['mb_per_s_out']
    if p.get('messages'):
        f['messages/s'] = p['messages']['messages_per_s']
    if p.get('memory') and p['memory'].get('per_session_bytes'):
        f['KiB/session'] = p['memory']['per_session_bytes'] / 1024
    f['failed'] = p['sessions']['failed']
    print(sys.argv[2], p['plan']['name'], ' '.join('%s=%.6g' % kv for kv in f.items()))
PY
}

for ((i = 1; i <= rounds; i++)); do
  for entry in "${runs[@]}"; do
    label=${entry%%|*}
    read -ra args <<<"${entry#*|}"
    for which in old new; do
      bin=$old
      name=$short
      if [[ $which == new ]]; then
        bin=$new
        name=$head
      fi
      "$bin" "${args[@]}" -q --out "$tmp/r.json"
      figures "$tmp/r.json" "round=$i rev=$name run=$label" | tee -a "$out"
    done
  done
done | tee "$tmp/all.txt"

echo
echo "medians over $rounds rounds (old $short, new $head; new/old):"
python3 - "$tmp/all.txt" "$short" "$head" <<'PY'
import re, statistics, sys
from collections import defaultdict
old, new = sys.argv[2], sys.argv[3]
vals = defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r'round=\d+ rev=(\S+) run=(\S+) (\S+) (.*)', line)
    if not m:
        continue
    rev, run, phase, rest = m.groups()
    for kv in rest.split():
        k, v = kv.split('=')
        vals[(run, phase, k, rev)].append(float(v))
keys = sorted({(r, p, k) for (r, p, k, _) in vals})
for run, phase, k in keys:
    a, b = vals.get((run, phase, k, old)), vals.get((run, phase, k, new))
    if not a or not b:
        continue
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = '%+.1f%%' % ((mb / ma - 1) * 100) if ma else 'n/a'
    print('%-16s %-22s %-22s %12.6g %12.6g  %s' % (run, phase, k, ma, mb, ratio))
PY
