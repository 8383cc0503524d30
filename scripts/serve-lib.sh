# Shared by the figure scripts that run `sipbench serve` in a process of its own: sourced
# (`. "$root/scripts/serve-lib.sh"`), not run.

# serve_wait ERR_FILE: waits up to 10 s for the ready line serve writes to its standard error;
# without it, prints what serve said and fails.
serve_wait() {
    for _ in $(seq 100); do grep -q "^sipbench serve:" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "serve did not start:" >&2
    cat "$1" >&2
    return 1
}

# serve_addr ERR_FILE LISTENER: the address the ready line gives for LISTENER (tls, mtls, tcp,
# udp), as in "sipbench serve: tls 127.0.0.1:35979 · mtls 127.0.0.1:42485 · tcp ...".
serve_addr() {
    sed -n "s/^sipbench serve:.*\b$2 \([0-9.]*:[0-9]*\).*/\1/p" "$1" | head -1
}
