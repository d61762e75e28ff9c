#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs OpenBLAS and the default model, then runs
# every XCTest suite. GLUE data is read from $SWIFT_LORA_GLUE_DIR (default ../shared/glue).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export SWIFT_LORA_GLUE_DIR="${SWIFT_LORA_GLUE_DIR:-$(cd .. && pwd)/shared/glue}"
if [ ! -d "$SWIFT_LORA_GLUE_DIR" ]; then
    echo "test.sh: GLUE data not found at $SWIFT_LORA_GLUE_DIR (set SWIFT_LORA_GLUE_DIR)" >&2
    exit 1
fi
# The study end to end (release binary, smoke budget); each fuzzing harness for 30 s and the
# kernel and attention tests under ThreadSanitizer (SWIFT_LORA_FUZZ=0 skips these two, about
# 6 minutes); then every unit and parity test. XCTest's summary is the last thing printed.
scripts/smoke-study.sh
if [ "${SWIFT_LORA_FUZZ:-1}" = "1" ]; then
    scripts/fuzz.sh "${SWIFT_LORA_FUZZ_SECONDS:-30}"
    scripts/sanitizers.sh thread
fi
swift build --build-tests -j 2
swift test --skip-build --disable-swift-testing "$@"
