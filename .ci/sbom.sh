#!/usr/bin/env bash
# CycloneDX 1.5 JSON SBOMs of the two shipped binaries, signer-api and verifier-cli, by
# cargo-cyclonedx, written to DIR (default: $CARGO_TARGET_DIR/sbom or target/sbom) as
# signer-api.cdx.json and verifier-cli.cdx.json, then checked: every crate the binary uses at run
# time (`cargo tree -e normal`, this host's target) is listed at its Cargo.lock version, every
# listed crate is in Cargo.lock, and each crates.io component's SHA-256 is Cargo.lock's checksum.
# The timestamp is the last commit's (SOURCE_DATE_EPOCH), so a release's SBOM can be rebuilt.
set -euo pipefail
[ -n "${1:-}" ] && out=$(realpath -m "$1") # DIR is relative to where the script is called from
cd "$(dirname "$0")/.."
out=${out:-$(realpath -m "${CARGO_TARGET_DIR:-target}/sbom")}
mkdir -p "$out"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
bins=(signer-api verifier-cli)
# cargo-cyclonedx writes one file beside each member's manifest; take ours, remove the rest.
members=$(cargo metadata --locked --no-deps --format-version 1 |
    python3 -c 'import json,sys,os; [print(os.path.dirname(p["manifest_path"])) for p in json.load(sys.stdin)["packages"]]')
cleanup() { for d in $members; do rm -f "$d"/*_bin.cdx.json; done; }
trap cleanup EXIT
cargo cyclonedx --format json --spec-version 1.5 --describe binaries -q
for b in "${bins[@]}"; do
    mv "$b/${b}_bin.cdx.json" "$out/$b.cdx.json"
    cargo tree --locked -e normal -p "$b" --prefix none -f '{p}' >"$out/$b.runtime-crates.txt"
done
python3 - "$out" "${bins[@]}" <<'PY'
import json, sys, tomllib
out, bins = sys.argv[1], sys.argv[2:]
with open("Cargo.lock", "rb") as f:
    lock = {(p["name"], p["version"]): p for p in tomllib.load(f)["package"]}
bad = 0
for b in bins:
    bom = json.load(open(f"{out}/{b}.cdx.json"))
    problems = []
    if bom.get("bomFormat") != "CycloneDX" or bom.get("specVersion") != "1.5":
        problems.append(f"not CycloneDX 1.5: {bom.get('bomFormat')} {bom.get('specVersion')}")
    if bom["metadata"]["component"]["name"] != b:
        problems.append(f"describes {bom['metadata']['component']['name']}")
    listed = {}
    for c in bom.get("components", []):
        key = (c["name"], c["version"])
        listed[key] = c
        entry = lock.get(key)
        if entry is None:
            problems.append(f"{c['name']} {c['version']} is not in Cargo.lock")
        elif "checksum" in entry:
            sha = [h["content"] for h in c.get("hashes", []) if h["alg"] == "SHA-256"]
            if sha != [entry["checksum"]]:
                problems.append(f"{c['name']} {c['version']}: SHA-256 {sha} is not Cargo.lock's {entry['checksum']}")
    runtime = set()
    for line in open(f"{out}/{b}.runtime-crates.txt"):
        name, version = line.split()[:2]
        if name != b:
            runtime.add((name, version.removeprefix("v")))
    for name, version in sorted(runtime - listed.keys()):
        problems.append(f"runtime crate {name} {version} is missing")
    for p in problems:
        print(f"sbom {b}: {p}")
    bad += len(problems)
    print(f"sbom {b}: {out}/{b}.cdx.json, CycloneDX {bom.get('specVersion')}, {len(listed)} components; "
          f"all {len(runtime)} run-time crates of Cargo.lock listed" if not problems else f"sbom {b}: {len(problems)} problem(s)")
sys.exit(1 if bad else 0)
PY
