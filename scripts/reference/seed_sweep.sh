#!/usr/bin/env bash
# Ours vs PEFT LoRA on the quick study's plan over several seeds (issue #5, point 11); the
# summary also takes seed 42 from the study itself (../runs/TASK-lora, ../reference-peft.json):
# one seed says little on small dev sets (RTE has 277 examples) or on runs whose progress
# hinges on when they leave a plateau (STS-B), so both sides run each seed.
#
#   scripts/reference/seed_sweep.sh            # TASKS="STS-B RTE" SEEDS="43 44" by default
#   TASKS="RTE" SEEDS="43 44 45" scripts/reference/seed_sweep.sh
#   scripts/reference/seed_sweep.sh --summary  # print the table only
#
# Needs the release `lora` binary, the MiniLM model, ../shared/glue and the reference venv
# (scripts/reference/README.md). Finished runs are skipped, so it can be stopped and rerun.
set -euo pipefail
cd "$(dirname "$0")/../.."
LORA=${LORA:-.build/release/lora}
MODEL=${MODEL:-models/all-MiniLM-L6-v2}
DATA=${SWIFT_LORA_GLUE_DIR:-../shared/glue}
PY=${PY:-/work/refenv/bin/python}
OUT=${OUT:-results/quick-minilm/seeds}
TASKS=${TASKS:-"STS-B RTE"}
SEEDS=${SEEDS:-"43 44"}
mkdir -p "$OUT"

summary() {
    python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
scores = {}
for path in glob.glob(os.path.join(out, "ours-*", "summary.json")):
    s = json.load(open(path))
    task, seed = os.path.basename(os.path.dirname(path))[5:].rsplit("-", 1)
    scores.setdefault(task, {}).setdefault(int(seed), {})["ours"] = s["bestScore"]
for ref in (os.path.join(out, "peft.json"), os.path.join(out, "..", "reference-peft.json")):
    if os.path.exists(ref):
        for r in json.load(open(ref))["runs"]:
            if r["method"] == "lora":
                scores.setdefault(r["task"], {}).setdefault(int(r["seed"]), {})["peft"] = r["best_score"]
# The study's own LoRA runs (seed 42) sit beside this folder, in ../runs/TASK-lora.
for path in glob.glob(os.path.join(out, "..", "runs", "*-lora", "summary.json")):
    s = json.load(open(path))
    task = os.path.basename(os.path.dirname(path))[:-len("-lora")]
    scores.setdefault(task, {}).setdefault(int(s["options"]["seed"]), {})["ours"] = s["bestScore"]
swept = {t for t in scores if any("ours" in v and "peft" in v for k, v in scores[t].items() if k != 42)}
scores = {t: v for t, v in scores.items() if t in swept}
print("| task | seed | ours | PEFT |\n|---|---:|---:|---:|")
for task in sorted(scores):
    for seed in sorted(scores[task]):
        row = scores[task][seed]
        f = lambda k: f"{100 * row[k]:.1f}" if k in row else "—"
        print(f"| {task} | {seed} | {f('ours')} | {f('peft')} |")
    both = [r for r in scores[task].values() if "ours" in r and "peft" in r]
    if len(both) > 1:
        o = [100 * r["ours"] for r in both]
        p = [100 * r["peft"] for r in both]
        print(f"| {task} | mean ± sd (n={len(both)}) | {statistics.mean(o):.1f} ± {statistics.stdev(o):.1f} "
              f"| {statistics.mean(p):.1f} ± {statistics.stdev(p):.1f} |")
PY
}
if [[ "${1:-}" == "--summary" ]]; then summary; exit 0; fi

"$LORA" reproduce --model "$MODEL" --data "$DATA" --out "$OUT/plan-dir" --budget quick --print-plan > "$OUT/plan.json"
for seed in $SEEDS; do
    python3 - "$OUT/plan.json" "$seed" > "$OUT/plan-$seed.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
for run in plan["runs"]:
    run["seed"] = int(sys.argv[2])
print(json.dumps(plan))
PY
    for task in $TASKS; do
        dir="$OUT/ours-$task-$seed"
        if [[ ! -f "$dir/summary.json" ]]; then
            args=$(python3 - "$OUT/plan-$seed.json" "$task" <<'PY'
import json, sys
run = next(r for r in json.load(open(sys.argv[1]))["runs"] if r["task"] == sys.argv[2] and r["method"] == "lora")
l = run["lora"]
print(f"--epochs {run['epochs']} --batch-size {run['batch_size']} --lr {run['learning_rate']} "
      f"--weight-decay {run['weight_decay']} --warmup-ratio {run['warmup_ratio']} --max-length {run['max_length']} "
      f"--max-grad-norm {run['max_grad_norm']} --seed {run['seed']} --max-train-examples {run['max_train_examples']} "
      f"--rank {l['r']} --alpha {l['alpha']} --lora-dropout {l['dropout']} --targets {','.join(l['targets'])}")
PY
)
            # shellcheck disable=SC2086
            "$LORA" train --model "$MODEL" --task "$task" --data "$DATA" --method lora $args --out "$dir" > "$OUT/ours-$task-$seed.log" 2>&1
        fi
        "$PY" scripts/reference/peft_glue_runner.py --model "$MODEL" --data "$DATA" --plan "$OUT/plan-$seed.json" \
            --out "$OUT/peft.json" --methods lora --tasks "$task" --threads 2 --resume >> "$OUT/peft-$task-$seed.log" 2>&1
    done
done
summary
