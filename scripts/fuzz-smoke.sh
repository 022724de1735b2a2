#!/usr/bin/env bash
# Short fuzz run of every target in fuzz/ (default 30 s each, one at a time).
#
#   bash scripts/fuzz-smoke.sh [SECONDS]
#
# Needs the nightly toolchain and cargo-fuzz (.ci/run installs both; cargo-fuzz goes to
# target/cargo-tools); exits 0 with a "skipped" message when either is missing, and .ci/run
# repeats that message in its last lines. New corpus entries go to a temporary directory,
# so the committed seeds in fuzz/corpus/ are never modified. A crash, a timeout (10 s per
# input) or an out-of-memory (1 GiB) fails the run and leaves the input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

secs="${1:-30}"
# .ci/run installs cargo-fuzz here (cargo install --root target/cargo-tools).
export PATH="$PWD/../target/cargo-tools/bin:$PATH"
. ../scripts/nightly-tool.sh
need_nightly_tool "fuzz smoke" fuzz \
    "cargo-fuzz not installed; install with: cargo install cargo-fuzz --locked --root target/cargo-tools, as .ci/run does"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo +nightly fuzz build
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$work/$target"
    echo "+ fuzz $target for ${secs}s"
    cargo +nightly fuzz run "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        2>&1 | grep -E 'stat::number_of_executed_units|Done|ERROR|SUMMARY|panicked' || true
    # `cargo fuzz run` exits non-zero on any finding; pipefail is defeated by grep, so check
    # for artifacts instead.
    if compgen -G "artifacts/$target/*" >/dev/null; then
        echo "fuzz smoke: $target found a problem: $(ls artifacts/$target)"
        exit 1
    fi
done
echo "fuzz smoke: passed"
