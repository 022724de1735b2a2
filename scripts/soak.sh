#!/usr/bin/env bash
# Soak test (not in CI): a producer (Queue push + Channel send, one thread each), a consumer
# (Queue pop + Channel recv), a ZeroBuffer writer and a ZeroBuffer reader run as four
# processes for SECONDS (default 600); every 50..500 ms one of them, at random, is SIGKILLed
# and restarted. Reports operations, kills, and lost/duplicated items against the
# bounds the crash windows allow (see tools/soak/src/main.rs); exits non-zero on FAIL.
#
#   bash scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p zeroipc-soak
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/zeroipc-soak" driver "${1:-600}"
