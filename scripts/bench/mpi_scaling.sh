#!/usr/bin/env bash
# Data-parallel training on one machine: 2 processes × 1 thread (mpirun) against 1 process × 2
# threads, LoRA and full fine-tuning, rounds alternating; then a scaling model for N machines.
#
# Usage (from the repository root; paths relative to it):
#
#   scripts/bench/mpi_scaling.sh [--lora BIN] [--model DIR] [--roberta DIR] [--data DIR]
#                                [--out DIR] [--rounds N] [--steps N]
#
#   --lora BIN     our binary (default .build/release/lora)
#   --model DIR    the measured model (default models/all-MiniLM-L6-v2)
#   --roberta DIR  a RoBERTa-base-shaped checkpoint, timed on one process for the scaling model
#                  (default models/roberta-base-random; skipped when absent)
#   --data DIR     GLUE directory (default ../shared/glue)
#   --out DIR      run directories and the raw figures (default out/mpi-scaling)
#   --rounds N     rounds; each runs every configuration once, in alternating order (default 3)
#   --steps N      optimizer steps per run, SST-2 batches of 16 (default 40)
#
# Each run is `lora train` on SST-2 (batches of 16, max length 128, one epoch of N·16
# examples, 16 dev examples). From its log.jsonl: the median seconds per step (the first 5
# steps left out) and, under mpirun, the median all-reduce seconds per step (`allreduce_seconds`:
# the time in MPI calls, including waiting for the slower process). The table shows the
# medians over rounds. The scaling model takes the measured RoBERTa-base seconds per step and
# the bytes a ring all-reduce sends per process, 2 (N−1)/N × 4 bytes × trainable parameters.
set -euo pipefail
cd "$(dirname "$0")/../.."

lora=.build/release/lora
model=models/all-MiniLM-L6-v2
roberta=models/roberta-base-random
data=../shared/glue
out=out/mpi-scaling
rounds=3
steps=40
while [ $# -gt 0 ]; do
    case "$1" in
        --lora) lora="$2"; shift 2 ;;
        --model) model="$2"; shift 2 ;;
        --roberta) roberta="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        *) echo "mpi_scaling.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
for f in "$lora" "$model/config.json" "$data/SST-2/train.tsv"; do
    [ -e "$f" ] || { echo "mpi_scaling.sh: $f not found" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "mpi_scaling.sh: mpirun not found (scripts/setup.sh installs Open MPI)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mkdir -p "$out"
examples=$((steps * 16))

train() { # NAME METHOD MODEL LAUNCH...
    local name="$1" method="$2" m="$3"; shift 3
    local lr=5e-4; [ "$method" = full ] && lr=2e-5
    rm -rf "$out/$name"
    "$@" "$lora" train --model "$m" --task sst2 --data "$data" --method "$method" --batch-size 16 --epochs 1 \
        --max-length 128 --max-train-examples "$examples" --max-dev-examples 16 --lr "$lr" --out "$out/$name" \
        $threads_flag 2> "$out/$name.stderr" >/dev/null \
        || { echo "mpi_scaling.sh: $name failed; see $out/$name.stderr" >&2; exit 1; }
}

for round in $(seq 1 "$rounds"); do
    for method in lora full; do
        order="single mpi"
        [ $(((round + ${#method}) % 2)) -eq 0 ] && order="mpi single"
        for how in $order; do
            echo "round $round: $method, $how" >&2
            if [ "$how" = single ]; then
                threads_flag="--threads 2"; train "r$round-$method-1x2" "$method" "$model" env
            else
                threads_flag="--threads 1"; train "r$round-$method-2x1" "$method" "$model" mpirun -np 2 --bind-to none
            fi
        done
    done
done
if [ -f "$roberta/config.json" ]; then
    for method in lora full; do
        echo "RoBERTa-base, $method, 1 process × 2 threads" >&2
        threads_flag="--threads 2"
        steps_saved=$examples; examples=$((16 * 12))
        train "roberta-$method-1x2" "$method" "$roberta" env
        examples=$steps_saved
    done
fi

python3 - "$out" "$rounds" "$roberta" <<'EOF'
import json, os, statistics, sys
out, rounds, roberta = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def figures(run):
    steps = [json.loads(l) for l in open(os.path.join(out, run, "log.jsonl")) if '"type":"step"' in l]
    start = next(json.loads(l) for l in open(os.path.join(out, run, "log.jsonl")) if '"type":"start"' in l)
    steps = steps[5:] if len(steps) > 10 else steps
    per_step = statistics.median(s["seconds"] for s in steps)
    reduce = statistics.median(s["allreduce_seconds"] for s in steps) if "allreduce_seconds" in steps[0] else None
    return per_step, reduce, start["trainable_parameters"]

rows = []
print("| method | configuration | seconds per step | all-reduce seconds per step | trainable parameters |")
print("|---|---|---:|---:|---:|")
for method in ("lora", "full"):
    one = [figures(f"r{r}-{method}-1x2") for r in range(1, rounds + 1)]
    two = [figures(f"r{r}-{method}-2x1") for r in range(1, rounds + 1)]
    s1 = statistics.median(f[0] for f in one); s2 = statistics.median(f[0] for f in two)
    ar = statistics.median(f[1] for f in two)
    print(f"| {method} | 1 process × 2 threads | {s1:.4f} | – | {one[0][2]:,} |")
    print(f"| {method} | 2 processes × 1 thread (mpirun) | {s2:.4f} | {ar:.4f} | {two[0][2]:,} |")
    print(f"| {method} | ratio (1×2 / 2×1) | {s1 / s2:.2f}× | | |")

if os.path.exists(os.path.join(out, "roberta-full-1x2", "log.jsonl")):
    print()
    print("Scaling model, RoBERTa-base, SST-2 batches of 16 (global), ring all-reduce, no overlap assumed:")
    print("T(N) = T₁/N + 2 (N−1)/N · 4 P / bandwidth, with T₁ this machine's measured seconds per step.")
    print()
    print("| method | trainable P | bytes per step (4 P) | T₁ (s) | N | all-reduce at 10 Gbit/s (s) | T(N) at 10 Gbit/s | all-reduce at 25 Gbit/s (s) | T(N) at 25 Gbit/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method in ("lora", "full"):
        t1, _, p = figures(f"roberta-{method}-1x2")
        for n in (2, 4, 8, 16):
            cells = []
            for gbit in (10, 25):
                ar = 2 * (n - 1) / n * 4 * p / (gbit * 1e9 / 8)
                cells += [f"{ar:.4f}", f"{t1 / n + ar:.3f} ({t1 / (t1 / n + ar):.1f}×)"]
            print(f"| {method} | {p:,} | {4 * p / 1e6:.1f} MB | {t1:.3f} | {n} | " + " | ".join(cells) + " |")
EOF
