#!/usr/bin/env bash
# The dependency gate: `cargo deny check` (deny.toml) with no network. Advisories come from the
# RustSec snapshot beside the repository (../shared/advisory-db, or HPKI_ADVISORY_DB), which
# cargo-deny reads as a git work tree named after its default URL's hash (the snapshot's SNAPSHOT
# file says so); this script makes that copy in a temporary directory unless HPKI_ADVISORY_DBS
# already names one (`deny.sh --prepare-db DIR` makes it there and stops).
# Other arguments go to `cargo deny --offline` (default: `check`).
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() { # prepare DIR: DIR/advisory-db-3157b0e258782691 = a git copy of the snapshot
    local src=${HPKI_ADVISORY_DB:-../shared/advisory-db} db="$1/advisory-db-3157b0e258782691"
    [ -d "$src/crates" ] || { echo "deny.sh: no RustSec advisory database at $src" >&2; exit 2; }
    rm -rf "$db"
    mkdir -p "$1"
    cp -r "$src" "$db"
    chmod -R u+w "$db" # shared/ is read-only in CI
    git -C "$db" init -q
    git -C "$db" add -A
    git -C "$db" -c user.name=db -c user.email=db@localhost -c commit.gpgsign=false commit -qm snapshot
}

if [ "${1:-}" = --prepare-db ]; then
    prepare "$2"
    exit 0
fi
if [ -z "${HPKI_ADVISORY_DBS:-}" ]; then
    HPKI_ADVISORY_DBS=$(mktemp -d)
    trap 'rm -rf "$HPKI_ADVISORY_DBS"' EXIT
    prepare "$HPKI_ADVISORY_DBS"
fi
export HPKI_ADVISORY_DBS
snapshot="$HPKI_ADVISORY_DBS/advisory-db-3157b0e258782691/SNAPSHOT"
if [ -f "$snapshot" ]; then
    echo "advisories: RustSec snapshot $(tr '\n' ' ' <"$snapshot" | grep -o 'commit [0-9a-f]\{40\} ([0-9-]*)' || echo '(SNAPSHOT names no commit)')"
fi
(($#)) || set -- check
cargo deny --offline "$@"
