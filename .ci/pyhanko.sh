#!/usr/bin/env bash
# usage: .ci/pyhanko.sh VENV — makes (once) a test-only Python venv at VENV with pyHanko, the
# independent CAdES validator the interop tests run (issue 14). Idempotent and safe to call from
# several test processes at once (flock). Needs python3 with venv (installed here when missing,
# as root) and PyPI.
set -euo pipefail
venv=$1
pyhanko=0.38.0
certvalidator=0.33.0
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
want="pyHanko==$pyhanko pyhanko-certvalidator==$certvalidator"
if [ "$(cat "$venv/.installed" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check $want
echo "$want" >"$venv/.installed"
