#!/usr/bin/env python3
"""Attacks on `sipbench serve`, from a client sipbench did not write (CPython's socket and ssl).

Each attack starts its own `sipbench serve` (so the counters it prints at shutdown are the
attack's alone), samples the server's RSS from /proc every 100 ms, runs the attack on loopback,
then stops the server with SIGTERM and reads its counters. The time to cut is measured on the
attacker's side, without reading from the socket: the kernel's TCP state (TCP_INFO) of each
attacking connection is polled, and a connection counts as cut the first time it is no longer
ESTABLISHED (the server sent FIN or RST).

    scripts/attacks.py [--bin target/release/sipbench] [--out results/attacks] [ATTACK...]

Attacks: slowloris, idle, handshake-stall, slow-reader, garbage, connection-flood,
contacts-flood, records-flood, port-sharing (all by default). Writes OUT/attacks.json (every
figure, the server flags and counters) and OUT/attacks.md (the table in results/README.md).
Standard library only; sends traffic to 127.0.0.1 and 127.0.0.2 only, bounded in count and time.
"""

import argparse
import atexit
import json
import os
import re
import resource
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ESTABLISHED = 1
TCP_STATES = {1: "ESTABLISHED", 7: "CLOSE", 8: "CLOSE_WAIT", 4: "FIN_WAIT1", 5: "FIN_WAIT2"}


