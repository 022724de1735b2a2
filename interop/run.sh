#!/usr/bin/env bash
# Interop matrix. ZeroBuffer: Rust zerobuffer-peer vs PyPI zerobuffer-ipc 1.3.0. ZeroIPC: Rust
# zeroipc-peer vs the pure-Python interop/python/zeroipc_peer.py, and both against the upstream
# golden images. Creates target/interop-venv if missing, builds the Rust peers in release mode,
# runs the matrix, prints a table and "N passed, N failed"; exits non-zero on any failure.
# Extra arguments go to run_matrix.py (e.g. --suite zeroipc).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$ROOT/target/interop-venv"
bash "$ROOT/interop/venv.sh" >/dev/null
cargo build --release -q -p zeroipc-interop --bin zerobuffer-peer --bin zeroipc-peer
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" "$ROOT/interop/python/run_matrix.py" \
    --rust-peer "$CARGO_TARGET_DIR/release/zerobuffer-peer" \
    --py-peer "$ROOT/interop/python/zerobuffer_peer.py" \
    --zeroipc-rust-peer "$CARGO_TARGET_DIR/release/zeroipc-peer" \
    --zeroipc-py-peer "$ROOT/interop/python/zeroipc_peer.py" \
    --python "$VENV/bin/python" "$@"
