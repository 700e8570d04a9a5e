#!/usr/bin/env bash
# HTTP load of POST /v1/signatures against the release server on loopback (issue 5, §2).
# Usage: benches/http-load.sh [SECONDS per run, default 10]
# Starts `signer-api serve` on 127.0.0.1:0 with a fresh data directory, signs a 1 KB raw document
# at B-B and at B-T (the built-in TSA: issue 14's ratio to B-B) and a digest at B-B with 4 and 64
# connections (wrk), then the 1 KB document again against a server with
# durability = "write", measures the raw single-thread ring P-256 sign
# rate in the same run before and after, prints requests/s, p50/p99 and the ratio to raw, and
# stops the server. Then the same B-B rows (1 KB document and digest, 4 and 64 connections) on a
# PostgreSQL store: HPKI_TEST_DATABASE_URL's server (a fresh database is created in it) or, when
# unset, a throwaway cluster from the installed binaries (initdb + pg_ctl in a temp dir, as the
# `postgres` user when run as root; fsync and synchronous_commit left on, so a commit is durable),
# removed afterwards; HPKI_BENCH_POSTGRES=0 skips it. Needs wrk (installed from Debian when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v wrk >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release --locked -p signer-api -p benches --bin signer-api --bin raw-sign-rate
BIN="$CARGO_TARGET_DIR/release"

WORK="$(mktemp -d)"
SERVER_PID=""
PG_DIR=""
PG_BIN=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "$PG_DIR" ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    rm -rf "$WORK"
}
# PostgreSQL refuses to run as root.
as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
trap cleanup EXIT

