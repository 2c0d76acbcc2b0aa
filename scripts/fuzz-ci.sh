#!/usr/bin/env bash
# Bounded fuzzing for CI: every cargo-fuzz target in fuzz/ runs a fixed number of executions,
# starting from the committed seeds in fuzz/corpus/<target>/. Exits non-zero if any target
# crashes (panic, failed property, sanitizer report, timeout or OOM); the reproducer is left in
# fuzz/artifacts/<target>/ and its path is printed.
#
#   scripts/fuzz-ci.sh                 # all targets, FUZZ_RUNS executions each (default 20000)
#   FUZZ_RUNS=500 scripts/fuzz-ci.sh scp_frame scp_runtime
#
# Long runs for finding bugs (not CI): RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> \
#   fuzz/work/<target> fuzz/corpus/<target> -- -max_total_time=600 -dict=fuzz/scp.dict
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${FUZZ_RUNS:-20000}"
# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses); the machine has one stable
# toolchain, which accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-ci: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

start=$(date +%s)
# One build for all targets (each `run` below then only links, if anything).
cargo fuzz build -O
failed=()
for t in "${targets[@]}"; do
    work=$(mktemp -d)
    args=(-runs="$RUNS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    dict="fuzz/${t%%_*}.dict"
    [ -f "$dict" ] && args+=(-dict="$dict")
    t0=$(date +%s)
    if cargo fuzz run -O "$t" "$work" "fuzz/corpus/$t" -- "${args[@]}" >"$work.log" 2>&1; then
        stats=$(grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$work.log" | tr '\n' ' ')
        echo "fuzz-ci: $t ok in $(( $(date +%s) - t0 ))s: $stats"
    else
        echo "fuzz-ci: $t FAILED; last lines of its log:" >&2
        tail -n 40 "$work.log" >&2
        failed+=("$t")
    fi
    rm -rf "$work" "$work.log"
done
echo "fuzz-ci: ${#targets[@]} target(s), $RUNS runs each, $(( $(date +%s) - start ))s in all"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz-ci: crashes in: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
