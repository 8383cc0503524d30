#!/usr/bin/env bash
# Builds sipbench with aws-lc-rs in FIPS mode (cargo feature `fips`) and checks the result.
#
# Usage: scripts/build-fips.sh [EXTRA CARGO BUILD ARGS...]   (e.g. --locked)
#
# 1. Installs what the FIPS module's build needs, with apt-get, only if it is missing:
#    a C/C++ toolchain (build-essential), cmake, and Go >= 1.17.13 (golang-go, or the newest
#    golang-1.NN-go if golang-go is too old). libclang (clang, libclang-dev) is installed
#    only when the host has no pre-generated aws-lc-fips-sys bindings, since bindgen is then
#    needed; x86_64/aarch64 Linux (gnu and musl) have them. SIPBENCH_FIPS_LIBCLANG=1 forces it.
# 2. Runs `cargo build --release --features fips` under `nice -n 19`, into
#    CARGO_TARGET_DIR (default: target/fips, so the ordinary build in target/ is untouched).
#    The aws-lc-fips-sys build takes several minutes (10+ on 2 cores) the first time.
# 3. Checks the binary: `sipbench backends` must list `aws-lc-rs-fips (FIPS)`, and a short
#    mTLS run against the embedded server must report backend aws-lc-rs-fips and no failures.
#
# Needs root for the installs (the script does not use sudo); with every tool present it
# installs nothing and runs as any user. Running it again rebuilds incrementally.
set -euo pipefail

