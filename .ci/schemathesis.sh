#!/usr/bin/env bash
# Property-based tests of the running service against its own OpenAPI document (issue 12 item
# 14): schemathesis, every check on, in a test-only venv; any failure fails the script.
#
# A debug signer-api on a free port with a fresh data directory (its first start makes the demo
# CA and prints an ra token, a demo credential and its practitioner's signer token). Two runs:
# the operations a practitioner calls with the signer token, then every operation with the ra
# token. Settings: .ci/schemathesis.toml; hooks: .ci/schemathesis_hooks.py.
#
# HPKI_ST_EXAMPLES (default 30) examples per operation; HPKI_ST_SEED (default 1) the seed, fixed
# for a reproducible run.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
examples=${HPKI_ST_EXAMPLES:-30}
seed=${HPKI_ST_SEED:-1}
target=${CARGO_TARGET_DIR:-target}
venv="$target/schemathesis-venv"
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $version"; then
    # Debian's python3 makes venvs only with python3-venv (ensurepip).
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
fi

cargo build -p signer-api --locked
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
"$target/debug/signer-api" --data-dir "$work/data" serve --listen 127.0.0.1:0 \
    > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 600); do
    grep -q '^demo signer token' "$work/serve.out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.out" "$work/serve.err"; exit 1; }
    sleep 0.5
done
base=$(sed -n 's/^listening on //p' "$work/serve.out")
ra=$(sed -n 's/^ra token (shown once): //p' "$work/serve.out")
signer=$(sed -n 's/^demo signer token (shown once): //p' "$work/serve.out")
credential=$(sed -n 's/^demo credential: \([^ ]*\).*/\1/p' "$work/serve.out")
# The settings, and half of the credential ids drawn being the demo credential's, so that
# signatures are made (and refused by the role gate, the digest checks...), not only 404s.
config="$work/schemathesis.toml"
cat .ci/schemathesis.toml - > "$config" <<TOML

[dictionaries.credentials]
values = ["$credential"]

[parameters]
"query.credential" = { dictionary = "credentials", probability = 0.5 }
"body.credential" = { dictionary = "credentials", probability = 0.5 }
TOML

# The tokens' public ids (hpki_<id>_<secret>), which the hooks keep from being revoked.
HPKI_ST_TOKEN_IDS="$(cut -d_ -f2 <<< "$ra") $(cut -d_ -f2 <<< "$signer")"
export HPKI_ST_TOKEN_IDS
# st [token] [st run options]: one run with `token` as the bearer token.
st() {
    local token=$1
    shift
    SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=.ci "$venv/bin/st" --config-file "$config" --no-color \
        run "$base/openapi.json" --checks all -H "Authorization: Bearer $token" \
        --max-examples "$examples" --seed "$seed" --generation-database none "$@"
}
echo "schemathesis $version, $examples examples per operation, seed $seed, against $base"
started=$SECONDS
# The signer's run first: the ra run revokes what it finds, the demo credential's certificate too.
failed=0
st "$signer" --include-path-regex '^/v1/(signatures|signatures/augment|verifications|credentials)$' || failed=1
st "$ra" || failed=1
kill -0 "$server" || { echo "the service died:"; cat "$work/serve.err"; exit 1; }
# What the runs reached, from the service's own counters.
curl -sS "$base/metrics" | grep -E '^hpki_(signatures|augmentations|verifications|certificates_issued|credentials_created|revocations)_total' || true
if ((failed)); then
    echo "schemathesis: failures (above), in $((SECONDS - started)) s"
    exit 1
fi
echo "schemathesis: no failures in $((SECONDS - started)) s"
