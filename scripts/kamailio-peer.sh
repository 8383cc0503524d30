#!/usr/bin/env bash
# Start/stop Debian's Kamailio (5.6) as an independent third-party SIP server on
# loopback, for sipbench's interop tests. See tests/kamailio/README.md.
#
#   scripts/kamailio-peer.sh start DIR PKI_DIR
#       Writes DIR/kamailio.cfg and DIR/tls.cfg, starts kamailio in the background
#       (pid in DIR/kamailio.pid, log in DIR/kamailio.log, runtime dir DIR/run),
#       waits (bounded by KAM_START_TIMEOUT s) until it answers an OPTIONS over TCP
#       and its TLS ports accept connections, then prints KEY=VALUE lines on stdout.
#       PKI_DIR is a directory made by `sipbench pki init`.
#   scripts/kamailio-peer.sh stop DIR
#       Stops it (SIGTERM, then SIGKILL of its process group after 5 s).
#
# Behaviour of the routing script:
#   OPTIONS  -> 200 OK with a Date header (any Request-URI)
#   REGISTER -> digest challenge (401, WWW-Authenticate, realm KAM_REALM, qop="auth",
#               algorithm KAM_AUTH_ALGORITHM), then 200 OK after a correct response
#               (save("location"), usrloc in memory). Password of user U is
#               "${KAM_PASSWORD_PREFIX}U" (default "pass-U"); the Authorization
#               username must equal the To user (else 403).
#   INVITE   -> 100, 180, 200 (stateless replies, no SDP answer); BYE -> 200 OK
#   ACK      -> dropped; anything else -> 501 Not Implemented.
#
# Environment (defaults in brackets):
#   KAM_HOST [127.0.0.1]  KAM_TCP_PORT [25060]  KAM_TLS_PORT [25061]  KAM_MTLS_PORT [25062]
#   KAM_UDP_PORT [KAM_TCP_PORT] (SIP over UDP; the same number as TCP, as SIP servers do)
#   KAM_REALM [example.test]   KAM_AUTH_ALGORITHM [MD5] (MD5 | SHA-256 | "" = no algorithm param)
#   KAM_PASSWORD_PREFIX [pass-]   KAM_NONCE_COUNT [0] (1 = stateful, nc replay check)
#   KAM_NONCE_EXPIRE [300] (seconds; an older nonce gets 401 with stale=true)
#   KAM_TLS_METHOD [TLSv1.2+] (TLSv1.2+ allows 1.2 and 1.3; TLSv1.2 = 1.2 only)
#   KAM_TLS_CERT [PKI/server.pem]  KAM_TLS_KEY [PKI/server.key]
#   KAM_MTLS_CA [PKI/enterprise-ca.pem]  KAM_MTLS_CRL [PKI/enterprise-ca.crl if present; "" = none]
#   KAM_CHILDREN [2]  KAM_SHM_MB [64]  KAM_PKG_MB [8]  KAM_DEBUG [2] (log level, 3 = debug)
#   KAM_START_TIMEOUT [20]  KAM_BIN [kamailio]  KAM_NO_INSTALL [0] (1 = never apt-get install)
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PKI_DIR | stop DIR" >&2
    exit 2
}

die() {
    echo "kamailio-peer: $*" >&2
    exit 1
}

KAM_HOST=${KAM_HOST:-127.0.0.1}
KAM_TCP_PORT=${KAM_TCP_PORT:-25060}
KAM_UDP_PORT=${KAM_UDP_PORT:-$KAM_TCP_PORT}
KAM_TLS_PORT=${KAM_TLS_PORT:-25061}
KAM_MTLS_PORT=${KAM_MTLS_PORT:-25062}
KAM_REALM=${KAM_REALM:-example.test}
KAM_AUTH_ALGORITHM=${KAM_AUTH_ALGORITHM-MD5}
KAM_PASSWORD_PREFIX=${KAM_PASSWORD_PREFIX-pass-}
KAM_NONCE_COUNT=${KAM_NONCE_COUNT:-0}
KAM_NONCE_EXPIRE=${KAM_NONCE_EXPIRE:-300}
KAM_TLS_METHOD=${KAM_TLS_METHOD:-TLSv1.2+}
KAM_CHILDREN=${KAM_CHILDREN:-2}
KAM_SHM_MB=${KAM_SHM_MB:-64}
KAM_PKG_MB=${KAM_PKG_MB:-8}
KAM_DEBUG=${KAM_DEBUG:-2}
KAM_START_TIMEOUT=${KAM_START_TIMEOUT:-20}
KAM_BIN=${KAM_BIN:-kamailio}
KAM_NO_INSTALL=${KAM_NO_INSTALL:-0}