prog=${0##*/}
say() { echo "$prog: $*"; }
die() {
    echo "$prog: error: $*" >&2
    exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# The FIPS CMake build (aws-lc/cmake/go.cmake of aws-lc-fips-sys) refuses older Go.
MIN_GO=1.17.13

command -v cargo >/dev/null || die "cargo not found on PATH (install a Rust toolchain first)"

# --- 1. build dependencies ---------------------------------------------------------------

# version_ge A B: A >= B (dotted versions).
version_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

# The version of the go binary $1 ("1.19.8"), or nothing.
go_version_of() { "$1" version 2>/dev/null | sed -n 's/^go version go\([0-9][0-9.]*\).*/\1/p'; }

# Puts a Go >= MIN_GO first on PATH: `go` on PATH, else the newest /usr/lib/go-1.NN (Debian's
# versioned packages, which are not on PATH). Returns 1 if there is none.
find_go() {
    local cands=() g v
    if g=$(command -v go); then cands+=("$g"); fi
    while IFS= read -r g; do cands+=("$g"); done < <(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -rV)
    for g in "${cands[@]}"; do
        v=$(go_version_of "$g")
        if [[ -n $v ]] && version_ge "$v" "$MIN_GO"; then
            GO_BIN=$g
            GO_VERSION=$v
            export PATH="$(dirname "$g"):$PATH"
            return 0
        fi
    done
    return 1
}

host=$(rustc -vV | sed -n 's/^host: //p')
need_libclang=${SIPBENCH_FIPS_LIBCLANG:-0}
case $host in
x86_64-unknown-linux-gnu | x86_64-unknown-linux-musl | aarch64-unknown-linux-gnu | aarch64-unknown-linux-musl) ;;
*) need_libclang=1 ;;
esac
have_libclang() { ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/*/libclang*.so* >/dev/null 2>&1; }

missing=()
{ command -v cc && command -v c++ && command -v make && command -v ar; } >/dev/null || missing+=(build-essential)
command -v cmake >/dev/null || missing+=(cmake)
command -v perl >/dev/null || missing+=(perl)
find_go || missing+=(golang-go)
if [[ $need_libclang == 1 ]] && ! have_libclang; then missing+=(clang libclang-dev); fi

apt_updated=0
apt_update() {
    [[ $apt_updated == 0 ]] || return 0
    [[ $(id -u) == 0 ]] || die "need to install packages but not running as root"
    command -v apt-get >/dev/null || die "need to install packages but apt-get is not available"
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
}
apt_install() {
    [[ $(id -u) == 0 ]] || die "need to install $* but not running as root (run: apt-get install $*)"
    apt_update
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ((${#missing[@]})); then
    apt_install "${missing[@]}"
else
    say "build tools already present; skipping apt-get"
fi

if ! find_go; then
    # golang-go is too old: take the newest versioned Go package that the archive has.
    apt_update
    newest=$(apt-cache search --names-only '^golang-1\.[0-9]+-go$' | awk '{print $1}' | sort -V | tail -n1)
    [[ -n $newest ]] || die "Go >= $MIN_GO is needed and no golang-1.NN-go package is available"
    apt_install "$newest"
    find_go || die "Go >= $MIN_GO is needed; $newest did not provide it"
fi

for t in cc c++ make cmake perl; do command -v "$t" >/dev/null || die "$t still missing after install"; done
if [[ $need_libclang == 1 ]] && ! have_libclang; then die "libclang still missing after install"; fi
say "using $(cmake --version | head -n1), go $GO_VERSION ($GO_BIN), $(cc --version | head -n1)"

# --- 2. build ------------------------------------------------------------------------------

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/fips}
[[ $CARGO_TARGET_DIR == /* ]] || CARGO_TARGET_DIR=$repo/$CARGO_TARGET_DIR
bin=$CARGO_TARGET_DIR/release/sipbench

say "building: cargo build --release --features fips${*:+ $*} (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
say "the first build of aws-lc-fips-sys takes a while (10+ minutes on 2 cores)"
start=$SECONDS
nice -n 19 cargo build --release --features fips "$@" || die "cargo build --features fips failed"
elapsed=$((SECONDS - start))
say "build finished in $((elapsed / 60))m$((elapsed % 60))s"
[[ -x $bin ]] || die "build succeeded but $bin is missing"

# --- 3. checks -----------------------------------------------------------------------------

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" backends >"$out/backends.txt" || die "'$bin backends' failed"
if ! grep -qE '^aws-lc-rs-fips \(FIPS\) ' "$out/backends.txt"; then
    cat "$out/backends.txt" >&2
    die "'sipbench backends' does not list 'aws-lc-rs-fips (FIPS)'"
fi
say "backends: aws-lc-rs is in FIPS mode:"
# The aws-lc-rs-fips entry: its heading line and the indented lines under it.
awk '/^aws-lc-rs-fips /{p=1; print; next} /^[^ ]/{p=0} p' "$out/backends.txt" | sed 's/^/    /'

say "self-check: sipbench run --mode mtls -n 200 -c 8 --warmup 0s -q --json"
rc=0
# -o: keep the results file out of the repo's results/ (run's default) in the temp dir.
timeout 300 "$bin" run --mode mtls -n 200 -c 8 --warmup 0s -q --json -o "$out/results.json" \
    >"$out/run.json" 2>"$out/run.err" || rc=$?
if [[ $rc != 0 ]]; then
    cat "$out/run.err" >&2
    die "self-check run exited with status $rc"
fi
grep -q '"backend": "aws-lc-rs-fips"' "$out/run.json" ||
    die "self-check: results do not name backend aws-lc-rs-fips"
# Pretty-printed JSON: a non-empty failures map opens a block ("failures": { at line end);
# failure counts appear as "failed": N and, per timeline point, "failures": N.
if grep -nE '"failures": \{[[:space:]]*$|"failed": [1-9]|"failures": [1-9]|"interrupted": true' "$out/run.json" >"$out/bad.txt"; then
    cat "$out/bad.txt" >&2
    die "self-check recorded failures (see the lines above)"
fi
grep -q '"started": 200' "$out/run.json" || die "self-check: expected 200 sessions started"
say "self-check passed: 200 mTLS sessions with backend aws-lc-rs-fips, no failures"

say "FIPS binary: $bin"
