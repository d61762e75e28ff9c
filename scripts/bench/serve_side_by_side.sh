#!/usr/bin/env bash
# `lora serve` under load against PyTorch + PEFT mixed-adapter batches, side by side, rounds alternating.
#
# Usage (from the repository root; paths relative to it):
#
#   scripts/bench/serve_side_by_side.sh [options]
#
# Options:
#   --lora BIN        our binary (default .build/release/lora)
#   --model DIR       base model (default models/all-MiniLM-L6-v2)
#   --data DIR        GLUE directory (default ../shared/glue)
#   --python PATH     Python with torch/transformers/peft (default ../refenv/bin/python)
#   --out DIR         adapters, raw JSON and logs (default out/serve-bench)
#   --rounds N        rounds, ours and PEFT alternating; the table shows medians (default 3)
#   --requests N      counted requests per run (default 2000)
#   --clients N       concurrent clients, and PEFT's batch size (default 16)
#   --inputs N        inputs per request (default 1)
#   --openblas-core C run our side with OPENBLAS_CORETYPE=C (default: the environment's). PyTorch
#                     picks its own kernels from the processor (it reports "CPU capability usage:
#                     AVX512" on an AVX-512 machine); on a machine whose environment pins OpenBLAS
#                     to Haswell, SKYLAKEX runs both sides on AVX-512.
#
# The 8 adapters are `lora train --method lora` runs on small slices of SST-2, MRPC, CoLA, RTE
# and WNLI (all two-class, so PEFT can stack their logits), made once under OUT/adapters.
# Our side: `lora serve` on a free port, scripts/bench/serve_load.py over HTTP on 127.0.0.1.
# PEFT's side: scripts/bench/peft_mixed_batch.py, the same requests in batches of --clients
# with adapter_names=, in one process, no HTTP (its best case). Both use 2 threads.
# It also measures resident memory per loaded adapter: the server's RSS before and after
# loading 32 more copies of the adapters through POST /v1/adapters.
set -euo pipefail
cd "$(dirname "$0")/../.."
LORA=.build/release/lora MODEL=models/all-MiniLM-L6-v2 DATA=../shared/glue PY=../refenv/bin/python OUT=out/serve-bench
ROUNDS=3 REQUESTS=2000 CLIENTS=16 INPUTS=1 CORE=
while [ $# -gt 0 ]; do
  case "$1" in
    --lora) LORA=$2; shift 2;; --model) MODEL=$2; shift 2;; --data) DATA=$2; shift 2;;
    --python) PY=$2; shift 2;; --out) OUT=$2; shift 2;; --rounds) ROUNDS=$2; shift 2;;
    --requests) REQUESTS=$2; shift 2;; --clients) CLIENTS=$2; shift 2;; --inputs) INPUTS=$2; shift 2;;
    --openblas-core) CORE=$2; shift 2;;
    *) echo "serve_side_by_side: unknown option $1" >&2; exit 2;;
  esac
done
for f in "$LORA" "$MODEL/config.json" "$DATA/SST-2/dev.tsv" "$PY"; do
  [ -e "$f" ] || { echo "serve_side_by_side: $f is missing" >&2; exit 1; }
done
mkdir -p "$OUT/adapters"
SPECS=(a0:SST-2:1 a1:MRPC:1 a2:CoLA:1 a3:RTE:1 a4:WNLI:1 a5:SST-2:2 a6:MRPC:2 a7:CoLA:2)
NAMES=() SERVE_ARGS=() PEFT_ARGS=()
for spec in "${SPECS[@]}"; do
  IFS=: read -r name task seed <<<"$spec"
  dir="$OUT/adapters/$name"
  if [ ! -f "$dir/adapter/adapter_model.safetensors" ]; then
    echo "training adapter $name ($task, seed $seed)" >&2
    "$LORA" train --model "$MODEL" --task "$task" --data "$DATA" --method lora --epochs 1 --batch-size 16 \
      --max-train-examples 128 --max-dev-examples 32 --seed "$seed" --out "$dir" --force > "$dir.log" 2>&1
  fi
  NAMES+=("$name"); SERVE_ARGS+=(--adapter "$name=$dir/adapter"); PEFT_ARGS+=(--adapter "$name=$dir/adapter")