abspath() { (cd "$1" && pwd -P); }

# Is a process alive (not a zombie: a dead child not yet reaped still answers kill -0)?
proc_alive() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# Is a process alive and still kamailio (guards against a recycled pid)?
kam_alive() {
    proc_alive "$1" || return 1
    local comm
    comm=$(cat "/proc/$1/comm" 2>/dev/null || true)
    [ -z "$comm" ] || [ "$comm" = kamailio ]
}

ensure_installed() {
    if command -v "$KAM_BIN" >/dev/null 2>&1 &&
        compgen -G '/usr/lib/*/kamailio/modules/tls.so' >/dev/null; then
        return 0
    fi
    [ "$KAM_NO_INSTALL" = 1 ] && die "kamailio (with tls.so) not installed and KAM_NO_INSTALL=1"
    [ "$(id -u)" = 0 ] || die "kamailio missing; install: apt-get install -y --no-install-recommends kamailio kamailio-tls-modules"
    echo "kamailio-peer: installing kamailio kamailio-tls-modules" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends kamailio kamailio-tls-modules >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends kamailio kamailio-tls-modules >&2; } ||
        die "apt-get install kamailio failed"
    command -v "$KAM_BIN" >/dev/null 2>&1 || die "kamailio still not found after install"
}

# Sends one OPTIONS over plain TCP and prints the status line (empty on failure).
tcp_options_probe() {
    local line="" status="" n=0
    if { exec 3<>"/dev/tcp/$KAM_HOST/$KAM_TCP_PORT"; } 2>/dev/null; then
        printf 'OPTIONS sip:%s:%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s:9;branch=z9hG4bK-probe%s\r\nMax-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=p%s\r\nTo: <sip:%s>\r\nCall-ID: probe-%s-%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' \
            "$KAM_HOST" "$KAM_TCP_PORT" "$KAM_HOST" "$$$RANDOM" "$KAM_REALM" "$RANDOM" "$KAM_REALM" "$$" "$RANDOM" >&3 2>/dev/null || true
        IFS= read -r -t 2 status <&3 2>/dev/null || true
        # Drain the rest of the response head so the close is clean (no RST).
        while [ -n "$status" ] && [ "$n" -lt 40 ] && IFS= read -r -t 1 line <&3 2>/dev/null; do
            n=$((n + 1))
            [ -z "${line%$'\r'}" ] && break
        done
        exec 3>&- 3<&- || true
    fi
    printf '%s' "${status%$'\r'}"
}

port_open() {
    # Connect and close at once; kamailio logs a harmless TLS handshake error for it.
    (exec 3<>"/dev/tcp/$KAM_HOST/$1") 2>/dev/null
}

write_configs() {
    local dir=$1 pki=$2
    local cert=${KAM_TLS_CERT:-$pki/server.pem}
    local key=${KAM_TLS_KEY:-$pki/server.key}
    local ca=${KAM_MTLS_CA:-$pki/enterprise-ca.pem}
    local crl
    if [ "${KAM_MTLS_CRL+set}" = set ]; then
        crl=$KAM_MTLS_CRL
    elif [ -f "$pki/enterprise-ca.crl" ]; then
        crl=$pki/enterprise-ca.crl
    else
        crl=""
    fi
    for f in "$cert" "$key" "$ca" ${crl:+"$crl"}; do
        [ -r "$f" ] || die "cannot read $f"
    done
    case "$KAM_AUTH_ALGORITHM" in
    "" | MD5 | SHA-256) ;;
    *) die "KAM_AUTH_ALGORITHM must be MD5, SHA-256 or empty (got '$KAM_AUTH_ALGORITHM')" ;;
    esac

    cat >"$dir/tls.cfg" <<EOF
# generated by scripts/kamailio-peer.sh
# TLS: server certificate only, no client certificate asked for.
[server:$KAM_HOST:$KAM_TLS_PORT]
method = $KAM_TLS_METHOD
certificate = $cert
private_key = $key
verify_certificate = no
require_certificate = no

