#!/usr/bin/env bash
# Resident memory per held TLS session, both ends (issue 14): the `hold` workload at 5,000
# sessions with the embedded server (the results file's `memory` object), and at 15,000 with
# `sipbench serve` in a process of its own (15,000 sessions in one process would need 30,000
# descriptors, over the hard limit here): the generator's file gives its end, the server's
# VmRSS before the sessions and at its highest while they are held gives the other.
#
# Usage: scripts/hold-memory.sh [OUT_DIR] [BIN]
#        (default results, and the release build in $CARGO_TARGET_DIR or target/).
# Writes OUT_DIR/hold-5000.json and OUT_DIR/hold-15000.json (the generator's end) and prints
# one line per run: KiB per session, both ends.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/serve-lib.sh"
out="${1:-$root/results}"
bin="${2:-${CARGO_TARGET_DIR:-$root/target}/release/sipbench}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'kill "${serve_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"
per_session() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['phases'][0]['memory']['per_session_bytes'])" "$1"; }

"$bin" run --profile "$root/profiles/hold.toml" -q -o "$out/hold-5000.json" 2>/dev/null
echo "hold 5000 embedded: $(per_session "$out/hold-5000.json" | awk '{printf "%.1f", $1/1024}') KiB per session, both ends"

"$bin" pki init "$work/pki" >/dev/null
"$bin" serve --pki "$work/pki" --tcp-addr 127.0.0.1:27460 --tls-addr 127.0.0.1:27461 \
    --mtls-addr 127.0.0.1:27462 --max-connections 20000 --max-connections-per-address 0 >"$work/serve.json" 2>"$work/serve.err" &
serve_pid=$!
serve_wait "$work/serve.err" || exit 1
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$serve_pid/status"; }
before=$(rss)
peak=$before
"$bin" run --tls-addr 127.0.0.1:27461 --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
    --mode tls --workload hold --connections 15000 --warmup 0s --duration 10s \
    --connect-timeout 20s --handshake-timeout 20s -q -o "$out/hold-15000.json" 2>/dev/null &
run_pid=$!
while kill -0 "$run_pid" 2>/dev/null; do
    now=$(rss)
    ((now > peak)) && peak=$now
    sleep 0.2
done
wait "$run_pid"
python3 - "$out/hold-15000.json" "$before" "$peak" <<'PY'
import json, os, sys
path, before, peak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(path))
m = d["phases"][0]["memory"]
server = (peak - before) / m["sessions_held"]
# The server's side goes to memory/hold-15000-serve-rss.json (the results file's schema has no
# place for another process's memory).
side = {"rss_before_bytes": before, "rss_held_peak_bytes": peak, "per_session_bytes": round(server)}
side_path = os.path.join(os.path.dirname(path), "memory", "hold-15000-serve-rss.json")
os.makedirs(os.path.dirname(side_path), exist_ok=True)
json.dump(side, open(side_path, "w"), indent=2)
print(f"hold 15000, serve apart: generator {m['per_session_bytes']/1024:.1f} + server {server/1024:.1f} = "
      f"{(m['per_session_bytes'] + server)/1024:.1f} KiB per session, both ends ({m['sessions_held']} held)")
PY
