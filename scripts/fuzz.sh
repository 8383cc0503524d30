#!/usr/bin/env bash
# Coverage-guided fuzzing of sipbench's parsers: the cargo-fuzz crate in fuzz/ (see fuzz/README.md).
#
# Tooling: cargo-fuzz + libFuzzer (the libfuzzer-sys crate), on the STABLE toolchain, with
# `--sanitizer none --debug-assertions`.
#   - Of the flags cargo-fuzz gives rustc, only the sanitizer ones are unstable (-Zsanitizer=...).
#     The coverage instrumentation libFuzzer needs (-Cpasses=sancov-module,
#     -Cllvm-args=-sanitizer-coverage-*) is made of stable -C flags, so with `--sanitizer none`
#     a stable rustc builds and runs the targets: no nightly, no RUSTC_BOOTSTRAP.
#   - What is lost is AddressSanitizer, which finds memory errors in unsafe code. The code under
#     test is safe Rust (sipbench has no unsafe in src/trust or src/pki/; x509-parser, webpki,
#     toml are safe); the C underneath (OpenSSL, aws-lc) would not be instrumented by ASan anyway.
#     The bugs this finds are panics: index and slice bounds, unwrap/expect, and arithmetic
#     overflow, which --debug-assertions turns on (-Cdebug-assertions implies overflow checks).
#   - ASan still works on stable if wanted: the stable toolchain ships librustc-stable_rt.asan.a,
#     and RUSTC_BOOTSTRAP=1 lets stable rustc accept -Zsanitizer=address. Run with
#     FUZZ_SANITIZER=address and this script sets RUSTC_BOOTSTRAP=1 for that build only.
#     RUSTC_BOOTSTRAP is an escape hatch meant for building the compiler itself: fine for a
#     fuzzing build, never for the release build. It is not the default: it would make the
#     default rely on an unstable flag, and it costs about 7x in speed here (30 s from the
#     seeds on 2 cores: cert_names 176k exec/s without, 24k with; trust_load 8.3k vs 1.3k).
#   - afl.rs was not needed: it is the fallback if cargo-fuzz ever stops working on stable.
#   - Cost on a 2-core machine: `cargo install cargo-fuzz --locked` 55 s; the first build of
#     fuzz/ (all of sipbench's dependencies, instrumented, aws-lc included) about 6 min and
#     1 GB in fuzz/target; after a change to sipbench, about 1 min. Cache ~/.cargo/bin and
#     fuzz/target in CI.
#   - libFuzzer runs each input on the main thread (8 MiB of stack): deep recursion that would
#     overflow a 2 MiB worker thread is not reported.
#
# Usage:
#   scripts/fuzz.sh TARGET SECONDS   run one target (`scripts/fuzz.sh list` names them)
#   scripts/fuzz.sh all SECONDS      run every target, SECONDS each
#   scripts/fuzz.sh build            build every target (what CI pays first)
#   scripts/fuzz.sh list             the targets
#   scripts/fuzz.sh seeds [TARGET..] regenerate the committed seeds in fuzz/corpus/ (every
#                                    target's, or the named ones'; the certificate ones need openssl)
#
# A run reads the committed seeds (fuzz/corpus/TARGET, never written to) and the inputs earlier
# runs found (fuzz/work/TARGET, git-ignored, where new inputs go), prints the executions and
# exec/s, and exits non-zero on a crash, a panic or a timeout, leaving the input in
# fuzz/artifacts/TARGET/ (the script prints its path and a hex dump). Reproduce one with
#   cargo fuzz run --fuzz-dir fuzz --sanitizer none --debug-assertions TARGET fuzz/artifacts/TARGET/crash-...
#
# Environment:
#   FUZZ_SANITIZER   none (default) or address (sets RUSTC_BOOTSTRAP=1, see above)
#   FUZZ_TARGET_DIR  cargo target dir of the fuzz builds (default fuzz/target)
#   FUZZ_TIMEOUT     seconds one input may take before it counts as a failure (default 10)
#   FUZZ_ARGS        more libFuzzer flags (e.g. "-seed=1")
#   CARGO_TARGET_DIR honoured by `seeds`, which builds and runs the sipbench binary
set -euo pipefail

