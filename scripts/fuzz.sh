#!/usr/bin/env bash
# Builds the libFuzzer harnesses of Fuzz/ (-sanitize=fuzzer,address over the readers they
# call: SwiftPM's --sanitize links libFuzzer's main, -Xswiftc instruments every module for
# coverage; either alone fails to link or leaves the fuzzer blind) and runs each for SECONDS
# (default 30) on its committed corpus in Fuzz/Corpus/NAME, adding the new inputs it finds,
# then merging the corpus down to the inputs that add coverage. Exits non-zero on the first
# crash, trap or sanitizer report (Swift's backtracer is off, so a trap shows as libFuzzer's
# deadly signal with its stack); libFuzzer leaves the input as crash-* in the current
# directory. Once the bug is fixed, keep the input in Fuzz/Regressions/NAME: it runs first.
#   scripts/fuzz.sh            # every harness, 30 s each (CI)
#   scripts/fuzz.sh 600        # every harness, 10 minutes each
#   scripts/fuzz.sh 600 FuzzSafeTensors
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    harnesses=(FuzzSafeTensors FuzzModelConfig FuzzAdapterConfig FuzzTokenizerFiles FuzzGLUEData FuzzDataFiles)
fi
scripts/setup.sh >/dev/null
logs=.build-fuzz/logs   # one log per harness (git-ignored, beside the build)
mkdir -p "$logs"
# SwiftPM does not notice a source file added to the main package (a path dependency of Fuzz/)
# in an existing scratch directory: start the build afresh when the list of files changed.
sources="$(find Sources -name '*.swift' | sort | sha1sum | cut -d' ' -f1)"
if [ "$(cat .build-fuzz/sources.sha1 2>/dev/null)" != "$sources" ]; then
    find .build-fuzz -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    echo "$sources" > .build-fuzz/sources.sha1
fi
(cd Fuzz && swift build -c release --scratch-path ../.build-fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -j "$(nproc)" 2>&1 | grep -E "error|Build complete" | sort -u | tail -3)
for h in "${harnesses[@]}"; do
    mkdir -p "Fuzz/Corpus/$h"
    # Inputs that once crashed a harness (Fuzz/Regressions/NAME) must run clean first.
    if [ -d "Fuzz/Regressions/$h" ]; then
        ASAN_OPTIONS=detect_leaks=0 ".build-fuzz/release/$h" Fuzz/Regressions/"$h"/* > "$logs/$h.regressions.log" 2>&1 \
            || { echo "fuzz: $h fails on a regression input (log $logs/$h.regressions.log)" >&2; tail -20 "$logs/$h.regressions.log" >&2; exit 1; }
        echo "fuzz: $h passes its $(ls "Fuzz/Regressions/$h" | wc -l) regression input(s)"
    fi
    echo "fuzz: $h for ${seconds}s on $(ls "Fuzz/Corpus/$h" | wc -l) corpus inputs"
    # -rss_limit_mb guards against inputs that make a reader allocate without bound.
    log="$logs/$h.log"
    set +e
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ".build-fuzz/release/$h" -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 \
        -print_final_stats=1 "Fuzz/Corpus/$h" > "$log" 2>&1
    status=$?
    set -e
    grep -E "DONE|stat::number_of_executed_units|ERROR|crash-|Test unit written|SUMMARY" "$log" | tail -6
    if [ "$status" -ne 0 ]; then echo "fuzz: $h FAILED (exit $status; log $log)" >&2; tail -40 "$log" >&2; exit 1; fi
    # A harness built without coverage instrumentation "passes" without testing anything.
    if grep -q "Is the code instrumented for coverage" "$log" || ! grep -q "INITED cov: [1-9]" "$log"; then
        echo "fuzz: $h has no coverage feedback (built without -sanitize=fuzzer instrumentation?); log $log" >&2; exit 1
    fi
    # Keep the corpus small: the inputs that reach new coverage, merged into a fresh directory.
    merged="$(mktemp -d)"
    if ASAN_OPTIONS=detect_leaks=0 ".build-fuzz/release/$h" -merge=1 -max_len=8192 -rss_limit_mb=2048 "$merged" "Fuzz/Corpus/$h" > "$log.merge" 2>&1; then
        rm -rf "Fuzz/Corpus/$h" && mv "$merged" "Fuzz/Corpus/$h" && chmod 755 "Fuzz/Corpus/$h"
    else
        rm -rf "$merged"
    fi
    echo "fuzz: $h ok ($(ls "Fuzz/Corpus/$h" | wc -l) corpus inputs)"
done