def tcp_state(sock):
    """The kernel's TCP state of a socket (tcpi_state, the first byte of struct tcp_info)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return 7


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Server:
    """A `sipbench serve` on three fresh loopback ports, its RSS sampled every 100 ms."""

    next_port = 26000
    running = []  # killed at exit, whatever happens

    @staticmethod
    def kill_all():
        for p in Server.running:
            if p.poll() is None:
                p.kill()

    def __init__(self, binary, pki, flags):
        Server.next_port += 10
        p = Server.next_port
        self.tcp, self.tls, self.mtls = p, p + 1, p + 2
        self.flags = [
            "--tcp-addr", f"127.0.0.1:{self.tcp}",
            "--tls-addr", f"127.0.0.1:{self.tls}",
            "--mtls-addr", f"127.0.0.1:{self.mtls}",
            "--pki", pki,
        ] + flags
        self.cmd = [binary, "serve"] + self.flags
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.stderr = []
        Server.running.append(self.proc)
        banner = threading.Event()
        self.up = False

        def drain():
            for line in self.proc.stderr:
                self.stderr.append(line.rstrip())
                if line.startswith("sipbench serve:"):
                    self.up = True
                    banner.set()
            banner.set()

        threading.Thread(target=drain, daemon=True).start()
        if not banner.wait(30) or not self.up:
            raise RuntimeError("server did not start: " + "\n".join(self.stderr))
        time.sleep(0.3)
        self.samples = []
        self.sampling = True
        self.rss_start = rss_kib(self.proc.pid)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        t0 = time.monotonic()
        while self.sampling:
            r = rss_kib(self.proc.pid)
            if r is not None:
                self.samples.append((round(time.monotonic() - t0, 2), r))
            time.sleep(0.1)

    def rss_now(self):
        return rss_kib(self.proc.pid)

    def stop(self):
        """SIGTERM, then the counters the server prints as JSON on stdout."""
        self.sampling = False
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        try:
            return json.loads(out)
        except ValueError:
            raise RuntimeError(f"server exited {self.proc.returncode} without its counters: "
                               + "\n".join(self.stderr[-5:])) from None

    def peak(self):
        return max(r for _, r in self.samples) if self.samples else None


def tls_context():
    # The attacker does not care who the server is.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_connect(port, source="127.0.0.1", rcvbuf=None):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.bind((source, 0))
    raw.settimeout(10)
    raw.connect(("127.0.0.1", port))
    return tls_context().wrap_socket(raw, server_hostname="sip.example.com")


def options(i, port, transport="TLS"):
    return (
        f"OPTIONS sip:probe@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK-atk{i}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:attacker@example.com>;tag=a{i}\r\n"
        "To: <sip:probe@example.com>\r\n"
        f"Call-ID: atk-{i}@127.0.0.1\r\n"
        f"CSeq: {i + 1} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def read_response(sock):
    """One SIP response (header block and Content-Length body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        rest += sock.recv(65536)
    return head, rest


def watch_cuts(socks, started, deadline):
    """Polls the TCP state of every socket until all are cut or the deadline passes; returns the
    seconds from `started[i]` to each socket's cut (None: still open at the deadline)."""
    cut = [None] * len(socks)
    left = set(range(len(socks)))
    while left and time.monotonic() < deadline:
        now = time.monotonic()
        for i in list(left):
            if tcp_state(socks[i]) != ESTABLISHED:
                cut[i] = now - started[i]
                left.discard(i)
        time.sleep(0.05 if len(socks) < 1000 else 0.25)
    return cut


def cut_summary(cut):
    done = sorted(c for c in cut if c is not None)
    return {
        "connections": len(cut),
        "cut": len(done),
        "still_open": len(cut) - len(done),
        "cut_s_min": round(done[0], 2) if done else None,
        "cut_s_median": round(statistics.median(done), 2) if done else None,
        "cut_s_max": round(done[-1], 2) if done else None,
    }


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# The attacks. Each returns (server flags, function(server) -> dict of figures).


def slowloris():
    """200 TLS connections send a request one byte every 3 s (the issue's reproduction)."""
    n, every = 200, 3.0

    def run(srv):
        socks = [tls_connect(srv.tls) for _ in range(n)]
        req = options(0, srv.tls)
        started = [time.monotonic()] * n
        for s in socks:
            s.send(req[:1])
        stop = threading.Event()

        def drip():
            k = 1
            while not stop.wait(every) and k < len(req):
                for s in socks:
                    if tcp_state(s) == ESTABLISHED:
                        try:
                            s.send(req[k:k + 1])
                        except OSError:
                            pass
                k += 1

        t = threading.Thread(target=drip, daemon=True)
        t.start()
        cut = watch_cuts(socks, started, time.monotonic() + 60)
        stop.set()
        t.join()
        close_all(socks)
        return {"attack": f"{n} TLS connections, each sends a request 1 byte every {every:g} s",
                "measured_from": "first byte", **cut_summary(cut)}

    return ["--idle-timeout", "15s", "--message-timeout", "10s"], run


def idle():
    """200 TLS connections complete the handshake and send nothing."""
    n = 200

    def run(srv):
        socks, started = [], []
        for _ in range(n):
            socks.append(tls_connect(srv.tls))
            started.append(time.monotonic())
        cut = watch_cuts(socks, started, time.monotonic() + 60)
        close_all(socks)
        return {"attack": f"{n} TLS connections handshake, then send nothing",
                "measured_from": "handshake done", **cut_summary(cut)}

    return ["--idle-timeout", "15s"], run


def handshake_stall():
    """200 TCP connections send 5 bytes of a ClientHello record header, then nothing."""
    n = 200

    def run(srv):
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", srv.tls))
            s.send(b"\x16\x03\x01\x02\x00")
            socks.append(s)
        started = [time.monotonic()] * n
        cut = watch_cuts(socks, started, time.monotonic() + 60)
        close_all(socks)
        return {"attack": f"{n} TCP connections send 5 bytes of a ClientHello, then stall",
                "measured_from": "connect", **cut_summary(cut)}

    return ["--handshake-timeout", "10s"], run


def slow_reader():
    """20 TLS connections with a 4 KiB receive buffer pipeline OPTIONS and never read."""
    n = 20

    def run(srv):
        socks = [tls_connect(srv.tls, rcvbuf=4096) for _ in range(n)]
        last_write = [None] * n
        sent = [0] * n

        def burst(i):
            s = socks[i]
            s.settimeout(3)
            batch = b"".join(options(i * 1_000_000 + k, srv.tls) for k in range(200))
            try:
                for _ in range(500):  # at most 100,000 requests, ~27 MB
                    s.sendall(batch)
                    sent[i] += 200
                    last_write[i] = time.monotonic()
            except (socket.timeout, OSError):
                pass

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cut = watch_cuts(socks, last_write, time.monotonic() + 60)
        close_all(socks)
        return {"attack": f"{n} TLS connections (4 KiB receive buffer) pipeline OPTIONS, never read",
                "measured_from": "the attacker's last write that went through",
                "requests_sent_median": int(statistics.median(sent)),
                **cut_summary(cut)}

    return ["--idle-timeout", "10s", "--write-timeout", "10s"], run


def garbage():
    """50 TLS connections send 64 KiB of random bytes after the handshake."""
    n = 50

    def run(srv):
        socks = [tls_connect(srv.tls) for _ in range(n)]
        started = []
        for s in socks:
            started.append(time.monotonic())
            try:
                s.settimeout(5)
                s.sendall(os.urandom(65536))
            except OSError:
                pass
        cut = watch_cuts(socks, started, time.monotonic() + 30)
        close_all(socks)
        return {"attack": f"{n} TLS connections send 64 KiB of random bytes",
                "measured_from": "first byte", **cut_summary(cut)}

    return [], run


def connection_flood():
    """12,000 TCP connections from 127.0.0.1 that never handshake; a real client from 127.0.0.2
    does one OPTIONS a second over TLS throughout. FLOOD_ROUNDS times (3) on the same server:
    memory the first flood leaves held should serve the next ones, else it leaks."""
    n = 12_000

    rounds = int(os.environ.get("FLOOD_ROUNDS", "3"))

    def run(srv):
        first = one_round(srv)
        first["rss_kib_between_rounds"] = []
        first["later_rounds"] = []
        for _ in range(rounds - 1):
            time.sleep(2)
            first["rss_kib_between_rounds"].append(srv.rss_now())
            r = one_round(srv)
            first["later_rounds"].append({k: r[k] for k in (
                "cut", "cut_within_1s", "cut_later", "probe_ok", "probe_failed",
                "rss_kib_flooded")})
        return first

    def one_round(srv):
        probe_ms, probe_fail = [], []
        stop = threading.Event()

        def probe():
            i = 0
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    s = tls_connect(srv.tls, source="127.0.0.2")
                    s.sendall(options(900_000 + i, srv.tls))
                    head, _ = read_response(s)
                    s.close()
                    if head.startswith(b"SIP/2.0 200"):
                        probe_ms.append((time.monotonic() - t0) * 1000)
                    else:
                        probe_fail.append(head.split(b"\r\n", 1)[0].decode())
                except OSError as e:
                    probe_fail.append(repr(e))
                i += 1
                stop.wait(1.0)

        pt = threading.Thread(target=probe, daemon=True)
        pt.start()
        socks, started = [], []
        t_open = time.monotonic()
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", srv.tls))
            socks.append(s)
            started.append(time.monotonic())
        opened_s = time.monotonic() - t_open
        time.sleep(0.5)  # let the non-blocking connects finish
        rss_flooded = srv.rss_now()
        cut = watch_cuts(socks, started, time.monotonic() + 40)
        stop.set()
        pt.join()
        close_all(socks)
        early = sum(1 for c in cut if c is not None and c < 1.0)
        late = [c for c in cut if c is not None and c >= 1.0]
        return {"attack": f"{n:,} TCP connections from one address, never handshake",
                "measured_from": "connect",
                "opened_in_s": round(opened_s, 2),
                "cut_within_1s": early,
                "cut_later": len(late),
                "cut_later_s_median": round(statistics.median(late), 2) if late else None,
                "rss_kib_flooded": rss_flooded,
                "probe_ok": len(probe_ms),
                "probe_failed": probe_fail,
                "probe_ms_median": round(statistics.median(probe_ms), 1) if probe_ms else None,
                "probe_ms_max": round(max(probe_ms), 1) if probe_ms else None,
                **cut_summary(cut)}

    return ["--handshake-timeout", "10s"], run


def register(aor, contacts, cseq, expires, port):
    contact = ", ".join(f"<sip:{k}@10.0.{k // 250}.{k % 250}>" for k in range(contacts))
    return (
        f"REGISTER sip:example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-reg{aor}-{cseq}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{aor}@example.com>;tag=r{cseq}\r\n"
        f"To: <sip:{aor}@example.com>\r\n"
        f"Call-ID: reg-{aor}@127.0.0.1\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: {contact}\r\n"
        f"Expires: {expires}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def status(head):
    return int(head.split(b" ", 2)[1])


def contacts_flood():
    """40 REGISTERs of 1,500 contacts each to one address of record, over plain TCP."""

    def run(srv):
        s = socket.create_connection(("127.0.0.1", srv.tcp))
        codes, sizes, ms = {}, [], []
        req_size = 0
        for i in range(40):
            req = register("victim", 1500, i + 1, 3600, srv.tcp)
            req_size = len(req)
            t0 = time.monotonic()
            s.sendall(req)
            head, body = read_response(s)
            ms.append((time.monotonic() - t0) * 1000)
            sizes.append(len(head) + 4 + len(body))
            codes[status(head)] = codes.get(status(head), 0) + 1
        s.close()
        return {"attack": "40 REGISTERs of 1,500 contacts each to one address of record (TCP)",
                "request_bytes": req_size,
                "responses": {str(k): v for k, v in sorted(codes.items())},
                "response_bytes_max": max(sizes),
                "ms_median": round(statistics.median(ms), 2),
                "ms_max": round(max(ms), 2)}

    return [], run


def records_flood():
    """110,000 REGISTERs, each a new address of record, Expires 8 s; then, once the sweep has run,
    1,000 more."""
    total, window, conns = 110_000, 500, 4

    def run(srv):
        codes = {}
        rates = {}  # records held (rounded down to 10k) -> requests/s
        lock = threading.Lock()

        def flood(c, first, count, expires, record_rate):
            s = socket.create_connection(("127.0.0.1", srv.tcp))
            i = first
            end = first + count
            while i < end:
                k = min(window, end - i)
                t0 = time.monotonic()
                s.sendall(b"".join(register(f"u{j}", 1, 1, expires, srv.tcp)
                                   for j in range(i, i + k)))
                got = []
                buf = b""
                while len(got) < k:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        raise ConnectionError("closed")
                    buf += chunk
                    while b"\r\n\r\n" in buf:  # REGISTER responses carry no body
                        head, buf = buf.split(b"\r\n\r\n", 1)
                        got.append(status(head))
                dt = time.monotonic() - t0
                with lock:
                    for code in got:
                        codes[code] = codes.get(code, 0) + 1
                    if record_rate:
                        bucket = (i - first) * conns // 10_000 * 10_000
                        n, t = rates.get(bucket, (0, 0.0))
                        rates[bucket] = (n + k, t + dt)
                i += k
            s.close()

        per = total // conns
        t0 = time.monotonic()
        threads = [threading.Thread(target=flood, args=(c, c * per, per, 8, True))
                   for c in range(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        flood_s = time.monotonic() - t0
        rss_full = srv.rss_now()
        first_codes = dict(codes)
        codes.clear()
        time.sleep(8 + 8 + 2)  # expiry, then one whole sweep (16 shards, one every 500 ms)
        flood(0, 1_000_000, 1000, 3600, False)
        per_conn_rate = {f"{k // 1000}k-{(k + 10_000) // 1000}k":
                         round(n / t * conns) for k, (n, t) in sorted(rates.items()) if t > 0}
        return {"attack": "110,000 REGISTERs over 4 TCP connections, each a new address of "
                          "record (Expires: 8), then 1,000 more after the sweep",
                "flood_s": round(flood_s, 2),
                "responses": {str(k): v for k, v in sorted(first_codes.items())},
                "requests_per_s_by_records_held": per_conn_rate,
                "rss_kib_full": rss_full,
                "after_sweep_responses": {str(k): v for k, v in sorted(codes.items())}}

    return ["--max-expires", "3600"], run


def port_sharing(binary, pki):
    """`serve` with the TLS and MTLS listeners on one address; a second `serve` on ports in use;
    then both with --reuse-port."""
    out = {}
    port = 26900
    cmd = [binary, "serve", "--pki", pki,
           "--tcp-addr", f"127.0.0.1:{port}", "--tls-addr", f"127.0.0.1:{port + 1}",
           "--mtls-addr", f"127.0.0.1:{port + 1}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    out["tls_and_mtls_on_one_address"] = {"exit": p.returncode,
                                          "stderr": p.stderr.strip().splitlines()[-1:]}
    first = Server(binary, pki, [])
    flags = first.flags
    p = subprocess.run([binary, "serve"] + flags, capture_output=True, text=True, timeout=30)
    out["second_serve_on_the_same_ports"] = {"exit": p.returncode,
                                             "stderr": p.stderr.strip().splitlines()[-1:]}
    first.stop()
    a = Server(binary, pki, ["--reuse-port"])
    Server.next_port -= 10  # the same ports again
    b = Server(binary, pki, ["--reuse-port"])
    out["both_with_reuse_port"] = {"second_started": b.proc.poll() is None}
    a.stop()
    b.stop()
    return out


ATTACKS = {
    "slowloris": slowloris,
    "idle": idle,
    "handshake-stall": handshake_stall,
    "slow-reader": slow_reader,
    "garbage": garbage,
    "connection-flood": connection_flood,
    "contacts-flood": contacts_flood,
    "records-flood": records_flood,
}


def kib(v):
    return f"{v / 1024:.1f} MiB" if v is not None else "?"


def table(results):
    rows = ["| attack | server flags | what the server did | time to cut (min / median / max) "
            "| server counters | RSS before → peak → after |",
            "|---|---|---|---|---|---|"]
    for name, r in results.items():
        if name == "port-sharing":
            for case, v in r.items():
                if "exit" in v:
                    did = f"refused to start, exit {v['exit']}: `{' '.join(v['stderr'])}`"
                else:
                    did = ("second server started (sharing asked for)" if v["second_started"]
                           else "second server did not start")
                flags = "--reuse-port (both)" if "reuse" in case else "(defaults)"
                rows.append(f"| {case.replace('_', ' ')} | `{flags}` | {did} | - | - | - |")
            continue
        f = r["figures"]
        if "cut" in f:
            did = f"cut {f['cut']} of {f['connections']}, {f['still_open']} still open"
            if name == "connection-flood":
                did += (f"; {f['cut_within_1s']} refused within 1 s; a TLS client from "
                        f"127.0.0.2 got {f['probe_ok']} of "
                        f"{f['probe_ok'] + len(f['probe_failed'])} OPTIONS answered, "
                        f"median {f['probe_ms_median']} ms, max {f['probe_ms_max']} ms")
                for k, (between, later) in enumerate(zip(f["rss_kib_between_rounds"],
                                                         f["later_rounds"])):
                    did += (f"; flood {k + 2} on the same server: cut {later['cut']}, "
                            f"{later['cut_within_1s']} refused within 1 s, probe "
                            f"{later['probe_ok']} ok {len(later['probe_failed'])} failed, "
                            f"RSS {kib(between)} before it, {kib(later['rss_kib_flooded'])} "
                            "flooded")
            if name == "slow-reader":
                did += f"; {f['requests_sent_median']:,} requests written per connection (median)"
            cut = (f"{f['cut_s_min']} / {f['cut_s_median']} / {f['cut_s_max']} s "
                   f"from {f['measured_from']}")
        elif name == "contacts-flood":
            did = (f"responses {f['responses']}, largest {f['response_bytes_max']} B for "
                   f"{f['request_bytes']:,} B requests, median {f['ms_median']} ms, "
                   f"max {f['ms_max']} ms")
            cut = "-"
        else:
            did = (f"responses {f['responses']} in {f['flood_s']} s; requests/s by records "
                   f"held {f['requests_per_s_by_records_held']}; after the sweep "
                   f"{f['after_sweep_responses']}")
            cut = "-"
        s = r["server"]
        counters = ", ".join(f"{k} {v}" for k, v in s.get("failures", {}).items())
        extra = []
        if s.get("rejected_over_cap"):
            extra.append(f"rejected_over_cap {s['rejected_over_cap']}")
        if s.get("registrar_refused"):
            extra.append("registrar_refused " + ", ".join(
                f"{k} {v}" for k, v in s["registrar_refused"].items()))
        if name.endswith("flood") and "registrar_records" in s:
            extra.append(f"registrar_records {s['registrar_records']}")
        extra.append(f"accepted {s.get('accepted')}")
        counters = "; ".join(x for x in [counters] + extra if x)
        rss = f"{kib(r['rss_kib_before'])} → {kib(r['rss_kib_peak'])} → {kib(r['rss_kib_after'])}"
        flags = " ".join(r["flags"]) or "(defaults)"
        rows.append(f"| {name} | `{flags}` | {did} | {cut} | {counters} | {rss} |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/sipbench")
    ap.add_argument("--out", default="results/attacks")
    ap.add_argument("attacks", nargs="*", metavar="ATTACK",
                    help="one of: " + ", ".join(list(ATTACKS) + ["port-sharing"]))
    args = ap.parse_args()
    names = args.attacks or list(ATTACKS) + ["port-sharing"]
    for n in names:
        if n not in ATTACKS and n != "port-sharing":
            ap.error(f"unknown attack {n!r}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 13_000 and "connection-flood" in names:
        print(f"open-files hard limit {hard} < 13,000: connection-flood will stop short",
              file=sys.stderr)
    atexit.register(Server.kill_all)
    os.makedirs(args.out, exist_ok=True)
    pki = tempfile.mkdtemp(prefix="sipbench-attacks-pki-")
    os.rmdir(pki)  # serve writes a throwaway PKI when the directory is missing
    results = {}
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        if name == "port-sharing":
            results[name] = port_sharing(args.bin, pki)
            print(json.dumps(results[name], indent=2), file=sys.stderr)
            continue
        flags, run = ATTACKS[name]()
        srv = Server(args.bin, pki, flags)
        before = srv.rss_start
        figures = run(srv)
        time.sleep(2)
        after = srv.rss_now()
        peak = srv.peak()
        counters = srv.stop()
        results[name] = {"flags": flags, "figures": figures, "server": counters,
                         "rss_kib_before": before, "rss_kib_peak": peak, "rss_kib_after": after,
                         "rss_samples": srv.samples[::10]}
        print(json.dumps({k: v for k, v in results[name].items() if k != "rss_samples"},
                         indent=2), file=sys.stderr, flush=True)
    meta = {"command": "scripts/attacks.py " + " ".join(sys.argv[1:]),
            "binary": args.bin,
            "sipbench": subprocess.run([args.bin, "--version"], capture_output=True,
                                       text=True).stdout.strip(),
            "python": sys.version.split()[0], "openssl": ssl.OPENSSL_VERSION,
            "host_cores": os.cpu_count(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(os.path.join(args.out, "attacks.json"), "w") as f:
        json.dump({"meta": meta, "attacks": results}, f, indent=2)
    md = table(results)
    with open(os.path.join(args.out, "attacks.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
