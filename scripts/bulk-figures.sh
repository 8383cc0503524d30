#!/usr/bin/env bash
# Bulk record throughput against the cipher's own speed (issue 14): one TLS 1.3 session,
# TLS13_AES_128_GCM_SHA256, 16 KiB records, client to server, aws-lc-rs, held against
#   - `openssl speed -evp aes-128-gcm -bytes 16384` (encrypt, and decrypt with -decrypt): the
#     cipher alone on one core, no TLS framing, no socket, no copies;
#   - the bare tokio-rustls loop (src/baseline.rs, mode records), run after each phase in the
#     same process by `run --efficiency`;
#   - sipbench's generator alone: `sipbench serve --workers 1` in its own process on CPU 1, the
#     generator on CPU 0, the generator's CPU per MB written from the kernel's rusage;
#   - plain TCP over loopback, no TLS at all (Python sockets, 64 KiB sends from CPU 0, a reader
#     on CPU 1): what one stream through this kernel's socket moves with no crypto.
# ROUNDS (default 3) interleaved rounds; prints medians and ranges (also to OUT_DIR/figures.txt)
# and keeps each round's files in OUT_DIR.
#
# Usage: [BIN=path/to/sipbench] [ROUNDS=3] [SECS=5] scripts/bulk-figures.sh [OUT_DIR]
#        (default results/bulk-cipher; the release build in $CARGO_TARGET_DIR or target/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/serve-lib.sh"
out="${1:-$root/results/bulk-cipher}"
rounds="${ROUNDS:-3}"
secs="${SECS:-5}"
bin="${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/sipbench}"
[ -x "$bin" ] || (cd "$root" && cargo build --release)
command -v openssl >/dev/null || { echo "openssl missing: apt-get install openssl" >&2; exit 1; }
mkdir -p "$out"
work="$(mktemp -d)"
cleanup() { [ -n "${serve:-}" ] && kill "$serve" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" pki init "$work/pki" >/dev/null 2>&1
RUST_LOG=error taskset -c 1 "$bin" serve --tls-addr 127.0.0.1:0 --mtls-addr 127.0.0.1:0 --workers 1 --pki "$work/pki" \
    >"$work/serve.out" 2>"$work/serve.err" &
serve=$!
serve_wait "$work/serve.err" || exit 1
tls="$(serve_addr "$work/serve.err" tls)"
echo "server: tls $tls (CPU 1)" >&2

openssl version >"$out/openssl-version.txt"
for r in $(seq "$rounds"); do
    taskset -c 0 openssl speed -evp aes-128-gcm -bytes 16384 -seconds "$secs" >"$out/speed-encrypt-$r.txt" 2>&1
    taskset -c 0 openssl speed -decrypt -evp aes-128-gcm -bytes 16384 -seconds "$secs" \
        >"$out/speed-decrypt-$r.txt" 2>&1
    python3 - "$secs" >"$out/plain-tcp-$r.txt" <<'PY'
import os, resource, socket, sys, time
secs = float(sys.argv[1])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.sched_setaffinity(0, {1})
    c, _ = ls.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf, n = bytearray(65536), 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    os.write(w, str(n).encode()); os._exit(0)
os.sched_setaffinity(0, {0})
s = socket.create_connection(ls.getsockname()); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
data, sent = os.urandom(65536), 0
u0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
while time.monotonic() - t0 < secs:
    for _ in range(64):
        s.sendall(data); sent += len(data)
t, u1 = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_SELF)
s.close(); os.waitpid(pid, 0); got = int(os.read(r, 64))
mb = sent / 1e6
print(f"{mb / t:.1f} {(u1.ru_utime - u0.ru_utime) * 1e6 / mb:.1f} {(u1.ru_stime - u0.ru_stime) * 1e6 / mb:.1f} {int(got == sent)}")
PY
    "$bin" run --mode tls --workload records --connections 1 --record-size 16384 \
        --cipher-suite TLS13_AES_128_GCM_SHA256 --warmup 500ms -d "${secs}s" --efficiency -w 2 -q \
        -o "$out/in-process-$r.json"
    python3 - "$out/generator-$r.txt" "$bin" run --tls-addr "$tls" --server-name sip.example.test \
        --ca "$work/pki/enterprise-ca.pem" --mode tls --workload records --connections 1 \
        --record-size 16384 --cipher-suite TLS13_AES_128_GCM_SHA256 -w 1 --warmup 500ms \
        -d "${secs}s" -q -o "$out/generator-$r.json" <<'PY'
import resource, subprocess, sys
log, cmd = sys.argv[1], sys.argv[2:]
r = subprocess.run(["taskset", "-c", "0"] + cmd)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(log, "w").write(f"{u.ru_utime:.4f} {u.ru_stime:.4f} {r.returncode}\n")
PY
done

