#!/usr/bin/env bash
# Shows that the dependency gate (.ci/deny.sh, deny.toml) fails where it must, with no network:
# on a copy of the workspace it adds, one at a time,
#   1. a copyleft (GPL-3.0-or-later) crate as a dependency     -> licenses: error[rejected]
#   2. a git dependency (a local file:// repository)           -> sources: error[source-not-allowed]
#   3. a new RustSec advisory against a crate in Cargo.lock    -> advisories: error[vulnerability]
# and checks that the copy without changes passes. Each case must fail with its own diagnostic,
# not merely fail.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
# cargo keeps a clone of the git dependency (case 2) in its home, under the repository's name.
cargo_git=${CARGO_HOME:-$HOME/.cargo}/git
trap 'rm -rf "$tmp" "$cargo_git"/db/hpki-deny-selftest-git-* "$cargo_git"/checkouts/hpki-deny-selftest-git-*' EXIT
fails=0

fresh() { # a copy of the workspace (no target/ or .git) with an extra member `fixture`
    rm -rf "$tmp/ws"
    mkdir "$tmp/ws"
    tar -C "$repo" --exclude=./target --exclude=./.git --exclude=./hpki-data --exclude=./fuzz -cf - . |
        tar -C "$tmp/ws" -xf -
    sed -i 's/^members = \[/members = ["fixture", /' "$tmp/ws/Cargo.toml"
    grep -q '"fixture"' "$tmp/ws/Cargo.toml" || { echo "selftest: workspace members line not found" >&2; exit 2; }
    mkdir -p "$tmp/ws/fixture/src"
    : >"$tmp/ws/fixture/src/lib.rs"
    printf '[package]\nname = "fixture"\nversion = "0.1.0"\nedition = "2024"\nlicense = "Apache-2.0"\npublish = false\n\n[dependencies]\n%s\n' \
        "$1" >"$tmp/ws/fixture/Cargo.toml"
}

crate() { # crate DIR NAME LICENSE: a minimal library crate
    mkdir -p "$1/src"
    : >"$1/src/lib.rs"
    printf '[package]\nname = "%s"\nversion = "1.0.0"\nedition = "2021"\nlicense = "%s"\n' "$2" "$3" >"$1/Cargo.toml"
}

expect() { # expect NAME PATTERN NAMED [check args...]: the gate must fail, print PATTERN and name NAMED
    local name=$1 pattern=$2 named=$3 log="$tmp/$1.log" rc=0
    shift 3
    bash "$repo/.ci/deny.sh" --color never --manifest-path "$tmp/ws/Cargo.toml" check --hide-inclusion-graph "$@" \
        >"$log" 2>&1 || rc=$?
    if ((rc == 0)); then
        echo "deny-selftest $name: FAILED (the gate passed)"; tail -n 20 "$log"; fails=$((fails + 1))
    elif ! grep -Eq "$pattern" "$log" || ! grep -Fq "$named" "$log"; then
        echo "deny-selftest $name: FAILED (exit $rc without /$pattern/ naming $named)"; tail -n 40 "$log"; fails=$((fails + 1))
    else
        echo "deny-selftest $name: refused as expected (exit $rc): $(grep -Em1 "$pattern" "$log")"
    fi
}

# The snapshot as cargo-deny reads it, made once for the cases that do not change it.
export HPKI_ADVISORY_DBS="$tmp/dbs"
bash .ci/deny.sh --prepare-db "$HPKI_ADVISORY_DBS"

# 0. The copy as it is (plus an empty member) passes: the failures below are the changes' doing.
fresh ""
if bash .ci/deny.sh --color never --manifest-path "$tmp/ws/Cargo.toml" check --hide-inclusion-graph >"$tmp/base.log" 2>&1; then
    echo "deny-selftest baseline: passes"
else
    echo "deny-selftest baseline: FAILED"; tail -n 40 "$tmp/base.log"; exit 1
fi

# 1. Copyleft: a GPL crate in the graph (a path crate, so no registry is needed; the licence rule
#    is the same for a crates.io one).
crate "$tmp/gpl" gpl-dep GPL-3.0-or-later
fresh 'gpl-dep = { path = "'"$tmp"'/gpl" }'
expect copyleft 'error\[rejected\]: failed to satisfy license requirements' 'license = "GPL-3.0-or-later"' licenses

# 2. A git source: a local repository, fetched by cargo without network.
gitdep="$tmp/hpki-deny-selftest-git"
crate "$gitdep" git-dep MIT
git -C "$gitdep" init -q
git -C "$gitdep" add -A
git -C "$gitdep" -c user.name=t -c user.email=t@localhost -c commit.gpgsign=false commit -qm dep
fresh 'git-dep = { git = "file://'"$gitdep"'" }'
(cd "$tmp/ws" && cargo fetch -q) # the file:// clone; registry crates come from the local cache
expect git-source "error\\[source-not-allowed\\]: detected 'git' source" "git-dep 1.0.0 git+file://$gitdep" sources

# 3. A new advisory: the snapshot plus one vulnerability against hex 0.4.3 (in Cargo.lock).
fresh ""
db="$tmp/dbs/advisory-db-3157b0e258782691"
mkdir -p "$db/crates/hex"
cat >"$db/crates/hex/RUSTSEC-2099-0001.md" <<'ADV'
```toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "hex"
date = "2099-01-01"
url = "https://example.invalid/selftest"
categories = ["memory-corruption"]

[versions]
patched = [">= 99.0.0"]
```

# Self-test advisory (not real)

Injected by .ci/deny-selftest.sh to show that a new advisory fails the gate.
ADV
git -C "$db" add -A
git -C "$db" -c user.name=db -c user.email=db@localhost -c commit.gpgsign=false commit -qm selftest
expect advisory 'error\[vulnerability\]: Self-test advisory' 'ID: RUSTSEC-2099-0001' advisories

((fails == 0)) || { echo "deny-selftest: $fails case(s) did not fail as they must"; exit 1; }
echo "deny-selftest: copyleft, git source and new advisory all refused"
