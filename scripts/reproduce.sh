#!/usr/bin/env bash
# The main job on a fresh machine: installs OpenBLAS and all-MiniLM-L6-v2, builds the release
# binary and runs the paper's study (FFT and LoRA on SST-2, MRPC, CoLA, RTE, STS-B) with the
# quick budget, writing the report to results/quick-minilm/ (resumable: run it again to continue).
# Extra arguments go to `lora reproduce` (e.g. --budget paper, --tasks mrpc,rte).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product lora
DATA="${SWIFT_LORA_GLUE_DIR:-../shared/glue}"
exec .build/release/lora reproduce --model models/all-MiniLM-L6-v2 --data "$DATA" --out results/quick-minilm --budget quick "$@"
