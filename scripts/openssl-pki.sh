#!/usr/bin/env bash
# Builds a sipbench PKI directory with the openssl command-line tool only, in
# the layout `sipbench pki init DIR` writes, so that tests can check that
# certificates made by another tool load and behave the same.
#
# Usage: scripts/openssl-pki.sh [--intermediate] DIR [KEYTYPE]
#   SIPBENCH_PKI_DOMAIN (environment): the domain of every name (default
#   example.test): sip.DOMAIN, edge.DOMAIN, sip.partner.DOMAIN, client.DOMAIN,
#   www.DOMAIN, rogue.DOMAIN, and the topology's domains and servers.
#   KEYTYPE: ecdsa-p256 (default), ecdsa-p384, rsa2048, rsa3072 or ed25519.
#   --intermediate: as `sipbench pki init --intermediate`: each root issues an
#   issuing CA (pathlen 0) that issues the leaves; leaf files carry the issuing
#   CA after the leaf; {enterprise,partner}-issuing-ca.pem/.key/.crl are
#   written and the issuing CA's CRL revokes bad/revoked.pem.
#
# Writes into DIR (created if needed, existing files overwritten):
#   enterprise-ca.pem/.key, partner-ca.pem/.key, ca-bundle.pem,
#   server.pem/.key, edge.pem/.key, partner.pem/.key, client.pem/.key,
#   enterprise-ca.crl, partner-ca.crl, topology.toml,
#   bad/{expired,not-yet-valid,revoked,wrong-name,untrusted-ca,
#        not-in-topology,partner-claims-enterprise}.pem/.key, bad/rogue-ca.pem
# Keys are PKCS#8 PEM, mode 0600. Each leaf .pem holds the leaf only.
# The openssl CA databases live in a temporary directory that is removed on
# exit; the rogue CA key is never written to DIR.
set -euo pipefail

prog=${0##*/}
die() {
    echo "$prog: $*" >&2
    exit 1
}

INTERMEDIATE=
if [[ ${1:-} == --intermediate ]]; then
    INTERMEDIATE=1
    shift
fi
if [[ $# -lt 1 || $# -gt 2 || -z ${1:-} ]]; then
    echo "usage: $prog [--intermediate] DIR [ecdsa-p256|ecdsa-p384|rsa2048|rsa3072|ed25519]" >&2
    exit 2
fi
DIR=$1
KEYTYPE=${2:-ecdsa-p256}
# The names' domain: sip.DOMAIN, edge.DOMAIN, sip.partner.DOMAIN, ... (and in the topology).
DOMAIN=${SIPBENCH_PKI_DOMAIN:-example.test}
[[ $DOMAIN =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || die "SIPBENCH_PKI_DOMAIN: not a domain name: $DOMAIN"

case $KEYTYPE in
ecdsa-p256)
    KEYGEN=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve)
    MD=sha256
    LEAF_KU="critical, digitalSignature"
    ;;
ecdsa-p384)
    KEYGEN=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve)
    MD=sha384
    LEAF_KU="critical, digitalSignature"
    ;;
rsa2048 | rsa3072)
    KEYGEN=(-algorithm RSA -pkeyopt "rsa_keygen_bits:${KEYTYPE#rsa}")
    MD=sha256
    LEAF_KU="critical, digitalSignature, keyEncipherment"
    ;;
ed25519)
    KEYGEN=(-algorithm ED25519)
    MD=default # EdDSA signs without a separate digest
    LEAF_KU="critical, digitalSignature"
    ;;
*)
    die "unknown key type '$KEYTYPE' (valid: ecdsa-p256, ecdsa-p384, rsa2048, rsa3072, ed25519)"
    ;;
esac

if ! command -v openssl >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/openssl-pki.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Runs a command quietly; on failure shows its output and exits.
run() {
    if ! "$@" >"$WORK/log" 2>&1; then
        echo "$prog: command failed: $*" >&2
        cat "$WORK/log" >&2
        exit 1
    fi
}

mkdir -p "$DIR/bad"
rm -f "$DIR/bad/rogue-ca.key"

