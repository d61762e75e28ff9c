#!/usr/bin/env bash
# Dev scores of the study's fine-tuned models in fp32 and in int8 (`lora eval` and `lora eval --int8`), as a Markdown table.
#
# Usage (from the repository root; paths relative to it):
#
#   scripts/bench/int8_accuracy.sh [--lora BIN] [--study DIR] [--model DIR] [--data DIR] [--tasks LIST] [--seeds LIST]
#
#   --lora BIN     our binary (default .build/release/lora)
#   --study DIR    a study's output (default results/quick-minilm): its runs' weights are used,
#                  runs/TASK-full-seedS/model (full fine-tuning) and runs/TASK-lora-seedS/adapter (LoRA)
#   --model DIR    the base model of the LoRA runs (default models/all-MiniLM-L6-v2)
#   --data DIR     GLUE directory (default ../shared/glue)
#   --tasks LIST   comma-separated (default SST-2,MRPC,STS-B,CoLA,RTE)
#   --seeds LIST   comma-separated (default 42,43,44)
#
# Weights are not committed: they exist where the study ran (`lora reproduce` keeps them).
# Runs whose weights are missing are listed as such, not scored.
set -euo pipefail
cd "$(dirname "$0")/../.."
LORA=.build/release/lora STUDY=results/quick-minilm MODEL=models/all-MiniLM-L6-v2 DATA=../shared/glue
TASKS=SST-2,MRPC,STS-B,CoLA,RTE SEEDS=42,43,44
while [ $# -gt 0 ]; do
  case "$1" in
    --lora) LORA=$2; shift 2;; --study) STUDY=$2; shift 2;; --model) MODEL=$2; shift 2;; --data) DATA=$2; shift 2;;
    --tasks) TASKS=$2; shift 2;; --seeds) SEEDS=$2; shift 2;;
    *) echo "int8_accuracy: unknown option $1" >&2; exit 2;;
  esac
done
[ -x "$LORA" ] || { echo "int8_accuracy: $LORA is missing (swift build -c release)" >&2; exit 1; }
score() {  # prints "METRIC VALUE" from `lora eval ARGS --json`
  "$LORA" eval "$@" --json 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["primary"], r[r["primary"]])'
}
echo "| task | method | seed | metric | fp32 | int8 | int8 − fp32 (points) |"
echo "| --- | --- | ---: | --- | ---: | ---: | ---: |"
IFS=, read -ra task_list <<<"$TASKS"; IFS=, read -ra seed_list <<<"$SEEDS"
for task in "${task_list[@]}"; do
  for seed in "${seed_list[@]}"; do
    for method in full lora; do
      run="$STUDY/runs/$task-$method-seed$seed"
      if [ "$method" = full ]; then check="$run/model/config.json"; weights=(--model "$run/model")
      else check="$run/adapter/adapter_config.json"; weights=(--model "$MODEL" --adapter "$run/adapter"); fi
      if [ ! -e "$check" ]; then echo "| $task | $method | $seed | | weights missing | | |"; continue; fi
      read -r metric a < <(score "${weights[@]}" --task "$task" --data "$DATA")
      read -r _ b < <(score "${weights[@]}" --task "$task" --data "$DATA" --int8)
      python3 -c "print(f'| $task | $method | $seed | $metric | {100*$a:.2f} | {100*$b:.2f} | {100*($b-$a):+.2f} |')"
    done
  done
done
