#!/usr/bin/env bash
# Seed corpora under fuzz/corpus/<target>/ from test-vectors/ (and ../shared/vectors when present):
# copies, plus a few CAdES signatures and CSRs made with openssl from the vectors' keys.
set -euo pipefail
cd "$(dirname "$0")"
v=../test-vectors
pki=$v/pki
shared=../../shared/vectors
c=${1:-corpus} # output directory
mkdir -p $c/{api_json,cades,cms_verify,certificate,crl,csr_issue,hcrole,profile_toml,responders}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

srcs=("$v")
[[ -d $shared ]] && srcs+=("$shared")
# Files keep their content hash as name, so several sources never collide.
put() { cp "$2" "$c/$1/$(sha1sum "$2" | cut -c1-16)"; }
for s in "${srcs[@]}"; do
    for f in "$s"/rfc4134/*.bin "$s"/rfc4134/extracted/*.p7s; do [[ -e $f ]] && put cms_verify "$f"; done
    for f in "$s"/rfc4134/*.cer "$s"/jp-hpki/*.der; do [[ $f == *.crl.der ]] || put certificate "$f"; done
    for f in "$s"/rfc4134/*.crl "$s"/jp-hpki/*.crl.der; do put crl "$f"; done
done
for f in "$pki"/*.pem "$pki"/ca/*.pem; do put certificate "$f"; done
for f in "$pki"/crl/*.crl; do put crl "$f"; done

# CAdES signatures that verify under the fuzz policy (rhp-sign + its key), attached and detached.
printf 'hpki fuzz content' >"$tmp/content"
for mode in -nodetach ""; do
    # shellcheck disable=SC2086
    openssl cms -sign -binary -cades $mode -md sha256 -in "$tmp/content" \
        -signer "$pki/rhp-sign.pem" -inkey "$pki/keys/ee-p256.p8" -keyform DER \
        -certfile "$pki/ca/sign.pem" -outform DER -out "$tmp/sig"
    put cms_verify "$tmp/sig"
done
for f in "$c"/cms_verify/*; do put certificate "$f"; put cades "$f"; done

# CSRs for the registration checks: P-256, P-384, RSA; PEM and DER.
for k in ee-p256 ee-p384 ee-rsa2048; do
    openssl req -new -key "$pki/keys/$k.p8" -keyform DER -subj "/C=JP/O=hpki Vector Hospital/CN=Hanako Sato/serialNumber=V-0001" \
        -out "$tmp/$k.csr" 2>/dev/null
    put csr_issue "$tmp/$k.csr"
    openssl req -in "$tmp/$k.csr" -outform DER -out "$tmp/$k.der"
    put csr_issue "$tmp/$k.der"
done

# CAdES levels: B-T, B-LT and a renewed B-LTA that ca-core's tests make (attached).
cp seeds/cades/* $c/cades/

# Responders: OCSP requests for vector certificates (SHA-1 and SHA-256 CertIDs, with and without
# a nonce) and RFC 3161 queries (certReq, nonce, policy).
for alg in -sha1 -sha256; do
    for nonce in -nonce -no_nonce; do
        openssl ocsp -issuer "$pki/ca/sign.pem" $alg -cert "$pki/rhp-sign.pem" -cert "$pki/tsa.pem" \
            $nonce -reqout "$tmp/ocsp.req" 2>/dev/null
        put responders "$tmp/ocsp.req"
    done
done
openssl ts -query -data "$tmp/content" -sha256 -cert -out "$tmp/ts.tsq" 2>/dev/null
put responders "$tmp/ts.tsq"
openssl ts -query -data "$tmp/content" -sha512 -no_nonce -tspolicy 1.2.3.4 -out "$tmp/ts.tsq" 2>/dev/null
put responders "$tmp/ts.tsq"

# hcRole: the committed extension values, and the request form.
cp seeds/hcrole/* $c/hcrole/
printf '1.2.392.100495.1.6.1.1:Medical Doctor' >"$c/hcrole/role-text"

# Profiles: "name\n" then the shipped file.
for f in ../policies/*.toml ../policies/roles/*.toml ../policies/purposes/*.toml; do
    name=${f#../policies/}
    { printf '%s\n' "$name"; cat "$f"; } >"$tmp/p"
    put profile_toml "$tmp/p"
done
# API request bodies, one per JSON route (the issue request carries a vector CSR).
csr=$(awk '{printf "%s\\n", $0}' "$tmp/ee-p256.csr")
role='"1.2.392.100495.1.6.1.1:Medical Doctor"'
subject='"C=JP,O=hpki Vector Hospital,CN=Hanako Sato,serialNumber=V-0001"'
n=0
while read -r body; do
    n=$((n + 1))
    printf '%s' "$body" >"$c/api_json/body-$n"
done <<JSON
{"profile":"rhp-sign","subject":$subject,"hc_roles":[$role],"sans":["email:a@example.jp","dns:a.example.jp","uri:https://example.jp/","ip:192.0.2.1","dir:C=JP,CN=x"],"validity_days":365,"csr":"$csr"}
{"owner":"V-0001","profile":"rhp-sign","subject":$subject,"hc_roles":[$role],"validity_days":30,"key_algorithm":"p384"}
{"reason":"keyCompromise","invalidity_date":"2026-11-01T00:00:00Z"}
{"scope":"signer","practitioner":"V-0001","lifetime_days":30,"lifetime_seconds":60}
{"credential":"c1","digest":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=","digest_algorithm":"sha256","purpose":"author","claimed_role":$role}
JSON

for t in "$c"/*; do echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"; done
