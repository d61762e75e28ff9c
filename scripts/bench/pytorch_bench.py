#!/usr/bin/env python3
"""The PyTorch + PEFT side of `lora bench train|infer`: same workloads, same JSON keys.

Usage (from the repository root, with the reference venv):

    PY=../refenv/bin/python
    # training, fixed shape: random token ids, exactly SEQ tokens per sequence (no padding)
    $PY scripts/bench/pytorch_bench.py train --model models/all-MiniLM-L6-v2 --method lora --batch 16 --seq 128
    # training on GLUE: the first WARMUP+STEPS batches of BATCH training rows in file order
    # (warm-up on the first WARMUP of them), each padded to its longest sequence
    # (DataCollatorWithPadding), max_length 128
    $PY scripts/bench/pytorch_bench.py train --model DIR --method full --task MRPC --data ../shared/glue
    # inference: the whole dev set in batches of 32 (file order, padded per batch), or a fixed shape
    $PY scripts/bench/pytorch_bench.py infer --model DIR --batch 32 --task MRPC --data ../shared/glue
    $PY scripts/bench/pytorch_bench.py infer --model DIR --batch 1 --seq 128

Options (as `lora bench`): --batch (default 16), --seq (default 128; ignored with --task),
--task/--data, --max-length (default 128), --steps N (timed steps, default 5), --warmup N
(untimed steps first, default 1), --threads N (torch.set_num_threads, default 2), --dropout
default|P (P sets hidden and attention dropout; the classifier follows the hidden one).
PyTorch only: --fused-adamw (torch.optim.AdamW(fused=True)), --attn sdpa|eager (default sdpa,
what transformers picks by default), --no-profile (skip the gemm_share pass), --in-process
(do not spawn a child; peak RSS is then this process's).

Each workload runs in a fresh child process (this script re-executed with --in-process), so that
`peak_rss_mib` (ru_maxrss of that child, from wait4) covers that workload alone. It includes the
Python interpreter, torch and transformers themselves. One JSON object is printed per workload.

Definitions (the same as Sources/lora/ModelBench.swift):
- train step = zero_grad + forward + loss + backward + clip_grad_norm_(1.0) + AdamW step, in
  model.train() mode. LoRA = PEFT LoraConfig(SEQ_CLS, r=8, lora_alpha=8, lora_dropout=0,
  target_modules = the family's default on our side: query,value; q_lin,v_lin for DistilBERT,
  Wqkv for ModernBERT) (the classifier head is trained too, as PEFT does); full =
  every parameter. AdamW groups as HF Trainer (no decay on biases and LayerNorm weights).
  `s_per_step` = median step time; `tokens_per_s` = sum of tokens / sum of step times over
  the timed steps; `gflops` = sum of FLOPs / sum of step times.
- infer step = one pass over all the batches (the whole dev set with --task; one batch for a
  fixed shape), model.eval() under torch.inference_mode. A merged LoRA model is the plain model,
  so the base model is run. `s_per_step` = median pass time; `tokens_per_s` = tokens of a pass /
  s_per_step; `gflops` = FLOPs of a pass / s_per_step.
- Tokens: `tokens_per_s` counts every token PyTorch computes, padding included;
  `useful_tokens_per_s` counts only real tokens (what the packed Swift side's tokens_per_s
  counts, so compare that one on --task workloads). FLOPs are those of the matrix products
  PyTorch actually runs for each padded batch shape (backward only where autograd needs it),
  counted by torch.utils.flop_counter.FlopCounterMode on a meta-device copy of the model.
- `gemm_share` = self time of aten::mm/addmm/bmm/baddbmm / wall time, over one extra profiled
  step (torch.profiler); null with --no-profile or if profiling fails. With --attn sdpa the fused
  attention kernel is not counted as GEMM time.
- `peak_rss_mib`: see above. Also reported: the step times, padded/useful token counts, etc.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
from peft_glue_runner import TASKS, canonical_task, optimizer_groups, pad_batch, read_task, tokenize_rows, versions  # noqa: E402

GEMM_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="workload", required=True)
    for name in ("train", "infer"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        if name == "train":
            p.add_argument("--method", choices=["lora", "full"], required=True)
            p.add_argument("--fused-adamw", action="store_true")
        p.add_argument("--batch", type=int, default=16, help="sequences per batch (default 16)")
        p.add_argument("--seq", type=int, default=128, help="fixed shape: random ids, exactly SEQ tokens each")
        p.add_argument("--task", help="GLUE task (with --data) instead of a fixed shape")
        p.add_argument("--data", help="GLUE directory")
        p.add_argument("--max-length", type=int, default=128, help="with --task (default 128)")
        p.add_argument("--dropout", default="default", help="default (the model's) or a probability")
        p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
        p.add_argument("--warmup", type=int, default=1, help="untimed steps before timing (default 1)")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa")
        p.add_argument("--no-profile", action="store_true", help="skip the gemm_share measurement")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.task and not args.data:
        ap.error("--task needs --data")
    if args.task:
        args.task = canonical_task(args.task)
        args.seq = None
    if args.dropout != "default":
        try:
            p = float(args.dropout)
        except ValueError:
            p = -1.0
        if not 0 <= p < 1:
            ap.error("--dropout must be 'default' or a probability")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    return args


# --------------------------------------------------------------------------------------------

def make_batches(args, tokenizer, config, torch):
    """List of (batch dict, labels, useful tokens): train, warmup + steps batches (fixed shape:
    distinct random ones); infer, one fixed-shape batch or the whole dev set."""
    num_labels = TASKS[args.task]["num_labels"] if args.task else 2
    label_dtype = torch.float32 if num_labels == 1 else torch.long
    out = []
    if args.seq is not None:
        g = torch.Generator().manual_seed(args.seed)
        pad = config.pad_token_id if config.pad_token_id is not None else 0
        n = args.warmup + args.steps if args.workload == "train" else 1
        for _ in range(n):
            # ordinary ids only, as our side draws them: >= 3 for RoBERTa, >= 1000 for BERT
            low = 3 if config.model_type == "roberta" else 1000
            ids = torch.randint(low, config.vocab_size, (args.batch, args.seq), generator=g)
            ids[ids == pad] = low
            batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            if getattr(config, "type_vocab_size", 1) > 1:
                batch["token_type_ids"] = torch.zeros_like(ids)
            labels = torch.randint(0, num_labels, (args.batch,), generator=g) if num_labels > 1 \
                else torch.rand(args.batch, generator=g) * 5
            out.append((batch, labels.to(label_dtype), args.batch * args.seq))
        return out
    split = "train" if args.workload == "train" else "dev"
    limit = args.batch * (args.warmup + args.steps) if split == "train" else None
    rows = read_task(args.data, args.task, split, limit)
    if not rows:
        raise SystemExit(f"{args.task}: no {split} rows")
    feats, labels = tokenize_rows(tokenizer, rows, args.max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(feats), args.batch):
        chunk = feats[start:start + args.batch]
        batch = pad_batch(chunk, pad)
        out.append((batch, torch.tensor(labels[start:start + args.batch], dtype=label_dtype),
                    sum(len(f["input_ids"]) for f in chunk)))
    return out


def build_model(args, config_kwargs, device, torch):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if device == "meta":
        config = AutoConfig.from_pretrained(args.model, **config_kwargs)
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(config, attn_implementation=args.attn)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            args.model, attn_implementation=args.attn, **config_kwargs)
    if args.workload == "train" and args.method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model
        # The family's default targets on our side (PEFT has none for DistilBERT and ModernBERT).
        targets = {"distilbert": ["q_lin", "v_lin"], "modernbert": ["Wqkv"]}.get(model.config.model_type, ["query", "value"])
        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=8,
                                                 lora_dropout=0.0, target_modules=targets))
    return model


def count_flops(args, config_kwargs, shapes, num_labels, torch):
    """FLOPs of one step per (batch, length) shape, from a meta-device model (no real compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(args, config_kwargs, "meta", torch)
    model.train(args.workload == "train")
    flops = {}
    for b, l in sorted(shapes):
        ids = torch.full((b, l), 5, dtype=torch.long, device="meta")
        labels = torch.zeros(b, dtype=torch.long if num_labels > 1 else torch.float32, device="meta")
        counter = FlopCounterMode(display=False)
        with counter:
            if args.workload == "train":
                model(input_ids=ids, labels=labels).loss.backward()
                model.zero_grad(set_to_none=True)
            else:
                with torch.inference_mode():
                    model(input_ids=ids)
        flops[(b, l)] = counter.get_total_flops()
    del model
    return flops


def run_workload(args) -> dict:
    import torch
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    num_labels = TASKS[args.task]["num_labels"] if args.task else 2
    config_kwargs = {"num_labels": num_labels}
    if args.dropout != "default":
        p = float(args.dropout)
        config_kwargs.update(hidden_dropout_prob=p, attention_probs_dropout_prob=p)
    config = AutoConfig.from_pretrained(args.model, **config_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(args.model) if args.task else None

    batches = make_batches(args, tokenizer, config, torch)
    train = args.workload == "train"
    if train:
        warm, timed = batches[:args.warmup], batches[args.warmup:]
        if not timed:
            raise SystemExit(f"{args.task}: only {len(batches)} batches, none left after {args.warmup} warm-up")
    shapes = {tuple(b["input_ids"].shape) for b, _, _ in batches}
    flops = count_flops(args, config_kwargs, shapes, num_labels, torch)

    model = build_model(args, config_kwargs, "cpu", torch)
    if train:
        model.train()
        lr = 4e-4 if args.method == "lora" else 2e-5
        optimizer = torch.optim.AdamW(optimizer_groups(model, 0.01), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                      **({"fused": True} if args.fused_adamw else {}))
        params = [p for p in model.parameters() if p.requires_grad]
        trainable = sum(p.numel() for p in params)

        def step(items):  # one training step on one batch
            (batch, labels, _), = items
            optimizer.zero_grad(set_to_none=True)
            loss = model(**batch, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            return loss.item()
        warm_items = [[b] for b in warm]
        timed_items = [[b] for b in timed]
    else:
        model.eval()
        trainable = 0

        def step(items):  # one pass over all the batches
            with torch.inference_mode():
                return sum(float(model(**batch).logits.sum()) for batch, _, _ in items)
        warm_items = [batches] * args.warmup
        timed_items = [batches] * args.steps

    for i, items in enumerate(warm_items):
        t0 = time.perf_counter()
        step(items)
        log(f"warm-up {i + 1}/{len(warm_items)}: {time.perf_counter() - t0:.3f} s")
    times, padded, useful, step_flops = [], [], [], []
    for i, items in enumerate(timed_items):
        t0 = time.perf_counter()
        step(items)
        dt = time.perf_counter() - t0
        times.append(dt)
        padded.append(sum(b["input_ids"].numel() for b, _, _ in items))
        useful.append(sum(u for _, _, u in items))
        step_flops.append(sum(flops[tuple(b["input_ids"].shape)] for b, _, _ in items))
        shape = tuple(items[0][0]["input_ids"].shape) if len(items) == 1 else f"{len(items)} batches"
        log(f"step {i + 1}/{len(timed_items)}: {dt:.3f} s  ({shape})  {padded[-1] / dt:,.0f} tok/s  "
            f"{useful[-1] / dt:,.0f} useful tok/s  {step_flops[-1] / dt / 1e9:.1f} GFLOP/s")

    gemm_share = None
    if not args.no_profile:
        try:
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                t0 = time.perf_counter()
                step(timed_items[0])
                wall = time.perf_counter() - t0
            gemm_us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in GEMM_OPS)
            gemm_share = round(min(gemm_us / 1e6 / wall, 1.0), 4)
        except Exception as e:  # noqa: BLE001
            log(f"gemm_share not measured: {e!r}")

    s_per_step = statistics.median(times)
    if train:
        total = sum(times)
        tokens_per_s, useful_per_s, gflops = sum(padded) / total, sum(useful) / total, sum(step_flops) / total / 1e9
        name = (f"train {args.method} {args.task} batches of {args.batch}" if args.task
                else f"train {args.method} {args.batch}x{args.seq}")
    else:
        tokens_per_s, useful_per_s, gflops = padded[0] / s_per_step, useful[0] / s_per_step, step_flops[0] / s_per_step / 1e9
        name = (f"infer {args.task} dev in batches of {args.batch}" if args.task
                else f"infer {args.batch}x{args.seq}")
    return {
        "workload": name,
        "s_per_step": s_per_step,
        "tokens_per_s": tokens_per_s,
        "useful_tokens_per_s": useful_per_s,
        "gflops": gflops,
        "gemm_share": gemm_share,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "side": "pytorch",
        "kind": args.workload,
        "model": os.path.basename(os.path.normpath(args.model)),
        "method": args.method if train else "merged",
        "batch": args.batch,
        "seq": args.seq,
        "task": args.task,
        "dropout": args.dropout,
        "steps": len(times),
        "warmup": len(warm_items),
        "batches_per_step": len(timed_items[0]),
        "threads": torch.get_num_threads(),
        "attn": args.attn,
        "fused_adamw": bool(getattr(args, "fused_adamw", False)),
        "padded_tokens_per_step": statistics.median(padded),
        "useful_tokens_per_step": statistics.median(useful),
        "flops_per_step": statistics.median(step_flops),
        "trainable_parameters": trainable,
        "step_seconds": [round(t, 5) for t in times],
        "versions": versions(),
    }


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.in_process:
        print(json.dumps(run_workload(args)), flush=True)
        return
    # A fresh child per workload: its ru_maxrss is the workload's peak RSS.
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__)] + argv + ["--in-process"],
                            stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stdout.write(stdout)
        raise SystemExit(f"pytorch_bench: workload failed (exit {proc.returncode})")
    result = json.loads(lines[-1])
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