prog=${0##*/}
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/fuzz"
die() {
    echo "$prog: $*" >&2
    exit 2
}
usage() {
    sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

sanitizer=${FUZZ_SANITIZER:-none}
build_flags=(--fuzz-dir "$fuzz" --sanitizer "$sanitizer" --debug-assertions)

# The largest input each target is given (libFuzzer's -max_len); a new target gets 4096 unless
# listed. trust_load holds a topology, its CA certificates and CRLs, in PEM or DER; results_read
# a results file; pem_load a chain and its key (RSA); sip_framer several messages.
max_len() {
    case $1 in
        trust_load | results_read) echo 16384 ;;
        pem_load | sip_framer) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
        cargo install cargo-fuzz --locked
    fi
}

fuzz_env() {
    export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$fuzz/target}"
    # Without a sanitizer libFuzzer prints no stack of its own: the panic hook's backtrace is it.
    export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
    if [[ $sanitizer != none ]]; then
        # Stable rustc accepts -Zsanitizer only with this (see the top of this file).
        export RUSTC_BOOTSTRAP=1
    fi
}

targets() {
    (cd "$root" && cargo fuzz list --fuzz-dir "$fuzz")
}

# The executions, exec/s, new inputs and peak memory of a run, from libFuzzer's log.
summarize() {
    local target=$1 log=$2
    local execs rate added rss secs
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    if [[ -z $execs ]]; then
        # No final stats (killed): the last status line, `#N ... exec/s: R ...`.
        execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
        rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    fi
    local corpus
    corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
    echo "$target: ${execs:-?} executions in ${secs:-?}s, ${rate:-?} exec/s, ${added:-?} new inputs, corpus ${corpus:-?} (inputs/bytes), peak RSS ${rss:-?} MB"
}

