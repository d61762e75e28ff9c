#!/usr/bin/env bash
# Runs each benchmark workload on our side (`lora bench train|infer --json`) and on the PyTorch +
# PEFT side (scripts/bench/pytorch_bench.py, same flags), then prints a Markdown table.
#
# Usage (from anywhere; default paths are relative to the repository root):
#
#   scripts/bench/side_by_side.sh [OURS_BIN [MINILM_DIR [ROBERTA_DIR [MODERNBERT_DIR]]]] [options]
#
#   OURS_BIN      our binary                 (default .build/release/lora)
#   MINILM_DIR    BERT model                 (default models/all-MiniLM-L6-v2; "none" skips it)
#   ROBERTA_DIR   RoBERTa-base-shaped model  (default models/roberta-base-random; "none" skips it)
#   MODERNBERT_DIR ModernBERT-base-shaped model (default models/modernbert-base-random, made by
#                 scripts/reference/make_modernbert_base_random.py; "none" skips it)
#
# Options:
#   --data DIR        GLUE directory (default ../shared/glue next to the repository)
#   --task NAMES      comma-separated tasks of the real-data workloads (default SST-2,MRPC)
#   --steps N         timed steps on both sides (default 5)
#   --warmup N        untimed warm-up steps on both sides (default 2)
#   --latency-steps N, --latency-warmup N
#                     timed and warm-up steps of the "infer 1x128" rows (default 20 and 5: a
#                     20 ms step timed 5 times right after start-up is mostly start-up noise)
#   --repeat N        run every workload N times, ours and PyTorch alternating, rounds
#                     interleaved; the table shows each side's median round (default 1)
#   --dev-steps N     timed passes over the dev set for the "infer TASK dev" rows (default 3)
#   --threads N       threads on both sides (default 2)
#   --python PATH     Python with torch/transformers/peft (default ../refenv/bin/python)
#   --only REGEX      run only workloads whose label ("minilm: train lora 16x128", ...) matches
#   --pytorch-only    skip our side (its columns read n/a)
#   --out-dir DIR     keep raw JSON and logs there (default: a new temporary directory)
#   --pytorch-args S  extra arguments for pytorch_bench.py (e.g. "--attn eager")
#   --pytorch-default-adamw  train PyTorch with its default AdamW (default: fused=True, its fastest)
#   --dry-run         print the commands only
#
# Workloads per model: train lora 16x128 (model's dropout), train lora 16x128 dropout 0,
# train full 16x128, train lora TASK (batches of 16), train full TASK (batches of 16),
# infer TASK dev (batches of 32), infer 1x128.
#
# Columns: tokens/s are real (unpadded) tokens per second: ours `tokens_per_s` (our side packs
# sequences, no padding) against PyTorch's `useful_tokens_per_s` (it also computes padding;
# identical to its tokens_per_s on fixed shapes). Speed ratio = ours / PyTorch (> 1: ours is
# faster). Peak RSS = `peak_rss_mib` of each side's process (one fresh process per workload);
# RSS ratio = ours / PyTorch (< 1: ours uses less).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OURS="$ROOT/.build/release/lora"
MINILM="$ROOT/models/all-MiniLM-L6-v2"
ROBERTA="$ROOT/models/roberta-base-random"
MODERNBERT="$ROOT/models/modernbert-base-random"
DATA="$(cd "$ROOT/.." && pwd)/shared/glue"
export REPEAT=1
TASKS=SST-2,MRPC DEV_STEPS=3 STEPS=5 WARMUP=2 THREADS=2 LATENCY_STEPS=20 LATENCY_WARMUP=5 PT_TRAIN_EXTRA="--fused-adamw"
PY="$ROOT/../refenv/bin/python"
ONLY="" PYTORCH_ONLY=0 OUT_DIR="" DRY=0 PT_EXTRA=""

die() { echo "side_by_side.sh: error: $*" >&2; exit 2; }
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift 2 ;;
    --task) TASKS=$2; shift 2 ;;
    --pytorch-default-adamw) PT_TRAIN_EXTRA=""; shift ;;
    --steps) STEPS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --dev-steps) DEV_STEPS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --latency-steps) LATENCY_STEPS=$2; shift 2 ;;
    --latency-warmup) LATENCY_WARMUP=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --pytorch-only) PYTORCH_ONLY=1; shift ;;
    --out-dir) OUT_DIR=$2; shift 2 ;;
    --pytorch-args) PT_EXTRA=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -ge 1 ] && OURS=${positional[0]}