# Starts the server on a fresh data directory with durability $1 (and store $2, default sled in
# the data directory); sets BASE, CRED and TOKEN. The per-client rate limit is off: wrk is one
# client measuring the service's ceiling.
start_server() {
    local out="$WORK/server-$1.out" err="$WORK/server-$1.err" store="${2:-}"
    local envs=(HPKI_DURABILITY="$1" HPKI_RATE_LIMIT=0 RUST_LOG=warn)
    [[ -n $store ]] && envs+=(HPKI_STORE="$store")
    env "${envs[@]}" "$BIN/signer-api" --data-dir "$WORK/data-$1${store:+-pg}" \
        serve --listen 127.0.0.1:0 >"$out" 2>"$err" &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        grep -q '^demo signer token' "$out" 2>/dev/null && grep -q '^listening on' "$out" && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$err" >&2; exit 1; }
        sleep 0.1
    done
    BASE="$(sed -n 's/^listening on //p' "$out" | head -1)"
    CRED="$(sed -n 's/^demo credential: \([^ ]*\).*/\1/p' "$out" | head -1)"
    TOKEN="$(sed -n 's/^demo signer token (shown once): //p' "$out" | head -1)"
    [[ -n "$BASE" && -n "$CRED" && -n "$TOKEN" ]] || { echo "server did not print its demo credential" >&2; exit 1; }
    case "$BASE" in http://127.0.0.1:*) ;; *) echo "not loopback: $BASE" >&2; exit 1 ;; esac
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
start_server fsync

# Bodies: a 1 KB document and the JSON digest request for the same document.
head -c 1024 /dev/urandom >"$WORK/doc.bin"
DIGEST="$(openssl dgst -sha256 -binary "$WORK/doc.bin" | base64 -w0)"
printf '{"credential":"%s","digest":"%s","digest_algorithm":"sha256","purpose":"author","level":"B-B"}' \
    "$CRED" "$DIGEST" >"$WORK/digest.json"

# Each request must succeed once before it is timed.
for mode in raw digest bt; do
    if [[ $mode == bt ]]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/doc.bin" \
            "$BASE/v1/signatures?credential=$CRED&purpose=author&level=B-T")
    elif [[ $mode == raw ]]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/doc.bin" \
            "$BASE/v1/signatures?credential=$CRED&purpose=author&level=B-B")
    else
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/json' --data-binary @"$WORK/digest.json" "$BASE/v1/signatures")
    fi
    [[ $code == 201 ]] || { echo "$mode request answered $code" >&2; exit 1; }
done

# What both wrk scripts end with: count answers other than status $1; print requests/s, p50 and
# p99 (ms), status errors and requests.
report_lua() {
    cat <<LUA
local bad = 0
function response(status) if status ~= $1 then bad = bad + 1 end end
function done(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
LUA
}

# wrk script: POST the body file; count non-201 answers; print p50/p99 (ms) and requests/s.
{
    cat <<'LUA'
local body_file, content_type = os.getenv("BODY_FILE"), os.getenv("CONTENT_TYPE")
local f = assert(io.open(body_file, "rb")); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = content_type
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
LUA
    report_lua 201
} >"$WORK/post.lua"

RAW_BEFORE="$("$BIN/raw-sign-rate" 3 1024)"
results=()
for mode in raw bt digest; do
    for conns in 4 64; do
        if [[ $mode == raw ]]; then
            url="$BASE/v1/signatures?credential=$CRED&purpose=author&level=B-B"; body="$WORK/doc.bin"; ct=application/octet-stream
        elif [[ $mode == bt ]]; then
            url="$BASE/v1/signatures?credential=$CRED&purpose=author&level=B-T"; body="$WORK/doc.bin"; ct=application/octet-stream
        else
            url="$BASE/v1/signatures"; body="$WORK/digest.json"; ct=application/json
        fi
        threads=$((conns < 2 ? conns : 2))
        line="$(BODY_FILE="$body" CONTENT_TYPE="$ct" TOKEN="$TOKEN" \
            wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s -s "$WORK/post.lua" "$url" | grep '^RESULT')"
        results+=("$mode $conns ${line#RESULT }")
    done
done
# The HTTP ceiling in the same run: GET /health (no store, no crypto) with 4 connections, so the
# signing rows can be read against what actix + wrk on these cores serve at all.
report_lua 200 >"$WORK/health.lua"
line="$(wrk -t2 -c4 -d"${DURATION}s" --timeout 10s -s "$WORK/health.lua" "$BASE/health" | grep '^RESULT')"
results+=("health 4 ${line#RESULT }")
# The same 1 KB request against a server with durability = "write" (acknowledged after write(2)
# to the audit journal, synced every 10 ms): what the fsync per group commit costs.
stop_server
start_server write
url="$BASE/v1/signatures?credential=$CRED&purpose=author&level=B-B"
for conns in 4 64; do
    line="$(BODY_FILE="$WORK/doc.bin" CONTENT_TYPE=application/octet-stream TOKEN="$TOKEN" \
        wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 10s -s "$WORK/post.lua" "$url" | grep '^RESULT')"
    results+=("write $conns ${line#RESULT }")
done
# The B-B rows again on a PostgreSQL store (each batch of audit records one transaction).
pg_url=""
if [[ ${HPKI_BENCH_POSTGRES:-1} != 0 ]]; then
    if [[ -n ${HPKI_TEST_DATABASE_URL:-} ]]; then
        db="hpki_bench_$$"
        psql -q "$HPKI_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
        pg_url="${HPKI_TEST_DATABASE_URL%%\?*}"
        pg_url="${pg_url%/*}/$db"
    else
        PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
        [[ -n $PG_BIN ]] || PG_BIN="$(pg_config --bindir)"
        PG_DIR="$(mktemp -d)"
        [[ $(id -u) == 0 ]] && chown postgres: "$PG_DIR"
        port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$WORK/initdb.log" 2>&1
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
            -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
        pg_url="postgres://postgres@127.0.0.1:$port/postgres"
    fi
    stop_server
    start_server fsync "$pg_url"
    for mode in pgraw pgdigest; do
        for conns in 4 64; do
            if [[ $mode == pgraw ]]; then
                url="$BASE/v1/signatures?credential=$CRED&purpose=author&level=B-B"; body="$WORK/doc.bin"; ct=application/octet-stream
            else
                printf '{"credential":"%s","digest":"%s","digest_algorithm":"sha256","purpose":"author","level":"B-B"}' \
                    "$CRED" "$DIGEST" >"$WORK/digest-pg.json"
                url="$BASE/v1/signatures"; body="$WORK/digest-pg.json"; ct=application/json
            fi
            line="$(BODY_FILE="$body" CONTENT_TYPE="$ct" TOKEN="$TOKEN" \
                wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 10s -s "$WORK/post.lua" "$url" | grep '^RESULT')"
            results+=("$mode $conns ${line#RESULT }")
        done
    done
fi
RAW_AFTER="$("$BIN/raw-sign-rate" 3 1024)"
RAW="$(awk -v a="$RAW_BEFORE" -v b="$RAW_AFTER" 'BEGIN { printf "%.0f", (a + b) / 2 }')"

echo
echo "HTTP load, $(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), ${DURATION}s per run"
echo "raw ring P-256 sign of 1 KB, one thread: $RAW_BEFORE/s before, $RAW_AFTER/s after (mean $RAW)"
echo
echo "| request | connections | requests/s | p50 ms | p99 ms | non-201 | ratio to raw | target |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
declare -A b_b
for r in "${results[@]}"; do
    read -r mode conns rps _ <<<"$r"
    [[ $mode == raw ]] && b_b[$conns]=$rps
done
for r in "${results[@]}"; do
    read -r mode conns rps p50 p99 bad total <<<"$r"
    ratio="$(awk -v a="$rps" -v b="$RAW" 'BEGIN { printf "%.2f", a / b }')"
    target="–"
    if [[ $mode == raw && $conns == 4 ]]; then
        met="$(awk -v r="$ratio" -v p="$p99" 'BEGIN { print (r >= 0.25 && p < 5) ? "met" : "not met" }')"
        target="≥0.25× raw, p99 < 5 ms: $met"
    elif [[ $mode == raw && $conns == 64 ]]; then
        met="$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5) ? "met" : "not met" }')"
        target="≥0.5× raw: $met"
    fi
    label="1 KB document, B-B"; [[ $mode == digest ]] && label="digest (JSON), B-B"
    if [[ $mode == bt ]]; then
        label="1 KB document, B-T (built-in TSA)"
        target="$(awk -v a="$rps" -v b="${b_b[$conns]}" 'BEGIN { printf "%.2f× B-B (same run)", a / b }')"
    fi
    [[ $mode == write ]] && label="1 KB document, B-B, durability = write"
    [[ $mode == health ]] && label="GET /health (HTTP ceiling, no signing)"
    [[ $mode == pgraw ]] && label="1 KB document, B-B, PostgreSQL"
    [[ $mode == pgdigest ]] && label="digest (JSON), B-B, PostgreSQL"
    echo "| $label | $conns | ${rps%.*} | $p50 | $p99 | $bad/$total | $ratio | $target |"
done