run_target() {
    local target=$1 secs=$2
    local work="$fuzz/work/$target" seeds="$fuzz/corpus/$target" artifacts="$fuzz/artifacts/$target"
    mkdir -p "$work" "$seeds" "$artifacts"
    local log="$fuzz/work/$target.log"
    local args=(
        -max_total_time="$secs"
        -timeout="${FUZZ_TIMEOUT:-10}"
        -max_len="$(max_len "$target")"
        -print_final_stats=1
    )
    if [[ -f $fuzz/dict/$target.dict ]]; then
        args+=(-dict="$fuzz/dict/$target.dict")
    fi
    # shellcheck disable=SC2206 # FUZZ_ARGS is a list of flags
    args+=(${FUZZ_ARGS:-})
    echo "== $target for ${secs}s (seeds: fuzz/corpus/$target, found inputs: fuzz/work/$target, log: fuzz/work/$target.log)"
    local rc=0
    # The whole log goes to the file; the terminal skips the per-input lines (NEW, REDUCE,
    # NEW_FUNC) and the recommended dictionary.
    (cd "$root" && cargo fuzz run "${build_flags[@]}" "$target" "$work" "$seeds" -- "${args[@]}") 2>&1 |
        tee "$log" |
        awk '/^###### Recommended dictionary/ { skip = 1 }
             !skip && !/^#[0-9]+[[:space:]]+(NEW|REDUCE)/ && !/^[[:space:]]+NEW_FUNC/ { print; fflush() }
             /^###### End of recommended dictionary/ { skip = 0 }'
    rc=${PIPESTATUS[0]}
    summarize "$target" "$log"
    if [[ $rc -ne 0 ]]; then
        echo "$target: FAILED (exit $rc)" >&2
        grep -m1 -A2 -E "panicked at|ERROR: libFuzzer|ALARM|SUMMARY" "$log" >&2 || true
        local input
        input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        [[ -n $input && $input != /* ]] && input="$root/$input"
        if [[ -n $input && -f $input ]]; then
            echo "$target: failing input: ${input#"$root"/} ($(wc -c <"$input") bytes):" >&2
            od -A x -t x1z -v "$input" | head -64 >&2
        fi
        return 1
    fi
}

# --- seeds ---------------------------------------------------------------------------------------

# DER tag-length-value of a tag (2 hex digits) and a value (hex): definite, minimal length.
tlv() {
    local n=$((${#2} / 2))
    if ((n < 0x80)); then
        printf '%s%02x%s' "$1" "$n" "$2"
    elif ((n < 0x100)); then
        printf '%s81%02x%s' "$1" "$n" "$2"
    else
        printf '%s82%04x%s' "$1" "$n" "$2"
    fi
}
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
unhex() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }

# The subjectAltName extension value (GeneralNames DER) of a DER certificate, on stdout.
san_of() {
    local at
    at=$(openssl asn1parse -inform der -in "$1" |
        awk '/:X509v3 Subject Alternative Name/ { want = 1; next } want && /OCTET STRING/ { sub(":.*", "", $1); print $1; exit }')
    [[ -n $at ]] || return 1
    openssl asn1parse -inform der -in "$1" -strparse "$at" -noout -out /dev/stdout
}

# One trust_load input: the topology, then the files it names, then a peer chain (leaf first).
# $1 PKI dir, $2 output, $3 pem|der, then the files in topology order.
trust_seed() {
    local dir=$1 out=$2 form=$3
    shift 3
    {
        printf '==> topology.toml <==\n'
        cat "$dir/topology.toml"
        for f in "$@" peer-edge.pem; do
            printf '\n==> %s <==\n' "$f"
            local src=$dir/$f
            [[ $f == peer-edge.pem ]] && src=$dir/edge.pem
            if [[ $form == pem ]]; then
                cat "$src"
                [[ $f == peer-edge.pem ]] && cat "$dir/enterprise-ca.pem"
            elif [[ $f == *.crl ]]; then
                openssl crl -in "$src" -outform der
            else
                # DER holds one certificate: the leaf for a chain, the first CA otherwise.
                openssl x509 -in "$src" -outform der
            fi
        done
    } >"$out"
}

# A trust_load input of one CA entry: $1 output, $2 its certificate file, $3 its CRL file (PEM).
one_ca_seed() {
    {
        printf '==> topology.toml <==\n'
        printf 'revocation = "crl"\n\n[[ca]]\nname = "enterprise"\ncert = "ca.pem"\ncrl = "ca.crl"\n'
        printf 'domains = ["example.test"]\n\n[[server]]\nfqdn = "edge.example.test"\nrole = "edge"\n'
        printf 'ca = "enterprise"\n'
        printf '\n==> ca.pem <==\n'
        cat "$2"
        printf '\n==> ca.crl <==\n'
        cat "$3"
    } >"$1"
}

make_seeds() {
    command -v openssl >/dev/null || die "seeds: needs the openssl command"
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    echo "== generating PKIs in $tmp"
    (cd "$root" && cargo build -q --bin sipbench)
    local sipbench=(cargo run -q --manifest-path "$root/Cargo.toml" --bin sipbench --)
    "${sipbench[@]}" pki init "$tmp/root" >/dev/null
    "${sipbench[@]}" pki init --intermediate "$tmp/inter" >/dev/null
    "${sipbench[@]}" pki init --key-type rsa2048 "$tmp/rsa" >/dev/null
    "${sipbench[@]}" pki init --key-type ed25519 "$tmp/ed" >/dev/null
    "$root/scripts/openssl-pki.sh" "$tmp/ossl" >/dev/null 2>&1

    local c="$fuzz/corpus/cert_names"
    rm -rf "$c" && mkdir -p "$c"
    local f
    for f in enterprise-ca server edge client partner bad/wrong-name bad/rogue-ca; do
        openssl x509 -in "$tmp/root/$f.pem" -outform der -out "$c/root-${f#bad/}.der"
    done
    for f in enterprise-issuing-ca partner-issuing-ca edge; do
        openssl x509 -in "$tmp/inter/$f.pem" -outform der -out "$c/inter-$f.der"
    done
    openssl x509 -in "$tmp/rsa/server.pem" -outform der -out "$c/rsa-server.der"
    openssl x509 -in "$tmp/ed/server.pem" -outform der -out "$c/ed25519-server.der"
    openssl x509 -in "$tmp/ossl/server.pem" -outform der -out "$c/openssl-server.der"
    openssl x509 -in "$tmp/ossl/enterprise-ca.pem" -outform der -out "$c/openssl-enterprise-ca.der"
    # subjectAltName bodies: from the certificates, then every GeneralName kind and length form.
    for f in root-server root-edge openssl-server; do
        san_of "$c/$f.der" >"$c/san-$f.der"
    done
    local ip4 ip6 other dir regid
    dns() { tlv 82 "$(hex "$1")"; }
    ip4=$(tlv 87 7f000001)
    ip6=$(tlv 87 00000000000000000000000000000001)
    other=$(tlv a0 "$(tlv 06 2b060104018237140203)$(tlv a0 "$(tlv 0c "$(hex u@example.test)")")")
    dir=$(tlv a4 "$(tlv 30 "$(tlv 31 "$(tlv 30 "$(tlv 06 550403)$(tlv 0c "$(hex sip.example.test)")")")")")
    regid=$(tlv 88 2a0304)
    unhex "$(tlv 30 "$(dns SIP.Example.test)$(dns '*.example.test')$(tlv 81 "$(hex a@example.test)")$(tlv 86 "$(hex 'sip:edge.example.test;transport=tls')")$ip4$ip6$other$dir$regid")" >"$c/san-every-kind.der"
    local many="" i
    for i in 0 1 2 3 4 5 6 7 8 9; do many+=$(dns "node$i-sip_$i.region-$((i % 3)).example.test"); done
    unhex "$(tlv 30 "$many")" >"$c/san-long-length.der"
    unhex "$(tlv 30 "$(dns "$(printf 'a%.0s' {1..63}).$(printf 'b%.0s' {1..63}).test")")" >"$c/san-63-char-labels.der"
    unhex "$(tlv 30 "$(dns ok.example.test)$(tlv 81 61e9)")" >"$c/san-bad-rfc822.der"
    unhex "$(tlv 30 "$(tlv 87 0102030405)")" >"$c/san-bad-ip.der"
    unhex 3080820161 >"$c/san-indefinite.der"

    local t="$fuzz/corpus/trust_load"
    rm -rf "$t" && mkdir -p "$t"
    local root_files=(enterprise-ca.pem enterprise-ca.crl partner-ca.pem partner-ca.crl)
    local inter_files=(enterprise-ca.pem enterprise-ca.crl enterprise-issuing-ca.pem enterprise-issuing-ca.crl
        partner-ca.pem partner-ca.crl partner-issuing-ca.pem partner-issuing-ca.crl)
    trust_seed "$tmp/root" "$t/root-pem" pem "${root_files[@]}"
    trust_seed "$tmp/root" "$t/root-der" der "${root_files[@]}"
    trust_seed "$tmp/inter" "$t/intermediate-pem" pem "${inter_files[@]}"
    trust_seed "$tmp/inter" "$t/intermediate-der" der "${inter_files[@]}"
    trust_seed "$tmp/ossl" "$t/openssl-der" der "${root_files[@]}"
    # Revocation off (CRLs not read), expiry enforced, a CA of two certificates (root + issuing).
    sed -e 's/^revocation = "crl"/revocation = "off"/' -e 's/^crl_expiry = "ignore"/crl_expiry = "enforce"/' \
        "$tmp/inter/topology.toml" >"$tmp/off.toml"
    {
        printf '==> topology.toml <==\n'
        sed -e '/^#/d' -e 's/^cert = "enterprise-ca.pem"/cert = "enterprise-bundle.pem"/' "$tmp/off.toml"
        printf '\n==> enterprise-bundle.pem <==\n'
        cat "$tmp/inter/enterprise-ca.pem" "$tmp/inter/enterprise-issuing-ca.pem"
        for f in enterprise-issuing-ca.pem partner-ca.pem partner-issuing-ca.pem; do
            printf '\n==> %s <==\n' "$f"
            openssl x509 -in "$tmp/inter/$f" -outform der
        done
    } >"$t/intermediate-revocation-off"
    # One seed per refusal at load that a mutation cannot reach because it breaks a signature:
    # CAs without keyCertSign or cRLSign (signed here by openssl), an issuing CA's missing CRL.
    local ku
    for ku in keyCertSign cRLSign; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
            -keyout "$tmp/$ku.key" -out "$tmp/$ku.pem" -subj "/O=sipbench/CN=sipbench $ku-only CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,$ku" 2>/dev/null
        mkdir -p "$tmp/db-$ku" && : >"$tmp/db-$ku/index.txt" && echo 01 >"$tmp/db-$ku/crlnumber"
        # A crlnumber makes a v2 CRL with a CRL Number, which webpki requires.
        printf '[ca]\ndefault_ca = x\n[x]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 7\n' \
            "$tmp/db-$ku/index.txt" "$tmp/db-$ku/crlnumber" >"$tmp/$ku.cnf"
        openssl ca -batch -config "$tmp/$ku.cnf" -gencrl -keyfile "$tmp/$ku.key" -cert "$tmp/$ku.pem" \
            -out "$tmp/$ku.crl" 2>/dev/null
        one_ca_seed "$t/refusal-only-$ku" "$tmp/$ku.pem" "$tmp/$ku.crl"
    done
    one_ca_seed "$t/refusal-leaf-as-ca" "$tmp/root/edge.pem" "$tmp/root/enterprise-ca.crl"
    one_ca_seed "$t/refusal-issuing-without-root" "$tmp/inter/enterprise-issuing-ca.pem" \
        "$tmp/inter/enterprise-issuing-ca.crl"
    cat "$tmp/inter/enterprise-ca.pem" "$tmp/inter/enterprise-issuing-ca.pem" >"$tmp/bundle.pem"
    one_ca_seed "$t/refusal-issuing-ca-without-crl" "$tmp/bundle.pem" "$tmp/inter/enterprise-ca.crl"

    # pem_load: bundles, CRLs (PEM and DER), and identities (a chain and its key) of each key
    # type and key encoding (PKCS#8 as sipbench writes, SEC1 and PKCS#1 as openssl can).
    local p="$fuzz/corpus/pem_load"
    rm -rf "$p" && mkdir -p "$p"
    cp "$tmp/root/ca-bundle.pem" "$p/ca-bundle.pem"
    cp "$tmp/root/enterprise-ca.crl" "$p/crl.pem"
    openssl crl -in "$tmp/inter/enterprise-issuing-ca.crl" -outform der -out "$p/crl.der"
    cat "$tmp/root/server.pem" "$tmp/root/server.key" >"$p/identity-ecdsa-p256.pem"
    cat "$tmp/ed/client.pem" "$tmp/ed/client.key" >"$p/identity-ed25519.pem"
    cat "$tmp/inter/edge.pem" "$tmp/inter/edge.key" >"$p/identity-intermediate-chain.pem"
    cat "$tmp/root/enterprise-ca.pem" "$tmp/root/enterprise-ca.key" >"$p/issuer-ecdsa-p256.pem"
    { cat "$tmp/root/edge.pem"; openssl ec -in "$tmp/root/edge.key" 2>/dev/null; } >"$p/identity-sec1.pem"
    { cat "$tmp/rsa/server.pem"; openssl rsa -traditional -in "$tmp/rsa/server.key" 2>/dev/null; } >"$p/identity-rsa2048-pkcs1.pem"
    # A key that is not the certificate's.
    cat "$tmp/root/client.pem" "$tmp/root/server.key" >"$p/identity-mismatch.pem"
    du -sh --apparent-size "$fuzz/corpus"
    ls -l "$c" "$t" "$p"
}

# --- seeds of the text targets (no openssl) -------------------------------------------------------

# A SIP message from lines on stdin (LF line ends become CRLF; a body goes after a blank line).
crlf() { sed 's/$/\r/'; }

# The messages beyond RFC 4475 that the server and generator actually exchange: a REGISTER with a
# Contact list and Expires, an INVITE with an SDP body, a response, OPTIONS with compact headers.
sip_extra() {
    local d=$1
    crlf >"$d/extra-register.sip" <<'EOF'
REGISTER sip:example.test SIP/2.0
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-reg1;rport
Max-Forwards: 70
From: <sip:alice@example.test>;tag=r1
To: <sip:alice@example.test>
Call-ID: reg1@127.0.0.1
CSeq: 1 REGISTER
Contact: <sip:alice@127.0.0.1:5061;transport=tls>;expires=600, "Alice, mobile" <sip:alice@192.0.2.7;transport=tls>;q=0.5
Expires: 3600
Content-Length: 0

EOF
    {
        crlf <<'EOF'
INVITE sip:uas@example.test SIP/2.0
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-inv1
Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-inv0, SIP/2.0/TLS 192.0.2.2;branch=z9hG4bK-x
Max-Forwards: 70
From: "Alice" <sip:alice@example.test>;tag=i1
To: <sip:uas@example.test>
Call-ID: inv1@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:alice@127.0.0.1:5061;transport=tls>
Record-Route: <sip:edge.example.test;lr>
Content-Type: application/sdp
Content-Length: 129

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 49170 RTP/AVP 0
EOF
        printf 'a=rtpmap:0 PCMU/8000\r\n'
    } >"$d/extra-invite-sdp.sip"
    crlf >"$d/extra-response-200.sip" <<'EOF'
SIP/2.0 200 OK
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-inv1
From: "Alice" <sip:alice@example.test>;tag=i1
To: <sip:uas@example.test>;tag=srv1
Call-ID: inv1@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:uas@127.0.0.1;transport=tls>
Content-Length: 0

EOF
    crlf >"$d/extra-options-compact.sip" <<'EOF'
OPTIONS sip:uas@example.test SIP/2.0
v: SIP/2.0/TLS 127.0.0.1:5062;branch=z9hG4bK1
Max-Forwards: 70
f: <sip:alice@example.test>;tag=a1
t: <sip:uas@example.test>
i: c1@example.test
CSeq: 7 OPTIONS
l: 0

EOF
}

# sip_message: the RFC 4475 torture messages of tests/corpus/sip/ and the extra ones.
seeds_sip_message() {
    local d="$fuzz/corpus/sip_message" f class
    rm -rf "$d" && mkdir -p "$d"
    for f in "$root"/tests/corpus/sip/*/*.sip; do
        class=$(basename "$(dirname "$f")")
        cp "$f" "$d/rfc4475-$class-$(basename "$f")"
    done
    sip_extra "$d"
}

# sip_framer: a 5-byte header (role and limit, four chunk lengths) and a stream. Each message
# alone, under every role and limit in turn; then streams of several messages and keep-alives.
seeds_sip_framer() {
    local d="$fuzz/corpus/sip_framer" tmp f i=0
    rm -rf "$d" && mkdir -p "$d"
    tmp=$(mktemp -d)
    sip_extra "$tmp"
    local heads=('\x00\x00\x06\x1f\xff' '\x01\x03\x00\x40\x10' '\x02\x0f\x0f\x0f\x0f' '\x07\x00\x01\x02\x03'
        '\x04\xff\x7f\x00\x08' '\x05\x10\x20\x40\x80' '\x06\x01\x00\x01\x00' '\x03\x3f\x3f\x3f\x3f')
    for f in "$root"/tests/corpus/sip/valid/*.sip "$tmp"/*.sip; do
        { printf "${heads[i % 8]}"; cat "$f"; } >"$d/$(basename "$f" .sip)"
        i=$((i + 1))
    done
    # A server's stream: a stray CRLF, a ping, two requests back to back, a ping.
    { printf '\x00\x02\x05\x0b\x20\r\n\r\n\r\n'; cat "$tmp/extra-register.sip" "$tmp/extra-invite-sdp.sip"; printf '\r\n\r\n'; } \
        >"$d/stream-server-pings"
    # A client's stream: pongs around two responses.
    { printf '\x01\x00\x03\x11\x40\r\n'; cat "$tmp/extra-response-200.sip"; printf '\r\n'; cat "$tmp/extra-response-200.sip"; } \
        >"$d/stream-client-pongs"
    # Over the 64-byte limit, and a Content-Length folded onto a continuation line.
    { printf '\x02\x00\x00\x00\x00'; cat "$tmp/extra-options-compact.sip"; } >"$d/over-limit-64"
    { printf '\x00\x07\x07\x07\x07'; sed 's/^l: 0\r$/Content-Length:\r\n   2\r/' "$tmp/extra-options-compact.sip"; printf 'hi'; } \
        >"$d/folded-content-length"
    rm -rf "$tmp"
}

# profile_toml: the shipped profiles.
seeds_profile_toml() {
    local d="$fuzz/corpus/profile_toml"
    rm -rf "$d" && mkdir -p "$d"
    cp "$root"/profiles/*.toml "$d/"
}

# topology_toml: the topologies `sipbench pki init` writes (both layouts; taken from the
# trust_load seeds, which hold them), and variations of the optional fields.
seeds_topology_toml() {
    local d="$fuzz/corpus/topology_toml" t="$fuzz/corpus/trust_load"
    rm -rf "$d" && mkdir -p "$d"
    topology_of() { awk '/^==> topology.toml <==$/ { p = 1; next } /^==> / { p = 0 } p' "$1"; }
    topology_of "$t/root-pem" >"$d/pki-init.toml"
    topology_of "$t/intermediate-pem" >"$d/pki-init-intermediate.toml"
    cat >"$d/variations.toml" <<'EOF'
revocation = "off"
crl_expiry = "enforce"

[[ca]]
name = "any"
cert = "any-ca.pem"
crl = ["a.crl", "b.crl"]
addresses = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:127.0.0.1/128", "0.0.0.0/0"]

[[ca]]
name = "nothing"
cert = "/etc/sipbench/nothing.pem"
domains = ["Example.TEST.", "xn--bcher-kva.example"]

[[server]]
fqdn = "SIP.Example.Test."
role = "front-end"
ca = "nothing"
EOF
}

# results_read: two small real results files (an older one, without a timeline, and a newer one,
# the timeline cut to two points), the first with a repeated phase and with no histograms, and
# the histograms as raw bytes.
seeds_results_read() {
    local d="$fuzz/corpus/results_read"
    rm -rf "$d" && mkdir -p "$d"
    command -v python3 >/dev/null || die "seeds: results_read needs python3"
    python3 - "$d" "$root/results/tcp-kept.json" "$root/results/default-20261129T091709Z.json" <<'EOF'
import base64, copy, json, os, sys
out, older, newer = sys.argv[1:]
def dump(name, obj):
    with open(f"{out}/{name}", "w") as f:
        json.dump(obj, f, separators=(",", ":"))
run = json.load(open(older))
dump("tcp-kept.json", run)
second = copy.deepcopy(run)
second["phases"].append(copy.deepcopy(run["phases"][0]))  # a repeated phase name
dump("repeated-phase.json", second)
bare = copy.deepcopy(run)
for p in bare["phases"]:
    p["histograms"] = {}
bare["server"] = None
dump("no-histograms.json", bare)
for p in run["phases"]:
    for metric, enc in p["histograms"].items():
        with open(f"{out}/hist-{metric}.bin", "wb") as f:
            f.write(base64.b64decode(enc))
run = json.load(open(newer))
for p in run["phases"]:
    p["timeline"] = p.get("timeline", [])[:2]
dump(os.path.basename(newer), run)
EOF
}

# `seeds [TARGET...]`: every target's seeds, or the named targets'. The certificate targets
# (cert_names, trust_load, pem_load) come from one set of fresh PKIs, so any of them makes all
# three; topology_toml reads the topologies from the trust_load seeds.
seeds() {
    local want=("$@") target
    [[ ${#want[@]} -gt 0 ]] || want=(pki sip_message sip_framer profile_toml topology_toml results_read)
    for target in "${want[@]}"; do
        case $target in
            pki | cert_names | trust_load | pem_load) make_seeds ;;
            sip_message | sip_framer | profile_toml | topology_toml | results_read)
                "seeds_$target"
                du -sh --apparent-size "$fuzz/corpus/$target"
                ;;
            *) die "seeds: no seeds for \`$target\`" ;;
        esac
    done
}

# --- main ----------------------------------------------------------------------------------------

# All in a function, read whole before it runs: editing this file during a long run is safe.
main() {
    [[ $# -ge 1 ]] || usage
    case $1 in
        -h | --help) usage ;;
        seeds)
            shift
            seeds "$@"
            ;;
        list)
            ensure_cargo_fuzz
            targets
            ;;
        build)
            ensure_cargo_fuzz
            fuzz_env
            (cd "$root" && cargo fuzz build "${build_flags[@]}")
            ;;
        *)
            [[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || usage
            ensure_cargo_fuzz
            fuzz_env
            all=$(targets)
            if [[ $1 == all ]]; then
                set -- "$all" "$2"
            elif ! grep -qx -- "$1" <<<"$all"; then
                die "no fuzz target \`$1\` (have: $(tr '\n' ' ' <<<"$all"))"
            fi
            failed=()
            for target in $1; do
                run_target "$target" "$2" || failed+=("$target")
            done
            if [[ ${#failed[@]} -gt 0 ]]; then
                echo "$prog: failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
                exit 1
            fi
            ;;
    esac
}

# One line: bash has read it whole before main runs, so an edit of this file cannot be run.
main "$@"; exit