# MTLS: a client certificate is required and verified against the CA (and CRL).
[server:$KAM_HOST:$KAM_MTLS_PORT]
method = $KAM_TLS_METHOD
certificate = $cert
private_key = $key
ca_list = $ca
${crl:+crl = $crl}
verify_certificate = yes
require_certificate = yes
verify_depth = 5

[server:default]
method = $KAM_TLS_METHOD
certificate = $cert
private_key = $key
verify_certificate = no
require_certificate = no

[client:default]
method = $KAM_TLS_METHOD
verify_certificate = no
require_certificate = no
EOF

    cat >"$dir/kamailio.cfg" <<EOF
#!KAMAILIO
# generated by scripts/kamailio-peer.sh
debug=$KAM_DEBUG
log_stderror=yes
memdbg=5
memlog=5
children=$KAM_CHILDREN
tcp_children=$KAM_CHILDREN
auto_aliases=no
alias="$KAM_REALM"
alias="sip.$KAM_REALM"
enable_tls=yes
tcp_connection_lifetime=3605
tcp_max_connections=4096
tls_max_connections=4096
tcp_accept_no_cl=yes
dns=no
rev_dns=no
use_dns_cache=no
server_header="Server: kamailio-peer (sipbench interop)"
user_agent_header="User-Agent: kamailio-peer (sipbench interop)"

listen=tcp:$KAM_HOST:$KAM_TCP_PORT
listen=udp:$KAM_HOST:$KAM_UDP_PORT
listen=tls:$KAM_HOST:$KAM_TLS_PORT
listen=tls:$KAM_HOST:$KAM_MTLS_PORT

loadmodule "tls.so"
#!ifdef WITH_NONCE_COUNT
loadmodule "tm.so"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"

modparam("tls", "config", "$dir/tls.cfg")
modparam("tls", "tls_log", 3)
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("auth", "qop", "auth")
modparam("auth", "algorithm", "$KAM_AUTH_ALGORITHM")
modparam("auth", "nonce_expire", $KAM_NONCE_EXPIRE)
#!ifdef WITH_NONCE_COUNT
modparam("auth", "nonce_count", 1)
#!endif

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("ACK")) {
        exit;
    }
    if (is_method("OPTIONS")) {
        # RFC 3261 20.17: the server's clock, which sipbench's clock probe reads.
        append_to_reply("Date: \$utimef(%a, %d %b %Y %H:%M:%S GMT)\r\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("REGISTER")) {
        route(REGISTRAR);
        exit;
    }
    if (is_method("INVITE")) {
        sl_send_reply("100", "Trying");
        sl_send_reply("180", "Ringing");
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("BYE")) {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("501", "Not Implemented");
    exit;
}

route[REGISTRAR] {
#!ifdef WITH_NONCE_COUNT
    if (!t_newtran()) {
        sl_reply_error();
        exit;
    }
#!endif
    # Password rule: user U has password "${KAM_PASSWORD_PREFIX}U".
    \$var(password) = "$KAM_PASSWORD_PREFIX" + \$au;
    # checks=1: the Authorization username must equal the To user.
    \$var(rc) = pv_auth_check("$KAM_REALM", "\$var(password)", "0", "1");
    if (\$var(rc) == -8) {
        xlog("L_NOTICE", "REGISTER auth user \$au != To user \$tU\n");
        send_reply("403", "Forbidden (auth user mismatch)");
        exit;
    }
    if (\$var(rc) < 0) {
        xlog("L_DBG", "REGISTER for \$tU challenged (rc=\$var(rc))\n");
        # flags: 1 = qop=auth; 16 = stale=true when the nonce expired.
        if (\$var(rc) == -4) {
            auth_challenge("$KAM_REALM", "17");
        } else {
            auth_challenge("$KAM_REALM", "1");
        }
        exit;
    }
    consume_credentials();
    # send_reply: stateful when a transaction exists (KAM_NONCE_COUNT=1), else stateless.
    if (!save("location")) {
        send_reply("500", "Server Error (save failed)");
    }
    exit;
}
EOF
}

