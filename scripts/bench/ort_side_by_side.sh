#!/usr/bin/env bash
# Inference side by side with ONNX Runtime: our `lora bench infer --json` (fp32, and --int8)
# against ONNX Runtime (fp32, and int8 after onnxruntime.quantization.quantize_dynamic) on the
# same model, the same inputs and the same threads (scripts/bench/ort_infer.py is ORT's side).
#
# Usage (from anywhere; default paths are relative to the repository root):
#
#   scripts/bench/ort_side_by_side.sh [options]
#
# Options:
#   --lora BIN        our binary (default .build/release/lora)
#   --model DIR       a model directory; repeat the option, or give a comma-separated list, for
#                     several (default: models/all-MiniLM-L6-v2, and models/roberta-base-random
#                     where present; scripts/reference/make_roberta_base_random.py makes it)
#   --data DIR        GLUE directory (default ../shared/glue next to the repository)
#   --task NAMES      comma-separated tasks of the dev-set workloads (default SST-2,MRPC; also RTE,
#                     STS-B, CoLA; "none" keeps only 1x128)
#   --threads N       threads on all four sides (default 2; ORT: intra-op N, inter-op 1)
#   --repeat N        rounds; in each, every workload runs ours fp32, ours int8, ORT fp32 and ORT
#                     int8 (one fresh process each), the order rotated by one per round; the
#                     table shows the median over rounds of each run's median (default 3)
#   --steps N, --warmup N
#                     timed and warm-up steps of the 1x128 rows (default 20 and 5)
#   --dev-steps N, --dev-warmup N
#                     timed and warm-up passes over the dev set (default 3 and 1)
#   --python PATH     Python with torch, transformers, onnxruntime, onnx, onnxscript
#                     (default ../refenv/bin/python)
#   --onnx-dir DIR    cache of the exported and quantised models, one folder per model
#                     (default .build/ort-onnx); exported again when the model changes
#   --ort-args S      extra arguments for ort_infer.py (e.g. "--quantize-ops MatMul,Gemm")
#   --out DIR         raw JSON and logs (default: a new temporary directory)
#   --only REGEX, --skip REGEX
#                     run only the runs whose label "MODEL: WORKLOAD: SIDE" matches (or does not
#                     match) the extended regex; workloads are "1x128" and "TASK dev b32", sides
#                     "ours fp32", "ours int8", "ORT fp32", "ORT int8"
#                     (e.g. --skip 'dev b32: ours int8'); skipped cells read "skipped"
#   --dry-run         print the commands only
#
# Workloads per model (those of `lora bench infer`): 1x128 (one sequence of 128 random ids, no
# padding; cells are median ms per step) and the whole dev set of each --task in batches of 32,
# file order, max length 128 (cells are median seconds per pass). On the dev sets our side packs
# the sequences without padding while ORT runs each batch padded to its longest sequence, as
# PyTorch users do: the notes give both token counts. Ratios are time ratios ours / ORT
# (< 1: ours is faster); "int8 speed-up" is each side's fp32 time / its int8 time.
# Before the rounds, each model is exported, quantised and checked once (ORT fp32 logits against
# PyTorch within 1e-4; the int8 difference is reported); see scripts/bench/ort_infer.py.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OURS="$ROOT/.build/release/lora"
DATA="$(cd "$ROOT/.." && pwd)/shared/glue"
PY="$(cd "$ROOT/.." && pwd)/refenv/bin/python"
ONNX_DIR="$ROOT/.build/ort-onnx"
TASKS=SST-2,MRPC THREADS=2 REPEAT=3 STEPS=20 WARMUP=5 DEV_STEPS=3 DEV_WARMUP=1 DEV_BATCH=32 MAX_LENGTH=128
OUT_DIR="" ONLY="" SKIP="" DRY=0 ORT_EXTRA=""
model_args=()

