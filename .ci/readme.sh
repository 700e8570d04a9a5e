#!/usr/bin/env bash
# Runs README.md's commands as written, on a fresh data directory: the first command (serve) in the
# background, the quick-start, time-stamping, augmentation and admin blocks against it (the admin
# commands through its admin socket), then, with the service stopped, the offline augmentation block.
# Lines that only tell the reader to paste printed values (`export CRED=… TOKEN=…`) are replaced by
# the values the service printed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -e hpki-data ] && { echo "readme.sh: ./hpki-data exists; refusing to touch it" >&2; exit 2; }
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf hpki-data rx.txt rx.p7s rx-lt.p7s rx-lta.p7s rx.tsq rx.tsr tsa-chain.pem doctor.key doctor.csr doctor.pem sign.crl audit-checkpoint.json "$work"
}
trap cleanup EXIT

block() { # the shell lines between <!-- $1 --> and <!-- /$1 -->, without the fences
    sed -n "/<!-- $1 -->/,/<!-- \/$1 -->/p" README.md | grep -v -e '^<!--' -e '^```'
}
first=$(grep -m1 -o '^cargo run [^#]*' README.md)
echo "+ $first &"
$first > "$work/serve.out" 2>&1 &
server=$!
for _ in $(seq 600); do
    grep -q '^demo signer token' "$work/serve.out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.out"; exit 1; }
    sleep 1
done
cat "$work/serve.out"
CRED=$(sed -n 's/^demo credential: \([^ ]*\).*/\1/p' "$work/serve.out")
TOKEN=$(sed -n 's/^demo signer token (shown once): //p' "$work/serve.out")
export CRED TOKEN
block quickstart | grep -v '^export CRED=' > "$work/quickstart.sh"
bash -ex "$work/quickstart.sh"
block timestamps > "$work/timestamps.sh"
bash -ex "$work/timestamps.sh"
block augment > "$work/augment.sh"
bash -ex "$work/augment.sh"
block admin > "$work/admin.sh"
bash -ex "$work/admin.sh"
[ -S hpki-data/admin.sock ] || { echo "readme.sh: no admin socket beside serve" >&2; exit 1; }
kill "$server"; wait "$server" 2>/dev/null || true; server=
[ ! -e hpki-data/admin.sock ] || { echo "readme.sh: serve left its admin socket" >&2; exit 1; }
block augment-offline > "$work/augment-offline.sh"
bash -ex "$work/augment-offline.sh"
echo "readme.sh: README commands work as written"
