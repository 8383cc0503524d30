#!/usr/bin/env bash
# Full TLS and MTLS handshake rates of this checkout against another revision, in interleaved
# rounds (old, new, old, new, ...) so that drift on a shared machine hits both alike: the
# embedded server and generator in one process, the default profile's handshake phases, with
# CRL checks (as shipped) and without (--no-revocation), on the rustls and the OpenSSL stack.
# Prints one line per run and the medians per variant.
#
# Usage: scripts/compare-revisions.sh REV [ROUNDS] [OUT]
#   REV: the revision to compare against (built once in a worktree under /tmp)
#   ROUNDS: default 3 (about 2 minutes a round); OUT: also append the lines to this file.
# Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/compare-revisions.sh REV [ROUNDS] [OUT]}
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

# One run: prints "<label> tls <rate>/s <cpu>us mtls <rate>/s <cpu>us".
one() {
  local label=$1 bin=$2
  shift 2
  "$bin" run --phase tls-full-handshake --phase mtls-full-handshake -q --out "$tmp/r.json" "$@"
  python3 - "$tmp/r.json" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[2], ' '.join('%s %.0f/s %.0fus' % (p['plan']['mode'], p['rates']['sessions_per_s'], p['cpu']['per_session_us']) for p in r['phases']))
PY
}

declare -a lines
for ((i = 1; i <= rounds; i++)); do
  for backend in aws-lc-rs openssl; do
    for rev_flag in crl --no-revocation; do
      flags=(--backend "$backend")
      [[ $rev_flag == crl ]] || flags+=("$rev_flag")
      for which in old new; do
        bin=$old
        name=$short
        if [[ $which == new ]]; then
          bin=$new
          name=$head
        fi
        line=$(one "round=$i rev=$name backend=$backend revocation=${rev_flag#--}" "$bin" "${flags[@]}")
        echo "$line" | tee -a "$out"
        lines+=("$line")
      done
    done
  done
done

echo "medians (sessions/s; us CPU per session):" | tee -a "$out"
printf '%s\n' "${lines[@]}" | python3 -c '
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in sys.stdin:
    words = line.split()
    key = " ".join(w for w in words[1:4])
    rest = words[4:]
    runs[key].append({rest[i]: (float(rest[i + 1][:-2]), float(rest[i + 2][:-2])) for i in range(0, len(rest), 3)})
for key, rs in runs.items():
    parts = []
    for mode in ("tls", "mtls"):
        rate = statistics.median(r[mode][0] for r in rs)
        cpu = statistics.median(r[mode][1] for r in rs)
        parts.append("%s %.0f/s %.0fus" % (mode, rate, cpu))
    print("  %-55s %s" % (key, "  ".join(parts)))
' | tee -a "$out"
