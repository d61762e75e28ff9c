#!/usr/bin/env python3
# PyTorch + PEFT baseline for `lora serve`: serve_load.py's workload as mixed-adapter batches in one process, no HTTP.
"""The `lora serve` workload through PyTorch + PEFT mixed-adapter batches: PEFT's best case.

Usage (from the repository root, with the reference venv):

    PY=../refenv/bin/python
    $PY scripts/bench/peft_mixed_batch.py --model models/all-MiniLM-L6-v2 \
        --adapter sst2=runs/sst2/peft --adapter mrpc=runs/mrpc/peft \
        --data ../shared/glue/SST-2/dev.tsv --batch 16 --requests 2000 --warmup 64 \
        --json results/peft_mixed_batch.json --dump-logits results/peft_logits.jsonl

The requests are those of scripts/bench/serve_load.py (its sentence reading and request mapping
are imported from it): request i (a global index) goes to adapter i % n, in the order the
--adapter options are given, and carries --inputs-per-request sentences starting at sentence
(i * inputs_per_request) % len of the TSV's `sentence` column. Requests 0 .. warmup-1 are a
warm-up (not counted), then requests warmup .. warmup+requests-1 are counted.

The --batch concurrent clients of the server are modelled as consecutive batches of --batch
requests (the last one may be smaller), each one forward pass over all its sequences with the
adapters mixed row by row: tokenizer(texts, padding=True, truncation=True, max_length=...), then
model(**enc, adapter_names=[one name per row]) under torch.inference_mode() in model.eval(),
then the logits as Python floats. No HTTP, no JSON, no queueing: PEFT's best case.

The model is AutoModelForSequenceClassification.from_pretrained(--model, num_labels=...) with the
first adapter loaded by PeftModel.from_pretrained and the others by load_adapter. The adapters are
PEFT LoRA directories whose classifier is in modules_to_save (PEFT's default for SEQ_CLS), so each
row gets its own adapter's LoRA deltas and its own adapter's classifier head.

Timing: time.perf_counter around each batch (tokenization + forward + logits to lists); every
request of a batch has that batch's latency. Wall time = the counted batches from the first start
to the last end. p50/p95/p99 are nearest-rank percentiles over the counted requests. The JSON has
the same keys as serve_load.py's (here `clients` = --batch; errors are always 0).

--dump-logits FILE writes one JSON line per request for the first 32 requests (warm-up included):
{"index": i, "adapter": NAME, "inputs": [TEXT, ...], "tokens": N, "logits": [...]}, where tokens
(special tokens included, after truncation) and logits are the row's with --inputs-per-request 1,
else one per input.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_load import percentile, read_sentences, request_for  # noqa: E402  (the shared workload)

DUMP_REQUESTS = 32


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="serve_load.py's workload through PyTorch + PEFT mixed-adapter batches (no HTTP).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="base checkpoint directory (BERT family)")
    p.add_argument("--adapter", action="append", required=True, metavar="NAME=DIR",
                   help="a PEFT LoRA adapter directory under a name; repeat for each adapter")
    p.add_argument("--data", required=True,
                   help="GLUE SST-2 style TSV with a header and a `sentence` column")
    p.add_argument("--batch", type=int, default=16,
                   help="requests per batch (the number of concurrent clients it models)")
    p.add_argument("--requests", type=int, default=2000, help="counted requests in total")
    p.add_argument("--warmup", type=int, default=64, help="requests run first and not counted")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--inputs-per-request", type=int, default=1, help="sentences per request")
    p.add_argument("--max-length", type=int, default=128, help="tokenizer truncation length")
    p.add_argument("--num-labels", type=int, default=2, help="outputs of the classifier head")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON to this file")
    p.add_argument("--dump-logits", metavar="FILE",
                   help=f"write the logits of the first {DUMP_REQUESTS} requests as JSON lines")
    args = p.parse_args(argv)
    args.adapters = []
    for spec in args.adapter:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            p.error(f"--adapter: expected NAME=DIR, got {spec!r}")
        if name in (a for a, _ in args.adapters):
            p.error(f"--adapter: {name!r} given twice")
        args.adapters.append((name, path))
    for opt in ("batch", "requests", "threads", "inputs_per_request", "max_length", "num_labels"):
        if getattr(args, opt) < 1:
            p.error(f"--{opt.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must not be negative")
    return args


def load_model(args):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)  # the base model's own (unused) classifier head is freshly initialised
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    base = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=args.num_labels)
    (first, first_dir), rest = args.adapters[0], args.adapters[1:]
    model = PeftModel.from_pretrained(base, first_dir, adapter_name=first)
    for name, path in rest:
        model.load_adapter(path, adapter_name=name)
    model.eval()
    # Every adapter should carry its own head; a row whose adapter has none would not get one.
    heads = set()
    for module in model.modules():
        if hasattr(module, "modules_to_save") and hasattr(module, "original_module"):
            heads |= set(module.modules_to_save.keys())
    missing = [n for n, _ in args.adapters if n not in heads]
    if missing:
        print(f"peft_mixed_batch: warning: no modules_to_save head in adapter(s) {', '.join(missing)}",
              file=sys.stderr)
    return tokenizer, model


def main(argv=None):
    args = parse_args(argv)
    try:
        sentences = read_sentences(args.data)
    except (OSError, ValueError) as e:
        print(f"peft_mixed_batch: {e}", file=sys.stderr)
        return 2

    import peft
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    tokenizer, model = load_model(args)
    names = [n for n, _ in args.adapters]
    ipr = args.inputs_per_request
    dumped = []

    def run(start, end):
        """Requests start..end-1 in batches; (first start, last end, per-request latencies in s)."""
        latencies = []
        first = last = None
        for b in range(start, end, args.batch):
            idx = list(range(b, min(b + args.batch, end)))
            reqs = [request_for(i, names, sentences, ipr) for i in idx]
            texts = [t for _, ts in reqs for t in ts]
            row_adapters = [a for a, ts in reqs for _ in ts]
            t0 = time.perf_counter()
            enc = tokenizer(texts, padding=True, truncation=True, max_length=args.max_length,
                            return_tensors="pt")
            with torch.inference_mode():
                logits = model(**enc, adapter_names=row_adapters).logits
            rows = logits.float().tolist()
            t1 = time.perf_counter()
            first = t0 if first is None else first
            last = t1
            latencies.extend([t1 - t0] * len(idx))
            if idx[0] < DUMP_REQUESTS:
                lengths = enc["attention_mask"].sum(dim=1).tolist()
                for k, i in enumerate(idx):
                    if i < DUMP_REQUESTS:
                        own = slice(k * ipr, (k + 1) * ipr)
                        dumped.append({"index": i, "adapter": reqs[k][0], "inputs": reqs[k][1],
                                       "tokens": lengths[own][0] if ipr == 1 else lengths[own],
                                       "logits": rows[own][0] if ipr == 1 else rows[own]})
        return first, last, latencies

    run(0, args.warmup)
    first, last, latencies = run(args.warmup, args.warmup + args.requests)

    lat_ms = sorted(x * 1000.0 for x in latencies)
    wall = last - first
    ok = len(latencies)
    r = {
        "tool": "peft_mixed_batch",
        "model": args.model,
        "adapters": names,
        "clients": args.batch,
        "batch": args.batch,
        "inputs_per_request": ipr,
        "warmup": args.warmup,
        "requests": ok,
        "requests_planned": args.requests,
        "ok": ok,
        "errors": 0,
        "warmup_errors": 0,
        "stopped_by_duration": False,
        "wall_s": round(wall, 6),
        "requests_per_s": round(ok / wall, 3) if wall > 0 else None,
        "sequences_per_s": round(ok * ipr / wall, 3) if wall > 0 else None,
        "p50_ms": round(percentile(lat_ms, 50), 3),
        "p95_ms": round(percentile(lat_ms, 95), 3),
        "p99_ms": round(percentile(lat_ms, 99), 3),
        "max_ms": round(lat_ms[-1], 3),
        "mean_ms": round(sum(lat_ms) / len(lat_ms), 3),
        "error_samples": [],
        "threads": args.threads,
        "max_length": args.max_length,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "peft": peft.__version__},
    }
    print(f"peft_mixed_batch: {ok} requests, {wall:.2f} s, {r['requests_per_s']:.1f} req/s, "
          f"{r['sequences_per_s']:.1f} seq/s; latency ms p50 {r['p50_ms']:.1f} p95 {r['p95_ms']:.1f} "
          f"p99 {r['p99_ms']:.1f} max {r['max_ms']:.1f} (batches of {args.batch}, {len(names)} adapters, "
          f"{ipr} inputs/request, {args.threads} threads)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
    if args.dump_logits:
        with open(args.dump_logits, "w", encoding="utf-8") as f:
            for d in sorted(dumped, key=lambda d: d["index"]):
                f.write(json.dumps(d) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