# All validity periods are relative to one instant, like sipbench's generator
# (notBefore = now - 1 hour; notAfter = now + 30 days for leaves, now + 3650
# days for CAs).
NOW=$(date -u +%s)
DAY=86400
stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
BACKDATED=$(stamp $((NOW - 3600)))
LEAF_END=$(stamp $((NOW + 30 * DAY)))
CA_END=$(stamp $((NOW + 3650 * DAY)))

# Placeholder so that every ca.cnf parses; set per leaf when issuing.
export SIPBENCH_SAN="DNS:invalid"

cat >"$WORK/req.cnf" <<'EOF'
[ req ]
distinguished_name = req_dn
prompt             = no
string_mask        = utf8only
utf8               = yes

[ req_dn ]
CN = unused
EOF

# new_key FILE: a fresh private key (PKCS#8 PEM, mode 0600).
new_key() {
    (umask 077 && run openssl genpkey "${KEYGEN[@]}" -out "$1")
    chmod 600 "$1"
}

# new_csr KEY CN CSR
new_csr() {
    run openssl req -new -config "$WORK/req.cnf" -key "$1" -subj "/CN=$2/O=sipbench" -out "$3"
}

# new_ca NAME CN [PARENT]: a self-signed root with its openssl ca database in
# $WORK/NAME; with PARENT, an issuing CA signed by that CA instead, whose
# certificate its leaves carry ($WORK/NAME/chain.pem).
new_ca() {
    local cn=$2 parent=${3:-} d="$WORK/$1"
    mkdir -p "$d/newcerts"
    : >"$d/index.txt"
    echo 01 >"$d/crlnumber"
    cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default

[ CA_default ]
dir              = $d
database         = \$dir/index.txt
new_certs_dir    = \$dir/newcerts
certificate      = \$dir/ca.pem
private_key      = \$dir/ca.key
crlnumber        = \$dir/crlnumber
rand_serial      = yes
default_md       = $MD
default_days     = 30
default_crl_days = 7
policy           = policy_anything
unique_subject   = no
copy_extensions  = none
preserve         = yes
email_in_dn      = no
string_mask      = utf8only
utf8             = yes
name_opt         = ca_default
cert_opt         = ca_default
crl_extensions   = crl_ext

# Subjects are CN first, then O (as sipbench writes them); preserve keeps the
# request's order.
[ policy_anything ]
commonName             = supplied
organizationName       = optional
organizationalUnitName = optional
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
emailAddress           = optional

[ ca_ext ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash

[ issuing_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = $LEAF_KU
extendedKeyUsage       = serverAuth
subjectAltName         = \${ENV::SIPBENCH_SAN}
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ mtls_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = $LEAF_KU
extendedKeyUsage       = serverAuth, clientAuth
subjectAltName         = \${ENV::SIPBENCH_SAN}
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ client_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = $LEAF_KU
extendedKeyUsage       = clientAuth
subjectAltName         = \${ENV::SIPBENCH_SAN}
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
    new_key "$d/ca.key"
    new_csr "$d/ca.key" "$cn" "$d/ca.csr"
    if [[ -z $parent ]]; then
        run openssl ca -config "$d/ca.cnf" -batch -notext -selfsign -md "$MD" \
            -keyfile "$d/ca.key" -in "$d/ca.csr" -out "$d/ca.pem" \
            -extensions ca_ext -startdate "$BACKDATED" -enddate "$CA_END"
    else
        run openssl ca -config "$WORK/$parent/ca.cnf" -batch -notext -md "$MD" \
            -in "$d/ca.csr" -out "$d/ca.pem" \
            -extensions issuing_ext -startdate "$BACKDATED" -enddate "$CA_END"
        cp "$d/ca.pem" "$d/chain.pem"
    fi
}

# issue CA KIND OUT CN SAN [STARTDATE ENDDATE]: key OUT.key and leaf OUT.pem
# signed by CA with extension section KIND_ext.
issue() {
    local ca=$1 kind=$2 out=$3 cn=$4 san=$5
    local start=${6:-$BACKDATED} end=${7:-$LEAF_END}
    local d="$WORK/$ca"
    new_key "$out.key"
    new_csr "$out.key" "$cn" "$WORK/leaf.csr"
    SIPBENCH_SAN=$san run openssl ca -config "$d/ca.cnf" -batch -notext -md "$MD" \
        -in "$WORK/leaf.csr" -out "$out.pem" -extensions "${kind}_ext" \
        -startdate "$start" -enddate "$end"
    # The peer sends its issuing CA after the leaf (never the root).
    if [[ -f $d/chain.pem ]]; then
        cat "$d/chain.pem" >>"$out.pem"
    fi
}

# gen_crl CA OUT: a v2 CRL valid for 7 days.
gen_crl() {
    run openssl ca -config "$WORK/$1/ca.cnf" -batch -gencrl -crldays 7 -md "$MD" -out "$2"
}

# Roots.
new_ca enterprise "sipbench Enterprise Root CA"
new_ca partner "sipbench Partner Root CA"
new_ca rogue "sipbench Rogue Root CA"
for ca in enterprise partner; do
    cp "$WORK/$ca/ca.pem" "$DIR/$ca-ca.pem"
    (umask 077 && cp "$WORK/$ca/ca.key" "$DIR/$ca-ca.key")
    chmod 600 "$DIR/$ca-ca.key"
done
cat "$DIR/enterprise-ca.pem" "$DIR/partner-ca.pem" >"$DIR/ca-bundle.pem"
cp "$WORK/rogue/ca.pem" "$DIR/bad/rogue-ca.pem"

# The CA that issues each organisation's leaves: its root, or its issuing CA.
ENT=enterprise
PAR=partner
if [[ -n $INTERMEDIATE ]]; then
    new_ca enterprise-issuing "sipbench Enterprise Issuing CA" enterprise
    new_ca partner-issuing "sipbench Partner Issuing CA" partner
    for ca in enterprise-issuing partner-issuing; do
        cp "$WORK/$ca/ca.pem" "$DIR/$ca-ca.pem"
        (umask 077 && cp "$WORK/$ca/ca.key" "$DIR/$ca-ca.key")
        chmod 600 "$DIR/$ca-ca.key"
    done
    ENT=enterprise-issuing
    PAR=partner-issuing
fi

# Good leaves.
issue $ENT server "$DIR/server" sip.${DOMAIN} "DNS:sip.${DOMAIN}, IP:127.0.0.1, IP:::1"
issue $ENT mtls "$DIR/edge" edge.${DOMAIN} "DNS:edge.${DOMAIN}"
issue $PAR mtls "$DIR/partner" sip.partner.${DOMAIN} "DNS:sip.partner.${DOMAIN}"
issue $ENT client "$DIR/client" "sipbench client" "DNS:client.${DOMAIN}"

# Negative cases: each differs from the good edge certificate in one defect.
EDGE_SAN="DNS:edge.${DOMAIN}"
issue $ENT mtls "$DIR/bad/expired" edge.${DOMAIN} "$EDGE_SAN" \
    "$(stamp $((NOW - 60 * DAY)))" "$(stamp $((NOW - 30 * DAY)))"
issue $ENT mtls "$DIR/bad/not-yet-valid" edge.${DOMAIN} "$EDGE_SAN" \
    "$(stamp $((NOW + 30 * DAY)))" "$(stamp $((NOW + 60 * DAY)))"
issue $ENT mtls "$DIR/bad/revoked" edge.${DOMAIN} "$EDGE_SAN"
# `openssl ca -revoke` wants the leaf alone.
openssl x509 -in "$DIR/bad/revoked.pem" -out "$WORK/revoked-leaf.pem"
run openssl ca -config "$WORK/$ENT/ca.cnf" -batch -revoke "$WORK/revoked-leaf.pem" -crl_reason keyCompromise
issue $ENT mtls "$DIR/bad/wrong-name" www.${DOMAIN} "DNS:www.${DOMAIN}"
issue rogue mtls "$DIR/bad/untrusted-ca" edge.${DOMAIN} "$EDGE_SAN"
issue $ENT mtls "$DIR/bad/not-in-topology" rogue.${DOMAIN} "DNS:rogue.${DOMAIN}"
issue $PAR mtls "$DIR/bad/partner-claims-enterprise" edge.${DOMAIN} "$EDGE_SAN"

# CRLs: the CA that issued bad/revoked.pem lists it; every other CRL is empty.
gen_crl enterprise "$DIR/enterprise-ca.crl"
gen_crl partner "$DIR/partner-ca.crl"
if [[ -n $INTERMEDIATE ]]; then
    gen_crl enterprise-issuing "$DIR/enterprise-issuing-ca.crl"
    gen_crl partner-issuing "$DIR/partner-issuing-ca.crl"
fi

# The topology: the same text as `sipbench pki init` writes (a test compares them).
if [[ -z $INTERMEDIATE ]]; then
cat >"$DIR/topology.toml" <<'EOF'
# sipbench topology: the CAs this deployment trusts and the servers it trusts for
# server-to-server MTLS. Paths are relative to this file.

# "crl": every CA must have a CRL and certificates are checked against it; "off": no revocation check.
revocation = "crl"
# "enforce": a CRL past its nextUpdate fails verification; "ignore": it is still used.
crl_expiry = "ignore"

[[ca]]
name = "enterprise"
cert = "enterprise-ca.pem"
crl = "enterprise-ca.crl"
# Names this CA may vouch for: each domain and every name below it.
domains = ["example.test"]
# IP names it may vouch for (the server certificate carries 127.0.0.1 and ::1). A CA with
# domains and no addresses vouches for no IP name.
addresses = ["127.0.0.0/8", "::1/128"]

[[ca]]
name = "partner"
cert = "partner-ca.pem"
crl = "partner-ca.crl"
domains = ["partner.example.test"]

[[server]]
fqdn = "sip.example.test"
role = "front-end"
ca = "enterprise"

[[server]]
fqdn = "edge.example.test"
role = "edge"
ca = "enterprise"

[[server]]
fqdn = "sip.partner.example.test"
role = "partner-edge"
ca = "partner"
EOF

else
cat >"$DIR/topology.toml" <<'EOF'
# sipbench topology: the CAs this deployment trusts and the servers it trusts for
# server-to-server MTLS. Paths are relative to this file. Each organisation has a root CA and an
# issuing CA (AD CS style): leaves come from the issuing CA and peers send it with their leaf.

# "crl": every CA must have a CRL and certificates are checked against it; "off": no revocation check.
revocation = "crl"
# "enforce": a CRL past its nextUpdate fails verification; "ignore": it is still used.
crl_expiry = "ignore"

[[ca]]
name = "enterprise"
cert = "enterprise-ca.pem"
crl = "enterprise-ca.crl"
# Names this CA may vouch for: each domain and every name below it.
domains = ["example.test"]
# IP names it may vouch for (the server certificate carries 127.0.0.1 and ::1). A CA with
# domains and no addresses vouches for no IP name.
addresses = ["127.0.0.0/8", "::1/128"]

[[ca]]
name = "enterprise-issuing"
cert = "enterprise-issuing-ca.pem"
crl = "enterprise-issuing-ca.crl"
domains = ["example.test"]
addresses = ["127.0.0.0/8", "::1/128"]

[[ca]]
name = "partner"
cert = "partner-ca.pem"
crl = "partner-ca.crl"
domains = ["partner.example.test"]

[[ca]]
name = "partner-issuing"
cert = "partner-issuing-ca.pem"
crl = "partner-issuing-ca.crl"
domains = ["partner.example.test"]

[[server]]
fqdn = "sip.example.test"
role = "front-end"
ca = "enterprise"

[[server]]
fqdn = "edge.example.test"
role = "edge"
ca = "enterprise-issuing"

[[server]]
fqdn = "sip.partner.example.test"
role = "partner-edge"
ca = "partner-issuing"
EOF

fi
if [[ $DOMAIN != example.test ]]; then
    sed -i "s/example\.test/$DOMAIN/g" "$DIR/topology.toml"
fi

if [[ -n $INTERMEDIATE ]]; then
    echo "$prog: wrote $KEYTYPE PKI to $DIR (2 roots, 2 issuing CAs, 4 leaves, 7 bad leaves + rogue root, 4 CRLs, topology.toml)"
else
    echo "$prog: wrote $KEYTYPE PKI to $DIR (2 roots, 4 leaves, 7 bad leaves + rogue root, 2 CRLs, topology.toml)"
fi