die() { echo "ort_side_by_side.sh: error: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --lora) need "$@"; OURS=$2; shift 2 ;;
    --model) need "$@"; IFS=, read -r -a more <<< "$2"; model_args+=("${more[@]}"); shift 2 ;;
    --data) need "$@"; DATA=$2; shift 2 ;;
    --task) need "$@"; TASKS=$2; shift 2 ;;
    --threads) need "$@"; THREADS=$2; shift 2 ;;
    --repeat) need "$@"; REPEAT=$2; shift 2 ;;
    --steps) need "$@"; STEPS=$2; shift 2 ;;
    --warmup) need "$@"; WARMUP=$2; shift 2 ;;
    --dev-steps) need "$@"; DEV_STEPS=$2; shift 2 ;;
    --dev-warmup) need "$@"; DEV_WARMUP=$2; shift 2 ;;
    --python) need "$@"; PY=$2; shift 2 ;;
    --onnx-dir) need "$@"; ONNX_DIR=$2; shift 2 ;;
    --ort-args) need "$@"; ORT_EXTRA=$2; shift 2 ;;
    --out|--out-dir) need "$@"; OUT_DIR=$2; shift 2 ;;
    --only) need "$@"; ONLY=$2; shift 2 ;;
    --skip) need "$@"; SKIP=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for v in THREADS REPEAT STEPS DEV_STEPS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$(tr 'A-Z_' 'a-z-' <<< "$v") must be a positive integer (got '${!v}')"
done
for v in WARMUP DEV_WARMUP; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "--$(tr 'A-Z_' 'a-z-' <<< "$v") must be an integer >= 0 (got '${!v}')"
done
[ "$TASKS" = none ] && TASKS=""

ORT="$ROOT/scripts/bench/ort_infer.py"
[ -f "$ORT" ] || die "missing $ORT"
[ -x "$PY" ] || die "Python not found: $PY (the reference venv, see scripts/reference/README.md; or pass --python)"
if ! "$PY" -c 'import onnxruntime, onnx, torch, transformers' 2>/dev/null; then
  die "$PY cannot import onnxruntime, onnx, torch and transformers:
  install them with: $PY -m pip install onnxruntime onnx onnxscript"
fi

# Our side: a binary with `bench infer --json`, and --int8 (older builds lack it: those cells read n/a).
OURS_INT8=1
if [ ! -e "$OURS" ]; then
  die "our binary not found: $OURS
  build it first (swift build -c release --product lora) or pass --lora BIN"
fi
[ -x "$OURS" ] || die "our binary is not executable: $OURS"
help=$("$OURS" bench infer --help 2>&1)
if [ $? -ne 0 ] || ! grep -q -- '--json' <<< "$help" || ! grep -q -- '--model' <<< "$help"; then
  die "$OURS has no working 'bench infer' ('$OURS bench infer --help' does not print a usage with --model and --json)"
fi
if ! grep -q -- '--int8' <<< "$help"; then
  echo "ort_side_by_side.sh: warning: $OURS bench infer has no --int8: the 'ours int8' cells read n/a" >&2
  OURS_INT8=0
fi

