# Sourced by the scripts that need a nightly tool (miri.sh, fuzz-smoke.sh).
#
#   need_nightly_tool LABEL SUBCOMMAND INSTALL-HINT
#
# Exits the calling script with status 0 and a "LABEL: skipped (...)" line when there is no
# nightly toolchain, or when `cargo +nightly SUBCOMMAND --version` fails (the tool is not
# installed; INSTALL-HINT says how to install it).
need_nightly_tool() {
    local label="$1" sub="$2" hint="$3"
    if ! command -v rustup >/dev/null 2>&1 || ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        echo "$label: skipped (no nightly toolchain; install with: rustup toolchain install nightly)"
        exit 0
    fi
    if ! cargo +nightly "$sub" --version >/dev/null 2>&1; then
        echo "$label: skipped ($hint)"
        exit 0
    fi
}
