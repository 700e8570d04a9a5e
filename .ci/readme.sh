#!/usr/bin/env bash
# Runs README.md's commands as written, on a fresh data directory: the first command (serve) in the
# background, the quick-start, time-stamping, augmentation and admin blocks against it (the admin
# commands through its admin socket), then, with the service stopped, the offline augmentation,
# store copy and HSM (SoftHSM token in a directory of its own) blocks, then "Running several instances" on a throwaway PostgreSQL cluster (started
# from the installed binaries as the tests do, ca-core/tests/it/support/postgres.rs; as the
# postgres user when root).
# Lines that only tell the reader to paste printed values (`export CRED=… TOKEN=…`) are replaced by
# the values the service printed, and the line naming the reader's database
# (`export HPKI_STORE=…`) by the throwaway cluster's URL.
set -euo pipefail
cd "$(dirname "$0")/.."
for d in hpki-data hpki-a hpki-b hpki-store-copy hpki-hsm; do
    [ -e "$d" ] && { echo "readme.sh: ./$d exists; refusing to touch it" >&2; exit 2; }
done
work=$(mktemp -d)
server=
instances=
hsm=
pg=
cleanup() {
    # The HSM block's server, if it stopped before its own `kill`: its process group.
    [ -n "$hsm" ] && kill -- "-$hsm" 2>/dev/null
    rm -rf hpki-hsm
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    # The instances block's servers, if it stopped before its own `kill`: its process group.
    [ -n "$instances" ] && kill -- "-$instances" 2>/dev/null
    [ -n "$pg" ] && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg/data" -m immediate -w stop >/dev/null 2>&1
    [ -n "$pg" ] && rm -rf "$pg"
    rm -rf hpki-a hpki-b a.out b.out signed-8081.json signed-8082.json
    rm -rf hpki-data rx.txt rx.p7s rx-lt.p7s rx-lta.p7s rx.tsq rx.tsr tsa-chain.pem doctor.key doctor.csr doctor.pem sign.crl audit-checkpoint.json hpki-store-copy "$work"
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
block store-copy > "$work/store-copy.sh"
bash -ex "$work/store-copy.sh"
# CA keys in an HSM: a SoftHSM token in ./hpki-hsm (removed by cleanup), its own process group.
curl -s -o /dev/null "http://127.0.0.1:8083/" && { echo "readme.sh: port 8083 is in use" >&2; exit 2; }
block hsm > "$work/hsm.sh"
setsid timeout 300 bash -ex "$work/hsm.sh" &
hsm=$!
wait "$hsm"
hsm=

# Running several instances: a throwaway PostgreSQL cluster on a free port stands for the reader's.
for p in 8081 8082; do
    curl -s -o /dev/null "http://127.0.0.1:$p/" && { echo "readme.sh: port $p is in use" >&2; exit 2; }
done
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || pg_bin=$(pg_config --bindir)
as_pg=()
pg=$(mktemp -d)
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pg"
    as_pg=(runuser -u postgres --)
fi
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --no-sync >"$pg/initdb.log"
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
    -o "-p $pg_port -k $pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
"$pg_bin/psql" -qX -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE ROLE hpki LOGIN' \
    -c 'CREATE DATABASE hpki OWNER hpki'
block instances | sed "s|^export HPKI_STORE=.*|export HPKI_STORE=postgres://hpki@127.0.0.1:$pg_port/hpki|" \
    > "$work/instances.sh"
grep -q "^export HPKI_STORE=postgres://hpki@127.0.0.1:$pg_port/hpki" "$work/instances.sh"
# Its own process group (setsid), so that cleanup can stop its servers if it fails half-way;
# bounded, since it waits for them to print.
setsid timeout 600 bash -ex "$work/instances.sh" &
instances=$!
wait "$instances"
instances=
echo "readme.sh: README commands work as written"