# Models: name=dir (the name is the folder's name).
models=()
if [ ${#model_args[@]} -eq 0 ]; then
  [ -f "$ROOT/models/all-MiniLM-L6-v2/config.json" ] || die "model not found: $ROOT/models/all-MiniLM-L6-v2 (no config.json)
  fetch it with scripts/fetch-model.sh, or pass --model DIR"
  models+=("all-MiniLM-L6-v2=$ROOT/models/all-MiniLM-L6-v2")
  if [ -f "$ROOT/models/roberta-base-random/config.json" ]; then
    models+=("roberta-base-random=$ROOT/models/roberta-base-random")
  else
    echo "ort_side_by_side.sh: note: no models/roberta-base-random (make it with $PY scripts/reference/make_roberta_base_random.py): MiniLM only" >&2
  fi
else
  for d in "${model_args[@]}"; do
    [ -n "$d" ] || continue
    [ -f "$d/config.json" ] || die "model not found: $d (no config.json)"
    d=$(cd "$d" && pwd)
    name=$(basename "$d")
    for m in "${models[@]}"; do [ "${m%%=*}" = "$name" ] && die "two models named $name (the folder name labels the rows)"; done
    models+=("$name=$d")
  done
fi
[ ${#models[@]} -gt 0 ] || die "no model"
for t in ${TASKS//,/ }; do
  case "$t" in SST-2|MRPC|RTE|STS-B|CoLA|WNLI) ;; *) die "unknown task $t (SST-2, MRPC, RTE, STS-B, CoLA, WNLI)" ;; esac
  [ -f "$DATA/$t/dev.tsv" ] || die "GLUE file not found: $DATA/$t/dev.tsv (pass --data DIR)"
done

if [ -z "$OUT_DIR" ]; then OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ort_side_by_side.XXXXXX"); fi
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
mkdir -p "$ONNX_DIR" || die "cannot create $ONNX_DIR"

SIDES=("ours fp32" "ours int8" "ORT fp32" "ORT int8")
# label <TAB> our arguments <TAB> ORT's arguments <TAB> steps <TAB> warm-up
workloads() {
  local d=$1 t
  printf '%s\t%s\t%s\t%s\t%s\n' "1x128" "--model $d --batch 1 --seq 128" "--workload fixed --batch 1 --seq 128" "$STEPS" "$WARMUP"
  for t in ${TASKS//,/ }; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$t dev b$DEV_BATCH" \
      "--model $d --batch $DEV_BATCH --task $t --data $DATA --max-length $MAX_LENGTH" \
      "--workload dev --task $t --data $DATA --batch $DEV_BATCH --max-length $MAX_LENGTH" "$DEV_STEPS" "$DEV_WARMUP"
  done
}
selected() {  # selected LABEL: --only/--skip
  [ -n "$ONLY" ] && ! grep -Eq -- "$ONLY" <<< "$1" && return 1
  [ -n "$SKIP" ] && grep -Eq -- "$SKIP" <<< "$1" && return 1
  return 0
}
json_line() { grep '^[[:space:]]*{' "$1" 2>/dev/null | tail -n 1; }
safe() { tr -c 'A-Za-z0-9._-' '_' <<< "$1" | sed 's/_$//'; }
# run_json F WHAT CMD...: runs CMD (stdout F.out, stderr F.log, no stdin) and keeps its last JSON
# line in F.json; on failure says "WHAT failed", shows the log's tail, removes F.json, returns 1.
run_json() {
  local f="$1" what="$2" rc; shift 2
  "$@" > "$f.out" 2> "$f.log" < /dev/null
  rc=$?
  json_line "$f.out" > "$f.json"
  if [ $rc -ne 0 ] || [ ! -s "$f.json" ]; then
    echo "  $what failed (exit $rc): $*" >&2
    grep -v '^\[torch.onnx\]\|^W[0-9]\{4\}' "$f.log" | tail -n 5 | sed 's/^/    /' >&2
    rm -f "$f.json"
    return 1
  fi
}

# Export, quantise and check each model once (per number of labels) before any timing.
: > "$OUT_DIR/prepare.tsv"
declare -A ORT_OK
for m in "${models[@]}"; do
  mname=${m%%=*} mdir=${m#*=}
  want=0
  while IFS=$'\t' read -r label _ _ _ _; do
    for s in "ORT fp32" "ORT int8"; do selected "$mname: $label: $s" && want=1; done
  done < <(workloads "$mdir")
  [ "$want" = 1 ] || continue
  ORT_OK[$mname]=1
  # one export per number of labels: 2, and 1 for STS-B
  preps=("")
  for t in ${TASKS//,/ }; do [ "$t" = STS-B ] && preps+=("--task STS-B"); done
  for p in "${preps[@]}"; do
    # shellcheck disable=SC2086  # word lists without spaces inside words
    cmd=("$PY" "$ORT" "$mdir" --onnx-dir "$ONNX_DIR/$mname" --threads "$THREADS" --prepare --json $p $ORT_EXTRA)
    if [ "$DRY" = 1 ]; then echo "${cmd[*]}"; continue; fi
    f="$OUT_DIR/$(safe "$mname")-prepare$([ -n "$p" ] && echo -STS-B)"
    echo "[prepare] $mname: export, quantise and check (cached in $ONNX_DIR/$mname) ..." >&2
    if run_json "$f" "ORT export or check for $mname" "${cmd[@]}"; then
      printf '%s\t%s\n' "$mname" "$f.json" >> "$OUT_DIR/prepare.tsv"
    else
      ORT_OK[$mname]=0
    fi
  done
done

# The rounds: model, workload, then the four sides, their order rotated by one per round.
: > "$OUT_DIR/runs.tsv"
: > "$OUT_DIR/rows.tsv"
for round in $(seq 1 "$REPEAT"); do
  for m in "${models[@]}"; do
    mname=${m%%=*} mdir=${m#*=}
    while IFS=$'\t' read -r label ours_args ort_args steps warmup; do
      [ "$round" = 1 ] && printf '%s\t%s\n' "$mname" "$label" >> "$OUT_DIR/rows.tsv"
      for k in 0 1 2 3; do
        side=${SIDES[$(( (k + round - 1) % 4 ))]}
        full="$mname: $label: $side"
        selected "$full" || continue
        common="--steps $steps --warmup $warmup --threads $THREADS"
        # shellcheck disable=SC2086
        case "$side" in
          "ours fp32") cmd=("$OURS" bench infer $ours_args $common --json) ;;
          "ours int8") [ "$OURS_INT8" = 1 ] || continue
                       cmd=("$OURS" bench infer $ours_args $common --int8 --json) ;;
          "ORT fp32")  cmd=("$PY" "$ORT" "$mdir" --onnx-dir "$ONNX_DIR/$mname" $ort_args $common --precision fp32 --json $ORT_EXTRA) ;;
          "ORT int8")  cmd=("$PY" "$ORT" "$mdir" --onnx-dir "$ONNX_DIR/$mname" $ort_args $common --precision int8 --json $ORT_EXTRA) ;;
        esac
        if [ "$DRY" = 1 ]; then
          [ "$round" = 1 ] && { echo "# $full"; echo "${cmd[*]}"; }
          continue
        fi
        f="$OUT_DIR/$(safe "$mname-$label-$side")-r$round"
        if [[ $side == ORT* ]] && [ "${ORT_OK[$mname]:-0}" != 1 ]; then
          printf '%s\t%s\t%s\t%s\t%s\n' "$mname" "$label" "$side" "$round" "-" >> "$OUT_DIR/runs.tsv"
          continue
        fi
        echo "[round $round/$REPEAT] $full ..." >&2
        result="$f.json"
        run_json "$f" "$full" "${cmd[@]}" || result="-"
        printf '%s\t%s\t%s\t%s\t%s\n' "$mname" "$label" "$side" "$round" "$result" >> "$OUT_DIR/runs.tsv"
      done
    done < <(workloads "$mdir")
  done
  [ "$DRY" = 1 ] && exit 0
done

"$PY" - "$OUT_DIR" "$THREADS" "$REPEAT" "$STEPS" "$WARMUP" "$DEV_STEPS" "$DEV_WARMUP" "$OURS_INT8" <<'PYEOF'
import json, os, statistics, sys
out_dir, threads, repeat, steps, warmup, dev_steps, dev_warmup, ours_int8 = sys.argv[1:]
SIDES = ("ours fp32", "ours int8", "ORT fp32", "ORT int8")

def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip() or "null")
    except (OSError, ValueError):
        return None

def seconds(side, d):
    if not d:
        return None
    if side.startswith("ORT"):
        d = d.get(side.split()[1]) or {}
    return d.get("s_per_step")

rows = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(out_dir, "rows.tsv"))]
runs = {}  # (model, label, side) -> list of (round, seconds or None, json)
for l in open(os.path.join(out_dir, "runs.tsv")):
    model, label, side, rnd, path = l.rstrip("\n").split("\t")
    d = None if path == "-" else load(path)
    runs.setdefault((model, label, side), []).append((int(rnd), seconds(side, d), d))

