#!/usr/bin/env bash
# What the generator itself costs, against a server in another process (issue 14): CPU seconds
# (user + system, from the kernel's rusage of the generator process alone) per full TLS
# handshake and per kept SIP transaction, sipbench side by side with two independent tools
# against the same `sipbench serve`:
#   - full TLS 1.3 handshakes: `openssl s_time -new` (OpenSSL 3.0, one connection at a time,
#     no certificate verification, no SIP) and `sipbench run --mode tls` (one OPTIONS a session,
#     chain, name and CRL checked), both with X25519 and TLS13_AES_128_GCM_SHA256 against an
#     ECDSA P-256 server certificate;
#   - kept transactions over cleartext TCP: SIPp (Debian's sip-tester, built without TLS) with an
#     OPTIONS scenario on one socket (`-t t1`) and `sipbench run --mode tcp --workload kept`,
#     both open loop at RATE/s.
# The server (release build, one worker) is pinned to CPU 1 and every generator to CPU 0.
# ROUNDS interleaved rounds (default 3); the table gives medians and ranges.
#
# Usage: scripts/generator-cost.sh [OUT_DIR]   (default results/generator-cost)
# Needs: openssl, sipp (apt-get install sip-tester), python3.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/serve-lib.sh"
out="${1:-$root/results/generator-cost}"
rounds="${ROUNDS:-3}"
secs="${SECS:-10}"
rate="${RATE:-4000}"
bin="$root/target/release/sipbench"
[ -x "$bin" ] || (cd "$root" && cargo build --release)
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
mkdir -p "$out"
work="$(mktemp -d)"
cleanup() { [ -n "${serve:-}" ] && kill "$serve" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" pki init "$work/pki" >/dev/null 2>&1
RUST_LOG=error taskset -c 1 "$bin" serve --tls-addr 127.0.0.1:0 --tcp-addr 127.0.0.1:0 \
    --mtls-addr 127.0.0.1:0 --workers 1 --pki "$work/pki" >"$work/serve.out" 2>"$work/serve.err" &
serve=$!
serve_wait "$work/serve.err" || exit 1
tls="$(serve_addr "$work/serve.err" tls)"
tcp="$(serve_addr "$work/serve.err" tcp)"
echo "server: tls $tls, tcp $tcp" >&2

# cpu LABEL CMD...: runs CMD on CPU 0 and appends "LABEL user+sys wall" to $work/cpu.
# System calls per item, where perf can count them (`perf stat -e raw_syscalls:sys_enter`).
perf_stat=()
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true 2>/dev/null; then
    perf_stat=(perf stat -e raw_syscalls:sys_enter -x,)
fi

cpu() {
    local label="$1"; shift
    local stat=()
    # Counting costs the counted process system time: only in the separate counting pass.
    [ -n "${counting:-}" ] && [ ${#perf_stat[@]} -gt 0 ] && stat=("${perf_stat[@]}" -o "$work/syscalls.$label")
    python3 - "$label" "$work/cpu" "${stat[@]}" "$@" <<'PY'
import resource, subprocess, sys, time
label, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
t = time.monotonic()
r = subprocess.run(["taskset", "-c", "0"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
wall = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
# label, CPU s (user + system), wall s, exit status, user s, system s
open(log, "a").write(f"{label} {u.ru_utime + u.ru_stime:.4f} {wall:.3f} {r.returncode} {u.ru_utime:.4f} {u.ru_stime:.4f}\n")
open(log + "." + label, "w").write(r.stdout.decode(errors="replace"))
PY
    if [ -f "$work/syscalls.$label" ]; then
        awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$work/syscalls.$label" >"$work/cpu.syscalls.$label"
        rm -f "$work/syscalls.$label"
    fi
}

cat >"$work/options.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="OPTIONS, one a call">
  <send>
    <![CDATA[
      OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
XML

total=$((rate * secs))
round() {
    local r="$1"
    rm -f "$work/cpu" "$work"/cpu.*
    cpu s_time openssl s_time -connect "$tls" -new -time "$secs" -ciphersuites TLS_AES_128_GCM_SHA256
    cpu sb_tls_c1 "$bin" run --tls-addr "$tls" --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
        -w 1 --warmup 0s -q --mode tls -c 1 -d "${secs}s" --transactions OPTIONS --kx-group X25519 \
        --cipher-suite TLS13_AES_128_GCM_SHA256 -o "$out/sb-tls-c1-$r.json"
    cpu sipp sipp "$tcp" -sf "$work/options.xml" -t t1 -r "$rate" -m "$total" -nostdin \
        -trace_stat -stf "$work/sipp-stat-$r.csv"
    cpu sb_kept "$bin" run --tls-addr "$tls" --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
        --tcp-addr "$tcp" -w 1 --warmup 0s -q --mode tcp --workload kept \
        --connections 32 --rate "$rate" --pacing timer -d "${secs}s" --transactions OPTIONS -o "$out/sb-kept-$r.json"
    cpu sb_kept_c1 "$bin" run --tls-addr "$tls" --server-name sip.example.test --ca "$work/pki/enterprise-ca.pem" \
        --tcp-addr "$tcp" -w 1 --warmup 0s -q --mode tcp --workload kept \
        --connections 1 --rate "$rate" --pacing timer -d "${secs}s" --transactions OPTIONS -o "$out/sb-kept-c1-$r.json"
    cp "$work/cpu" "$out/cpu-$r.txt"
    for f in "$work"/cpu.*; do cp "$f" "$out/$(basename "$f")-$r.txt"; done
}
for r in $(seq "$rounds"); do round "$r"; done
# One more pass, untimed, that counts each generator's system calls (where perf can).
if [ ${#perf_stat[@]} -gt 0 ]; then counting=1 round syscalls; fi

python3 - "$out" "$rounds" "$total" <<'PY' | tee "$out/figures.txt"
import json, os, re, statistics, sys
out, rounds, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
def kept_items(name):
    p = json.load(open(os.path.join(out, name)))["phases"][0]
    return sum(t["ok"] + t["failed"] for t in p["transactions"].values())
def items(r):
    s_time = open(os.path.join(out, f"cpu.s_time-{r}.txt")).read()
    n = {
        "s_time": int(re.search(r"(\d+) connections in [\d.]+s", s_time).group(1)),
        "sb_tls_c1": json.load(open(os.path.join(out, f"sb-tls-c1-{r}.json")))["phases"][0]["sessions"]["started"],
        "sipp": total,
        "sb_kept": kept_items(f"sb-kept-{r}.json"),
    }
    if os.path.exists(os.path.join(out, f"sb-kept-c1-{r}.json")):
        n["sb_kept_c1"] = kept_items(f"sb-kept-c1-{r}.json")
    return n
for r in range(1, rounds + 1):
    cpu = {}
    for l in open(os.path.join(out, f"cpu-{r}.txt")):
        f = l.split()
        cpu[f[0]] = (float(f[1]), int(f[3]), float(f[4]) if len(f) > 4 else None, float(f[5]) if len(f) > 5 else None)
    for k, n in items(r).items():
        total_s, rc, user, sys_ = cpu[k]
        rows.setdefault(k, []).append((total_s / n * 1e6, n, rc, user / n * 1e6 if user is not None else None,
                                       sys_ / n * 1e6 if sys_ is not None else None))
# System calls per item, from the separate counting pass.
calls = {}
if os.path.exists(os.path.join(out, "cpu-syscalls.txt")):
    for k, n in items("syscalls").items():
        path = os.path.join(out, f"cpu.syscalls.{k}-syscalls.txt")
        if os.path.exists(path):
            calls[k] = int(open(path).read().strip() or 0) / n
names = {
    "s_time": "full TLS 1.3 handshake | `openssl s_time -new` (no verification, no SIP)",
    "sb_tls_c1": "full TLS 1.3 handshake | `sipbench run --mode tls -c 1` (+ verification, one OPTIONS)",
    "sipp": "kept OPTIONS over TCP | SIPp 3.6.1 `-t t1` (every call on one socket), OPTIONS scenario",
    "sb_kept": "kept OPTIONS over TCP | `sipbench run --mode tcp --workload kept --connections 32`",
    "sb_kept_c1": "kept OPTIONS over TCP | `sipbench run --mode tcp --workload kept --connections 1`",
}
med = lambda v: statistics.median(v) if all(x is not None for x in v) else None
fmt = lambda x, d=1: "-" if x is None else f"{x:.{d}f}"
print("| what | generator | generator CPU us per item, median (min-max) | user / system us | system calls per item (separate pass) | items per round | exit status |")
print("|---|---|---|---|---|---|---|")
for k, label in names.items():
    if k not in rows:
        continue
    v = [x[0] for x in rows[k]]
    print(f"| {label} | {statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f}) | "
          f"{fmt(med([x[3] for x in rows[k]]))} / {fmt(med([x[4] for x in rows[k]]))} | "
          f"{fmt(calls.get(k), 2)} | {statistics.median(x[1] for x in rows[k]):.0f} | "
          f"{sorted(set(x[2] for x in rows[k]))} |")
PY
