#!/usr/bin/env bash
# Reading and tokenizing a large CSV, side by side: `lora tokenize --file` (what `lora train
# --train-file` does before training) against Hugging Face datasets + the fast tokenizer with
# map(batched=True, num_proc=2). Alternates the two, REPEATS times; peak RSS from GNU time
# (for datasets, the largest of its processes).
#   scripts/bench/data_loading.sh [ROWS] [REPEATS]      # default 1000000 rows, 3 repeats
#   PYTHON=/path/to/venv/bin/python MODEL=models/all-MiniLM-L6-v2 scripts/bench/data_loading.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
REPEATS="${2:-3}"
PYTHON="${PYTHON:-python3}"
MODEL="${MODEL:-models/all-MiniLM-L6-v2}"
FILE="${FILE:-.build/bench/tickets-$ROWS.csv}"   # git-ignored
mkdir -p "$(dirname "$FILE")"
[ -f "$FILE" ] || python3 scripts/bench/make_big_csv.py "$ROWS" "$FILE"
ls -l "$FILE"
for i in $(seq "$REPEATS"); do
    /usr/bin/time -f "  swift-lora: %e s wall, peak RSS %M KiB" .build/release/lora tokenize --tokenizer "$MODEL" --file "$FILE" --max-length 128
    /usr/bin/time -f "  datasets:   %e s wall, peak RSS %M KiB" "$PYTHON" scripts/bench/hf_data_loading.py "$MODEL" "$FILE" 2 128
done