def cell(model, label, side):
    """(median seconds or None, text)."""
    got = runs.get((model, label, side))
    if got is None:
        return None, "n/a" if side == "ours int8" and ours_int8 == "0" else "skipped"
    vals = [s for _, s, _ in got if s is not None]
    if not vals:
        return None, "failed"
    med = statistics.median(vals)
    scale = 1e3 if label == "1x128" else 1
    text = f"{med * scale:.2f}" if label == "1x128" else f"{med:.3f}"
    if len(vals) < len(got):
        text += f" ({len(got) - len(vals)} failed)"
    return med, text

def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"

head = ["model", "workload", "unit", "ours fp32", "ORT fp32", "ours/ORT fp32", "ours int8", "ORT int8",
        "ours/ORT int8", "int8 speed-up ours", "int8 speed-up ORT"]
print(f"threads {threads}; median over {repeat} round(s) of each run's median; 1x128: {steps} timed steps after "
      f"{warmup} warm-up (ms per step); dev sets: {dev_steps} timed passes after {dev_warmup} warm-up (s per pass). "
      f"ours/ORT are time ratios (< 1: ours is faster); int8 speed-up = that side's fp32 time / its int8 time.\n")
print("| " + " | ".join(head) + " |")
print("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
for model, label in rows:
    c = {s: cell(model, label, s) for s in SIDES}
    unit = "ms/step" if label == "1x128" else "s/pass"
    print("| " + " | ".join([model, label, unit,
                             c["ours fp32"][1], c["ORT fp32"][1], ratio(c["ours fp32"][0], c["ORT fp32"][0]),
                             c["ours int8"][1], c["ORT int8"][1], ratio(c["ours int8"][0], c["ORT int8"][0]),
                             ratio(c["ours fp32"][0], c["ours int8"][0]), ratio(c["ORT fp32"][0], c["ORT int8"][0])]) + " |")

notes = []
for l in open(os.path.join(out_dir, "prepare.tsv")):
    model, path = l.rstrip("\n").split("\t")
    d = load(path)
    if not d:
        continue
    e, v = d["export"], d.get("versions", {})
    notes.append(f"{model} (num_labels {e['num_labels']}): ONNX Runtime {v.get('onnxruntime')}, {e['exporter']} export, "
                 f"opset {e['opset']}, inputs {', '.join(e['inputs'])}; max |ORT fp32 - PyTorch| logit = "
                 f"{e['fp32_max_abs_diff']:.2g} (limit {e['tolerance']:g}); max |ORT int8 - PyTorch| = "
                 f"{e['int8_max_abs_diff']:.2g} (largest logit {e['max_abs_logit_last_input']:.2g}); quantize_dynamic "
                 f"QInt8 per_channel={e['per_channel']}, ops {e.get('quantize_ops', 'default')}: "
                 f"{e['quantized_nodes']} MatMul/Gemm quantised, {e['int8_float_matmuls']} left in fp32, "
                 f"embeddings {'also 8-bit' if e.get('int8_embeddings') else 'fp32'}")
for model, label in rows:
    if label == "1x128":
        continue
    ort = next((d for s in ("ORT fp32", "ORT int8") for _, _, d in runs.get((model, label, s), []) if d), None)
    ours = next((d for s in ("ours fp32", "ours int8") for _, _, d in runs.get((model, label, s), []) if d), None)
    parts = []
    if ort:
        u, p = ort["useful_tokens_per_step"], ort["padded_tokens_per_step"]
        parts.append(f"ORT computes {p:,} tokens per pass for {u:,} real ones ({100 * (p - u) / p:.0f}% padding, "
                     f"{ort['batches']} batches)")
    if ours and ours.get("tokens_per_s") and ours.get("s_per_step"):
        parts.append(f"ours about {ours['tokens_per_s'] * ours['s_per_step']:,.0f} tokens per pass (packed, no padding)")
    if parts:
        notes.append(f"{model}: {label}: " + "; ".join(parts))
if notes:
    print("\n" + "\n".join("- " + n for n in notes))
print(f"\nraw JSON and logs: {out_dir}")
PYEOF
