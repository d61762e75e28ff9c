#!/usr/bin/env bash
# End-to-end check of `lora reproduce` with the smoke budget (a few steps per run, all five
# tasks, both methods, two seeds, each run in a child process): builds the release binary,
# runs the study into a temporary directory, and checks that report.md's Tables 1–4 hold
# numbers in every cell of our rows, that the Claims section and results.json's `claims`
# are there, and that the plots exist. Exits non-zero on any missing piece.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SWIFT_LORA_GLUE_DIR:-../shared/glue}"
OUT="$(mktemp -d)/smoke-study"
swift build -c release --product lora
start=$(date +%s)
.build/release/lora reproduce --model models/all-MiniLM-L6-v2 --data "$DATA" --out "$OUT" --budget smoke --latency-rounds 3 2>&1 \
    | grep -v ' | step ' || { echo "smoke study: lora reproduce failed" >&2; exit 1; }
elapsed=$(( $(date +%s) - start ))
fail=0
check() { if grep -q -- "$1" "$OUT/report.md"; then echo "  ok: $1"; else echo "  MISSING: $1" >&2; fail=1; fi; }
echo "smoke study report checks ($OUT/report.md, ${elapsed}s):"
for heading in "## Claims" "Table 1: Trainable parameters" "Table 2: Dev-set scores" "Table 3" "Table 4" "Table 5" "Table 6" "## The plan"; do check "$heading"; done
for task in SST-2 MRPC CoLA RTE STS-B; do check "| $task |"; done
check "ESTIMATE"
# Every cell of our rows in Tables 1-4 (not the published ones) must be a number: a
# report whose cells are all "—" fails here.
if ! scripts/check-report-numbers.awk "$OUT/report.md"; then fail=1; fi
if [ -s "$OUT/results.json" ] && grep -q '"claims"' "$OUT/results.json"; then
    n=$(grep -c '"holds" :' "$OUT/results.json" || true)
    [ "$n" -eq 5 ] && echo "  ok: results.json has 5 claims" || { echo "  WRONG: results.json has $n claims, not 5" >&2; fail=1; }
else
    echo "  MISSING: results.json or its claims" >&2; fail=1
fi
n=$(ls "$OUT"/latency/*.json 2>/dev/null | wc -l)
[ "$n" -eq 5 ] && echo "  ok: 5 latency measurements" || { echo "  MISSING: latency measurements ($n)" >&2; fail=1; }
n=$(ls "$OUT"/plots/*.svg 2>/dev/null | wc -l)
[ "$n" -ge 5 ] && echo "  ok: $n plots" || { echo "  MISSING: plots ($n)" >&2; fail=1; }
if grep -q "$(pwd)" "$OUT/report.md" "$OUT/results.json" "$OUT/study.json"; then
    echo "  WRONG: the report names this machine's absolute path $(pwd)" >&2; fail=1
else
    echo "  ok: no absolute paths of this checkout in the report"
fi
[ "$elapsed" -lt 300 ] && echo "  ok: finished in ${elapsed}s (< 300 s)" || { echo "  TOO SLOW: ${elapsed}s" >&2; fail=1; }
exit $fail