cmd_start() {
    [ $# -eq 2 ] || usage
    local dir=$1 pki=$2
    mkdir -p "$dir"
    dir=$(abspath "$dir")
    [ -d "$pki" ] || die "PKI_DIR $pki is not a directory"
    pki=$(abspath "$pki")

    if [ -f "$dir/kamailio.pid" ] && kam_alive "$(cat "$dir/kamailio.pid")"; then
        die "already running (pid $(cat "$dir/kamailio.pid")); run: $0 stop $dir"
    fi
    local port
    for port in "$KAM_TCP_PORT" "$KAM_TLS_PORT" "$KAM_MTLS_PORT"; do
        ! port_open "$port" || die "$KAM_HOST:$port is already in use (another kamailio-peer? see: ss -ltnp)"
    done
    ensure_installed
    write_configs "$dir" "$pki"
    rm -rf "$dir/run"
    mkdir -p "$dir/run"
    rm -f "$dir/kamailio.pid"

    local defs=()
    [ "$KAM_NONCE_COUNT" = 1 ] && defs=(-A WITH_NONCE_COUNT)
    "$KAM_BIN" -c -f "$dir/kamailio.cfg" "${defs[@]}" -Y "$dir/run" >"$dir/kamailio-check.log" 2>&1 ||
        { cat "$dir/kamailio-check.log" >&2; die "config check failed (see $dir/kamailio-check.log)"; }

    # -DD: stay in the foreground (no daemon fork), -E: log to stderr (-> kamailio.log).
    # setsid: own session/process group, so `stop` can signal the whole group.
    setsid "$KAM_BIN" -DD -E -f "$dir/kamailio.cfg" "${defs[@]}" -Y "$dir/run" \
        -m "$KAM_SHM_MB" -M "$KAM_PKG_MB" -P "$dir/run/kamailio-internal.pid" \
        </dev/null >"$dir/kamailio.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/kamailio.pid"

    local deadline=$((SECONDS + KAM_START_TIMEOUT)) status=""
    while :; do
        # (just after the fork the process may still be bash or setsid, not kamailio)
        if ! proc_alive "$pid"; then
            tail -n 30 "$dir/kamailio.log" >&2 || true
            rm -f "$dir/kamailio.pid"
            die "kamailio exited during startup (log: $dir/kamailio.log)"
        fi
        status=$(tcp_options_probe)
        if [[ $status == "SIP/2.0 200"* ]] && port_open "$KAM_TLS_PORT" && port_open "$KAM_MTLS_PORT" &&
            proc_alive "$pid"; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$dir/kamailio.log" >&2 || true
            cmd_stop "$dir" >&2 || true
            die "kamailio not ready within ${KAM_START_TIMEOUT}s (last probe: '${status}')"
        fi
        sleep 0.2
    done

    # kamailio writes its own pid file too (-P); prefer it should setsid have forked.
    local kpid
    kpid=$(cat "$dir/run/kamailio-internal.pid" 2>/dev/null || true)
    if [ -n "$kpid" ] && [ "$kpid" != "$pid" ] && kam_alive "$kpid"; then
        pid=$kpid
        echo "$pid" >"$dir/kamailio.pid"
    fi

    cat <<EOF
KAM_PID=$pid
KAM_HOST=$KAM_HOST
KAM_TCP_PORT=$KAM_TCP_PORT
KAM_UDP_PORT=$KAM_UDP_PORT
KAM_TLS_PORT=$KAM_TLS_PORT
KAM_MTLS_PORT=$KAM_MTLS_PORT
KAM_REALM=$KAM_REALM
KAM_AUTH_ALGORITHM=$KAM_AUTH_ALGORITHM
KAM_PASSWORD_PREFIX=$KAM_PASSWORD_PREFIX
KAM_LOG=$dir/kamailio.log
EOF
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    local dir=$1 pid
    [ -f "$dir/kamailio.pid" ] || { echo "kamailio-peer: not running (no $dir/kamailio.pid)" >&2; return 0; }
    pid=$(cat "$dir/kamailio.pid")
    if kam_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local _
        for _ in $(seq 1 50); do
            kam_alive "$pid" || break
            sleep 0.1
        done
    fi
    # Whatever kamailio processes are left in its process group (children), if any.
    local left
    left=$(ps -e -o pid=,pgid=,stat=,comm= | awk -v g="$pid" '$2 == g && $3 !~ /^Z/ && $4 == "kamailio" { print $1 }')
    if [ -n "$left" ]; then
        sleep 0.3
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
    fi
    rm -f "$dir/kamailio.pid"
}

[ $# -ge 1 ] || usage
case "$1" in
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
*) usage ;;
esac