done
ADAPTERS=$(IFS=,; echo "${NAMES[*]}")
SENTENCES="$DATA/SST-2/dev.tsv"

[ -n "$CORE" ] && export OPENBLAS_CORETYPE=$CORE
echo "our side: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}" >&2
start_server() {  # sets $url and $pid
  "$LORA" serve --model "$MODEL" "${SERVE_ARGS[@]}" --port 0 > "$OUT/serve.out" 2> "$OUT/serve.err" &
  pid=$!
  for _ in $(seq 1 300); do
    if grep -q "listening on" "$OUT/serve.out" 2>/dev/null; then url=$(grep -o 'http://[^ ]*' "$OUT/serve.out"); return; fi
    sleep 0.1
  done
  echo "serve_side_by_side: the server did not start; see $OUT/serve.err" >&2; exit 1
}
stop_server() {
  kill -TERM "$pid"
  local rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { echo "serve_side_by_side: the server exited with $rc after SIGTERM" >&2; exit 1; }
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

for r in $(seq 1 "$ROUNDS"); do
  start_server
  python3 scripts/bench/serve_load.py --url "$url" --adapters "$ADAPTERS" --data "$SENTENCES" --clients "$CLIENTS" \
    --requests "$REQUESTS" --warmup 64 --inputs-per-request "$INPUTS" --json "$OUT/ours-$r.json" >&2
  curl -s "$url/metrics" > "$OUT/metrics-$r.txt"
  if [ "$r" = 1 ]; then
    before=$(rss_kb "$pid")
    for i in $(seq 1 32); do
      src="$OUT/adapters/a$(( i % 8 ))/adapter"
      curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/adapters" -d "{\"name\": \"copy$i\", \"path\": \"$src\"}" | grep -q 201 \
        || { echo "serve_side_by_side: loading copy$i failed" >&2; exit 1; }
    done
    after=$(rss_kb "$pid"); bytes=$(stat -c %s "$OUT/adapters/a0/adapter/adapter_model.safetensors")
    echo "{\"rss_before_kb\": $before, \"rss_after_kb\": $after, \"adapters_loaded\": 32, \"adapter_file_bytes\": $bytes}" > "$OUT/memory.json"
  fi
  stop_server
  "$PY" scripts/bench/peft_mixed_batch.py --model "$MODEL" "${PEFT_ARGS[@]}" --data "$SENTENCES" --batch "$CLIENTS" \
    --requests "$REQUESTS" --warmup 64 --threads 2 --inputs-per-request "$INPUTS" --json "$OUT/peft-$r.json" >&2
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(side): return [json.load(open(f"{out}/{side}-{r}.json")) for r in range(1, rounds + 1)]
ours, peft = load("ours"), load("peft")
med = lambda runs, k: statistics.median(x[k] for x in runs)
print("| side | requests/s | sequences/s | p50 ms | p95 ms | p99 ms |")
print("|---|---:|---:|---:|---:|---:|")
for name, runs in (("lora serve (HTTP, 127.0.0.1)", ours), ("PyTorch + PEFT adapter_names= (in process)", peft)):
    print(f"| {name} | {med(runs,'requests_per_s'):.1f} | {med(runs,'sequences_per_s'):.1f} | {med(runs,'p50_ms'):.1f} | {med(runs,'p95_ms'):.1f} | {med(runs,'p99_ms'):.1f} |")
print(f"\nthroughput ratio (medians): {med(ours,'requests_per_s') / med(peft,'requests_per_s'):.2f}x; rounds: "
      + ", ".join(f"{o['requests_per_s']:.0f}/{p['requests_per_s']:.0f}" for o, p in zip(ours, peft)))
m = json.load(open(f"{out}/memory.json"))
per = (m["rss_after_kb"] - m["rss_before_kb"]) * 1024 / m["adapters_loaded"]
print(f"resident memory per loaded adapter: {per/1e3:.0f} kB ({per / m['adapter_file_bytes']:.2f}x its {m['adapter_file_bytes']/1e3:.0f} kB file)")
PY
