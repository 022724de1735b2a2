#!/usr/bin/env bash
# Runs Miri over the in-memory tests of zeroipc-format and zeroipc-structures.
#
#   bash scripts/miri.sh          # the CI subset (a few minutes on a warm cache)
#   bash scripts/miri.sh --full   # also the slower scenario writer and golden tests (+2 min)
#
# Only tests that work on heap segments (Segment::anonymous / Segment::from_bytes) are run;
# they are selected by name below. Left out, because Miri cannot execute them: everything
# that maps /dev/shm or files (mmap), takes flock, waits on futexes, spawns processes or uses
# threads for stress (lifecycle::, multiprocess::, crash::, stress::, golden:: writers that
# create named segments, hostile::truncated_file) and the proptest suites (model::,
# hostile::*flips*, hostile_headers::random_*: thousands of cases, far too slow under Miri).
#
# Flags: -Zmiri-strict-provenance (no integer-to-pointer casts anywhere on these paths);
# -Zmiri-disable-isolation because the golden-image tests read interop/golden/ from disk.
#
# Exit status 0 with a "skipped" message when nightly or Miri is not installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

full=0
[ "${1:-}" = "--full" ] && full=1

. scripts/nightly-tool.sh
need_nightly_tool miri miri "Miri not installed; install with: rustup +nightly component add miri rust-src"

export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance -Zmiri-disable-isolation}"
echo "miri: $(cargo +nightly miri --version), MIRIFLAGS=$MIRIFLAGS"
cargo +nightly miri setup >/dev/null

run() {
    echo "+ cargo +nightly miri test $*"
    cargo +nightly miri test "$@"
}

# zeroipc-format: unit tests (names, layout, bounds-checked views), table and hostile-image tests.
run -p zeroipc-format --lib
run -p zeroipc-format --test it -- table:: hostile:: --skip truncated_file
# zeroipc-structures: unit tests, arrays, hostile structure headers, golden image decoding.
run -p zeroipc-structures --lib
run -p zeroipc-structures --test it -- array:: hostile_headers:: scenario::cpp_image \
    --skip random_header_words

if [ "$full" = 1 ]; then
    run -p zeroipc-structures --test it -- scenario:: golden::cpp_image golden::python_image
fi
echo "miri: passed"
