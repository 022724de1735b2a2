#!/usr/bin/env bash
# Creates the interop Python venv (target/interop-venv: numpy, PyPI zerobuffer-ipc 1.3.0,
# posix-ipc) if it is missing and prints its python. Used by interop/run.sh and by the
# zeroipc-bridge CI step (its test feeds the PyPI reader across the bridge).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/interop-venv"
PY="$(command -v python3.11 || command -v python3)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q numpy zerobuffer-ipc==1.3.0 posix-ipc >&2
fi
echo "$VENV/bin/python"
