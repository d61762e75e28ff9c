#!/usr/bin/env bash
# End-to-end check of `lora reproduce` with the smoke budget (a few steps per run, all five
# tasks, both methods): builds the release binary, runs the study into a temporary
# directory, and checks that report.md has every table of the paper and that results.json
# and the plots exist. Exits non-zero on any missing piece.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SWIFT_LORA_GLUE_DIR:-$(cd .. && pwd)/shared/glue}"
OUT="$(mktemp -d)/smoke-study"
swift build -c release --product lora
start=$(date +%s)
.build/release/lora reproduce --model models/all-MiniLM-L6-v2 --data "$DATA" --out "$OUT" --budget smoke --inference-repeats 1 2>&1 \
    | grep -v ' | step ' || { echo "smoke study: lora reproduce failed" >&2; exit 1; }
elapsed=$(( $(date +%s) - start ))
fail=0
check() { if grep -q -- "$1" "$OUT/report.md"; then echo "  ok: $1"; else echo "  MISSING: $1" >&2; fail=1; fi; }
echo "smoke study report checks ($OUT/report.md, ${elapsed}s):"
for heading in "Table 1: Trainable parameters" "Table 2: Dev-set scores" "Table 3" "Table 4" "Table 5" "Table 6"; do check "$heading"; done
for task in SST-2 MRPC CoLA RTE STS-B; do check "| $task |"; done
check "ESTIMATE"
[ -s "$OUT/results.json" ] && echo "  ok: results.json" || { echo "  MISSING: results.json" >&2; fail=1; }
n=$(ls "$OUT"/plots/*.svg 2>/dev/null | wc -l)
[ "$n" -ge 5 ] && echo "  ok: $n plots" || { echo "  MISSING: plots ($n)" >&2; fail=1; }
[ "$elapsed" -lt 300 ] && echo "  ok: finished in ${elapsed}s (< 300 s)" || { echo "  TOO SLOW: ${elapsed}s" >&2; fail=1; }
exit $fail
