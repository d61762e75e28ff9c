#!/usr/bin/env bash
# The LoRA(ref) row of the study: PEFT (scripts/reference/peft_glue_runner.py) on the same
# plan and seeds as `lora reproduce` (same data, caps, hyper-parameters, evaluation points),
# LoRA runs only, resumable (runs already in the output are skipped), then the report is
# regenerated with the reference row. Needs the reference venv (scripts/reference/README.md).
#   scripts/reference/reference_study.sh                        # quick budget, seeds 42,43,44
#   SEEDS=42 scripts/reference/reference_study.sh               # seed 42 only
#   PYTHON=/path/to/venv/bin/python STUDY=results/quick-minilm scripts/reference/reference_study.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-../refenv/bin/python}"
MODEL="${MODEL:-models/all-MiniLM-L6-v2}"
DATA="${SWIFT_LORA_GLUE_DIR:-../shared/glue}"
STUDY="${STUDY:-results/quick-minilm}"
BUDGET="${BUDGET:-quick}"
SEEDS="${SEEDS:-42,43,44}"
METHODS="${METHODS:-lora}"
plan="$(mktemp)"
.build/release/lora reproduce --model "$MODEL" --data "$DATA" --out "$STUDY" --budget "$BUDGET" --seeds "$SEEDS" --print-plan > "$plan"
"$PYTHON" scripts/reference/peft_glue_runner.py --model "$MODEL" --data "$DATA" --plan "$plan" \
    --out "$STUDY/reference-peft.json" --methods "$METHODS" --threads "$(nproc)" --resume
rm -f "$plan"
.build/release/lora reproduce --model "$MODEL" --data "$DATA" --out "$STUDY" --budget "$BUDGET" --report-only \
    --reference "$STUDY/reference-peft.json"