[ ${#positional[@]} -ge 2 ] && MINILM=${positional[1]}
[ ${#positional[@]} -ge 3 ] && ROBERTA=${positional[2]}
[ ${#positional[@]} -ge 4 ] && MODERNBERT=${positional[3]}
[ ${#positional[@]} -ge 5 ] && die "too many arguments (OURS_BIN MINILM_DIR ROBERTA_DIR MODERNBERT_DIR at most)"

BENCH="$ROOT/scripts/bench/pytorch_bench.py"
[ -x "$PY" ] || die "Python not found: $PY (the reference venv, see scripts/reference/README.md; or pass --python)"
[ -f "$BENCH" ] || die "missing $BENCH"

# Our side must exist and have the model benchmarks.
if [ "$PYTORCH_ONLY" = 0 ]; then
  if [ ! -e "$OURS" ]; then
    die "our binary not found: $OURS
  build it first (swift build -c release --product lora), pass its path as the first argument,
  or use --pytorch-only to run the PyTorch side alone"
  fi
  [ -x "$OURS" ] || die "our binary is not executable: $OURS"
  for sub in train infer; do
    # a real `lora bench train|infer` prints its usage, with --model and --json
    help=$("$OURS" bench "$sub" --help 2>&1)
    if [ $? -ne 0 ] || ! printf '%s' "$help" | grep -q -- '--model' || ! printf '%s' "$help" | grep -q -- '--json'; then
      die "$OURS has no working 'bench $sub' subcommand ('$OURS bench $sub --help' does not print a usage with --model and --json):
  this build predates the model benchmarks; rebuild it, or use --pytorch-only"
    fi
  done
fi

models=()
for pair in "minilm=$MINILM" "roberta=$ROBERTA" "modernbert=$MODERNBERT"; do
  name=${pair%%=*} dir=${pair#*=}
  [ "$dir" = none ] || [ -z "$dir" ] && continue
  if [ ! -f "$dir/config.json" ]; then
    echo "side_by_side.sh: warning: $name model not found at $dir (no config.json): skipped" >&2
    continue
  fi
  models+=("$name=$dir")
done
[ ${#models[@]} -gt 0 ] || die "no model directory found"
for TASK in ${TASKS//,/ }; do
  if [ ! -f "$DATA/$TASK/train.tsv" ]; then
    die "GLUE task $TASK not found under $DATA (pass --data DIR and --task NAME)"
  fi
done

if [ -z "$OUT_DIR" ]; then OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/side_by_side.XXXXXX"); fi
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
: > "$OUT_DIR/workloads.tsv"

# label <TAB> kind <TAB> args shared by both sides
workloads() {
  local d=$1
  printf '%s\t%s\t%s\n' \
    "train lora 16x128"           train "--model $d --method lora --batch 16 --seq 128" \
    "train lora 16x128 dropout 0" train "--model $d --method lora --batch 16 --seq 128 --dropout 0" \
    "train full 16x128"           train "--model $d --method full --batch 16 --seq 128"
  local t
  for t in ${TASKS//,/ }; do
    printf '%s\t%s\t%s\n' \
      "train lora $t b16"         train "--model $d --method lora --batch 16 --task $t --data $DATA" \
      "train full $t b16"         train "--model $d --method full --batch 16 --task $t --data $DATA"
  done
  for t in ${TASKS//,/ }; do
    printf '%s\t%s\t%s\n' "infer $t dev b32" infer "--model $d --batch 32 --task $t --data $DATA"
  done
  printf '%s\t%s\t%s\n' "infer 1x128" infer "--model $d --batch 1 --seq 128"
}

# Last line of a file that looks like a JSON object (empty if none).
json_line() { grep '^[[:space:]]*{' "$1" 2>/dev/null | tail -n 1; }

n=0
total=0
for m in "${models[@]}"; do
  while IFS=$'\t' read -r label kind args; do
    full="${m%%=*}: $label"
    [ -n "$ONLY" ] && ! printf '%s' "$full" | grep -Eq -- "$ONLY" && continue
    total=$((total + 1))
  done < <(workloads "${m#*=}")
done
[ "$total" -gt 0 ] || die "no workload matches --only '$ONLY'"

common="--steps $STEPS --warmup $WARMUP --threads $THREADS"
for round in $(seq 1 "$REPEAT"); do
n=0
for m in "${models[@]}"; do
  mname=${m%%=*} mdir=${m#*=}
  while IFS=$'\t' read -r label kind args; do
    full="$mname: $label"
    [ -n "$ONLY" ] && ! printf '%s' "$full" | grep -Eq -- "$ONLY" && continue
    n=$((n + 1))
    id=$(printf '%02d' "$n")
    [ "$round" = 1 ] && printf '%s\t%s\n' "$id" "$full" >> "$OUT_DIR/workloads.tsv"
    r="$id-r$round"
    run_common=$common
    case "$label" in
      *" dev b"*) run_common="--steps $DEV_STEPS --warmup $WARMUP --threads $THREADS" ;;
      "infer 1x128") run_common="--steps $LATENCY_STEPS --warmup $LATENCY_WARMUP --threads $THREADS" ;;
    esac
    # shellcheck disable=SC2086  # args are word lists without spaces inside words
    ours_cmd=("$OURS" bench $kind $args $run_common --json)
    # shellcheck disable=SC2086
    extra=$PT_EXTRA
    [ "$kind" = train ] && extra="$extra $PT_TRAIN_EXTRA"
    # shellcheck disable=SC2086
    pt_cmd=("$PY" "$BENCH" $kind $args $run_common $extra)
    if [ "$DRY" = 1 ]; then
      echo "# $full"
      [ "$PYTORCH_ONLY" = 0 ] && echo "${ours_cmd[*]}"
      echo "${pt_cmd[*]}"
      continue
    fi
    if [ "$PYTORCH_ONLY" = 0 ]; then
      echo "[round $round/$REPEAT, $n/$total] $full: ours ..." >&2
      if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$OUT_DIR/$r-ours.maxrss" "${ours_cmd[@]}" > "$OUT_DIR/$r-ours.out" 2> "$OUT_DIR/$r-ours.log"
      else
        "${ours_cmd[@]}" > "$OUT_DIR/$r-ours.out" 2> "$OUT_DIR/$r-ours.log"
      fi
      rc=$?
      json_line "$OUT_DIR/$r-ours.out" > "$OUT_DIR/$r-ours.json"
      if [ $rc -ne 0 ] || [ ! -s "$OUT_DIR/$r-ours.json" ]; then
        echo "  ours failed (exit $rc): ${ours_cmd[*]}" >&2
        tail -n 5 "$OUT_DIR/$r-ours.log" "$OUT_DIR/$r-ours.out" 2>/dev/null | sed 's/^/    /' >&2
        rm -f "$OUT_DIR/$r-ours.json"
      fi
    fi
    echo "[round $round/$REPEAT, $n/$total] $full: pytorch ..." >&2
    "${pt_cmd[@]}" > "$OUT_DIR/$r-pytorch.out" 2> "$OUT_DIR/$r-pytorch.log"
    rc=$?
    json_line "$OUT_DIR/$r-pytorch.out" > "$OUT_DIR/$r-pytorch.json"
    if [ $rc -ne 0 ] || [ ! -s "$OUT_DIR/$r-pytorch.json" ]; then
      echo "  pytorch failed (exit $rc): ${pt_cmd[*]}" >&2
      tail -n 5 "$OUT_DIR/$r-pytorch.log" 2>/dev/null | sed 's/^/    /' >&2
      rm -f "$OUT_DIR/$r-pytorch.json"
    fi
  done < <(workloads "$mdir")
done
  [ "$DRY" = 1 ] && break
done
[ "$DRY" = 1 ] && exit 0

# Per workload and side, keep the round with the median tokens/s as ID-SIDE.json.
"$PY" - "$OUT_DIR" "$REPEAT" <<'PYEOF'
import json, os, shutil, sys
out_dir, repeat = sys.argv[1], int(sys.argv[2])
for line in open(os.path.join(out_dir, "workloads.tsv")):
    wid = line.split("\t", 1)[0]
    for side in ("ours", "pytorch"):
        runs = []
        for r in range(1, repeat + 1):
            path = os.path.join(out_dir, f"{wid}-r{r}-{side}.json")
            try:
                d = json.loads(open(path).read().strip() or "null")
            except (OSError, ValueError):
                continue
            if d:
                runs.append((d.get("useful_tokens_per_s", d.get("tokens_per_s")) or 0, r))
        if runs:
            runs.sort()
            r = runs[(len(runs) - 1) // 2][1]
            for ext in ("json", "maxrss"):
                src = os.path.join(out_dir, f"{wid}-r{r}-{side}.{ext}")
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(out_dir, f"{wid}-{side}.{ext}"))
            all_tok = ", ".join(f"{t:,.0f}" for t, _ in sorted(runs, key=lambda x: x[1]))
            with open(os.path.join(out_dir, f"{wid}-{side}.rounds"), "w") as f:
                f.write(all_tok + "\n")
PYEOF

"$PY" - "$OUT_DIR" "$PYTORCH_ONLY" "$THREADS" "$STEPS" "$WARMUP" <<'PYEOF'
import json, os, sys
out_dir, pytorch_only, threads, steps, warmup = sys.argv[1], sys.argv[2] == "1", *sys.argv[3:]

def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip() or "null")
    except (OSError, ValueError):
        return None

def num(x, fmt):
    return "n/a" if x is None else format(x, fmt)

def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"

rows = []
steps_s = {}
for line in open(os.path.join(out_dir, "workloads.tsv")):
    wid, label = line.rstrip("\n").split("\t", 1)
    ours = None if pytorch_only else load(os.path.join(out_dir, f"{wid}-ours.json"))
    pt = load(os.path.join(out_dir, f"{wid}-pytorch.json"))
    o_tok = o_rss = p_tok = p_rss = None
    if ours:
        o_tok = ours.get("useful_tokens_per_s", ours.get("tokens_per_s"))
        o_rss = ours.get("peak_rss_mib")
        if not o_rss:  # fall back to /usr/bin/time's maximum resident set (KiB)
            try:
                o_rss = int(open(os.path.join(out_dir, f"{wid}-ours.maxrss")).read().split()[-1]) / 1024
            except (OSError, ValueError, IndexError):
                o_rss = None
    if pt:
        p_tok = pt.get("useful_tokens_per_s", pt.get("tokens_per_s"))
        p_rss = pt.get("peak_rss_mib")
    def ours_cell(value, fmt):
        return "n/a" if pytorch_only else ("failed" if ours is None else num(value, fmt))

    o_s = ours.get("s_per_step") if ours else None
    p_s = pt.get("s_per_step") if pt else None
    steps_s[label] = o_s
    rows.append([label,
                 ours_cell(o_tok, ",.0f"), "failed" if pt is None else num(p_tok, ",.0f"), ratio(o_tok, p_tok),
                 ours_cell(o_s, ".3f"), "failed" if pt is None else num(p_s, ".3f"),
                 ours_cell(o_rss, ",.0f"), "failed" if pt is None else num(p_rss, ",.0f"), ratio(o_rss, p_rss)])

head = ["workload", "ours tokens/s", "PyTorch tokens/s", "speed ratio", "ours s/step", "PyTorch s/step",
        "ours peak RSS (MiB)", "PyTorch peak RSS (MiB)", "RSS ratio"]
print(f"threads {threads}, median round of {os.environ.get('REPEAT', '1')}; {steps} timed steps after {warmup} warm-up (dev-set rows: whole passes; 1x128 rows: see --latency-steps); tokens/s count real (unpadded) "
      f"tokens; ratios are ours / PyTorch.\n")
print("| " + " | ".join(head) + " |")
print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
for r in rows:
    print("| " + " | ".join(r) + " |")
# Our LoRA step against our full fine-tuning step on the same batches.
notes = []
for label, lora_s in steps_s.items():
    if ": train lora " in label and "dropout 0" not in label:
        full_s = steps_s.get(label.replace(": train lora ", ": train full "))
        if lora_s and full_s:
            notes.append(f"{label.replace(': train lora ', ': ')}: our LoRA step / our full step = {lora_s / full_s:.2f}")
if notes:
    print("\n" + "\n".join("- " + n for n in notes))
print(f"\nraw JSON and logs: {out_dir}")
PYEOF
