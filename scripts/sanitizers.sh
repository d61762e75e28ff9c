#!/usr/bin/env bash
# Runs the kernel and attention tests (TensorsTests: every kernel's gradient check, the packed
# and first-query attention, parallel splits, dropout, the arena) once under ThreadSanitizer
# and once under AddressSanitizer, each in its own build directory. Any sanitizer report
# fails the run (halt_on_error). The first argument picks one sanitizer; SANITIZER_FILTER
# replaces the test filter.
#   scripts/sanitizers.sh                 # TensorsTests under TSan and ASan
#   scripts/sanitizers.sh thread          # TSan only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
kinds=("${1:-thread}" )
if [ $# -eq 0 ]; then kinds=(thread address); fi
filter="${SANITIZER_FILTER:-TensorsTests}"
for kind in "${kinds[@]}"; do
    echo "sanitizers: $kind on $filter"
    export TSAN_OPTIONS="halt_on_error=1 report_signal_unsafe=0"
    export ASAN_OPTIONS="halt_on_error=1 detect_leaks=0"
    log=".build-$kind/sanitizer.log"   # git-ignored, beside the build
    swift build --build-tests --sanitize="$kind" --scratch-path ".build-$kind" -j "$(nproc)" 2>&1 | grep -E "error|Build complete" | tail -2
    swift test --skip-build --sanitize="$kind" --scratch-path ".build-$kind" --disable-swift-testing --filter "$filter" 2>&1 \
        | tee "$log" | grep -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|SUMMARY|Executed [0-9]+ tests" | tail -4
    if grep -qE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer" "$log"; then
        echo "sanitizers: $kind reported a problem (log: $log)" >&2
        exit 1
    fi
    grep -q "with 0 failures" "$log" || { echo "sanitizers: $kind: tests failed" >&2; exit 1; }
done
