#!/usr/bin/env bash
# openssl-speed.sh: this machine's crypto limits for the primitives sipbench uses, measured with
# `openssl speed` (one thread), as a reference for benches/records.rs and benches/handshake.rs.
#
#   * AEAD (EVP) at 1 KiB and 16 KiB, encryption and decryption: aes-128-gcm, aes-256-gcm,
#     chacha20-poly1305, in MB/s (10^6 bytes/s, the unit criterion uses for throughput);
#   * signatures: ecdsap256, ecdsap384, rsa2048, rsa3072, ed25519 (sign/s, verify/s);
#   * key exchange: ecdhx25519, ecdhp256, ecdhp384 (op/s).
#
# Usage: scripts/openssl-speed.sh            (SPEED_SECONDS=2 per measurement by default)
#        SPEED_SECONDS=1 scripts/openssl-speed.sh
# Installs openssl with apt-get when it is missing. Runs under `nice -n 19`. All the names
# above are accepted by OpenSSL 3.0; a name this openssl rejects is reported and skipped.
set -euo pipefail

secs=${SPEED_SECONDS:-2}

if ! command -v openssl >/dev/null 2>&1; then
    echo "openssl not found: installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

speed() { nice -n 19 openssl speed -seconds "$secs" "$@" 2>&1; }

echo "$(openssl version) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) CPUs), ${secs}s per measurement"
echo
printf '%-18s %7s %12s %12s\n' cipher bytes 'enc MB/s' 'dec MB/s'
for cipher in aes-128-gcm aes-256-gcm chacha20-poly1305; do
    for bytes in 1024 16384; do
        rates=()
        for dir in "" -decrypt; do
            # The last line is "<name>  <n>k": thousands of bytes per second.
            out=$(speed -bytes "$bytes" $dir -evp "$cipher") || {
                echo "$cipher: rejected by openssl: $(tail -1 <<<"$out")" >&2
                rates+=(-)
                continue
            }
            rates+=("$(tail -1 <<<"$out" | awk '{ v = $NF; sub(/k$/, "", v); printf "%.0f", v / 1000 }')")
        done
        printf '%-18s %7s %12s %12s\n' "$cipher" "$bytes" "${rates[0]}" "${rates[1]}"
    done
done

echo
# `openssl speed` prints a table header and one summary line per algorithm, each containing "bits".
summary() { grep -v '^Doing' | grep -E '^ *(sign|op) |bits' || true; }
pk=(ecdsap256 ecdsap384 rsa2048 rsa3072 ed25519 ecdhx25519 ecdhp256 ecdhp384)
if out=$(speed "${pk[@]}"); then
    summary <<<"$out"
else
    # One at a time, skipping what this openssl does not know.
    for alg in "${pk[@]}"; do
        if out=$(speed "$alg"); then
            summary <<<"$out"
        else
            echo "$alg: rejected by openssl: $(tail -1 <<<"$out")" >&2
        fi
    done
fi