python3 - "$out" "$rounds" <<'PY' | tee "$out/figures.txt"
import json, os, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def speed(path):
    # "The 'numbers' are in 1000s of bytes per second processed."; the last field is 16384 bytes.
    line = [l for l in open(path) if l.startswith("AES-128-GCM")][-1]
    return float(line.split()[-1].rstrip("k")) / 1000.0
rows = {k: [] for k in ["enc", "dec", "sb", "bare", "sb_cpu", "bare_cpu", "gen", "gen_cpu", "gen_user", "gen_sys",
                        "tcp", "tcp_user", "tcp_sys"]}
for r in range(1, rounds + 1):
    rows["enc"].append(speed(os.path.join(out, f"speed-encrypt-{r}.txt")))
    rows["dec"].append(speed(os.path.join(out, f"speed-decrypt-{r}.txt")))
    mbs, user, sys_, intact = open(os.path.join(out, f"plain-tcp-{r}.txt")).read().split()
    assert intact == "1", "plain TCP: the reader did not get every byte"
    rows["tcp"].append(float(mbs)); rows["tcp_user"].append(float(user)); rows["tcp_sys"].append(float(sys_))
    p = json.load(open(os.path.join(out, f"in-process-{r}.json")))["phases"][0]
    e = p["efficiency"]
    rows["sb"].append(e["per_s"]); rows["bare"].append(e["bare_per_s"])
    rows["sb_cpu"].append(e["cpu_us"]); rows["bare_cpu"].append(e["bare_cpu_us"])
    g = json.load(open(os.path.join(out, f"generator-{r}.json")))
    gp = g["phases"][0]
    user, sys_, rc = open(os.path.join(out, f"generator-{r}.txt")).read().split()
    # Whole process CPU (set-up and warm-up included) over every byte it wrote.
    mb = gp["bulk"]["bytes_out"] / 1e6
    rows["gen"].append(gp["bulk"]["mb_per_s_out"])
    rows["gen_cpu"].append((float(user) + float(sys_)) * 1e6 / mb if mb else float("nan"))
    rows["gen_user"].append(float(user) * 1e6 / mb if mb else float("nan"))
    rows["gen_sys"].append(float(sys_) * 1e6 / mb if mb else float("nan"))
env = json.load(open(os.path.join(out, "in-process-1.json")))["environment"]
print(f"{env['cpu_model']}, {env['cores']} cores, {env['backend']}, rev {env['git_revision']}, {env['build_profile']} build; {open(os.path.join(out, 'openssl-version.txt')).read().strip()}")
m = lambda k: statistics.median(rows[k])
rng = lambda k, f="{:.0f}": f"{f.format(m(k))} ({f.format(min(rows[k]))}-{f.format(max(rows[k]))})"
enc_us = 1e6 / m("enc")
print()
print("| what | MB/s, median (min-max) | CPU us per MB | of openssl speed (encrypt) |")
print("|---|---|---|---|")
print(f"| openssl speed, AES-128-GCM encrypt, 16 KiB blocks, one core | {rng('enc')} | {enc_us:.0f} | 1 |")
print(f"| openssl speed, AES-128-GCM decrypt, 16 KiB blocks, one core | {rng('dec')} | {1e6 / m('dec'):.0f} | {m('dec') / m('enc'):.2f} |")
print(f"| plain TCP over loopback, no TLS (Python, 64 KiB sends, CPU 0 to CPU 1) | {rng('tcp')} | sender {m('tcp_user') + m('tcp_sys'):.0f} ({m('tcp_user'):.0f} user + {m('tcp_sys'):.0f} system) | {m('tcp') / m('enc'):.2f} |")
print(f"| bare tokio-rustls stream, both ends in one process (2 threads) | {rng('bare')} | {m('bare_cpu'):.0f} (both ends) | {m('bare') / m('enc'):.2f} |")
print(f"| sipbench records phase, embedded server (2 workers) | {rng('sb')} | {m('sb_cpu'):.0f} (both ends) | {m('sb') / m('enc'):.2f} |")
print(f"| sipbench generator alone (CPU 0) against `serve --workers 1` (CPU 1) | {rng('gen')} | {m('gen_cpu'):.0f} (generator: {m('gen_user'):.0f} user + {m('gen_sys'):.0f} system) | {m('gen') / m('enc'):.2f}; per CPU {enc_us / m('gen_cpu'):.2f} |")
ratios = [a / b for a, b in zip(rows["sb"], rows["bare"])]
print()
print(f"sipbench / bare loop, in process: {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
PY
