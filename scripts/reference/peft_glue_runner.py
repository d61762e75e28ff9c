#!/usr/bin/env python3
"""LoRA (PEFT) and full fine-tuning reference runs on GLUE, driven by a plan file.

The plan is what `lora reproduce --print-plan` writes:

    {"runs": [{"task": "MRPC", "method": "lora", "epochs": 3, "batch_size": 16,
               "learning_rate": 4e-4, "weight_decay": 0.01, "warmup_ratio": 0.06,
               "max_length": 128, "max_train_examples": 4000, "max_dev_examples": null,
               "seed": 42, "max_grad_norm": 1.0, "evals_per_epoch": 1,
               "lora": {"r": 8, "alpha": 8, "dropout": 0.0, "targets": ["query", "value"]}}]}

Usage (from the repository root):

    ../refenv/bin/python scripts/reference/peft_glue_runner.py \
        --model models/all-MiniLM-L6-v2 --data ../shared/glue \
        --plan plan.json --out results.json [--methods lora,full] [--tasks MRPC,RTE] [--resume]

    python3 scripts/reference/peft_glue_runner.py --self-test   # checks the eval schedule (no torch)

What one run does (an HF-Trainer-like loop, written out so that every choice is visible):

- Data: the task's train.tsv / dev.tsv read with `csv.QUOTE_NONE` (UTF-8, BOM stripped); the
  FIRST `max_train_examples` rows in file order (and the first `max_dev_examples` dev rows
  when set). Columns and labels as in the GLUE processors (RTE: entailment = 0,
  not_entailment = 1; STS-B: float score, regression with one output).
- Tokenizer: `AutoTokenizer.from_pretrained(model)`, pairs where the task has two sentences,
  `truncation=True` (longest_first), `max_length`. Batches are padded to their longest
  sequence (as `DataCollatorWithPadding`).
- Model: `torch.manual_seed(seed)` then
  `AutoModelForSequenceClassification.from_pretrained(model, num_labels, attn_implementation="eager")`.
  LoRA: `get_peft_model(model, LoraConfig(task_type=SEQ_CLS, r, lora_alpha, lora_dropout,
  target_modules))` (PEFT also trains the classifier head: modules_to_save).
- Optimizer: `torch.optim.AdamW(lr, betas (0.9, 0.999), eps 1e-8)` with two groups exactly as
  HF Trainer builds them (`Trainer.get_decay_parameter_names`: no decay for biases and
  LayerNorm weights), over trainable parameters only.
- Schedule: `get_linear_schedule_with_warmup`, total = epochs * ceil(n_train / batch_size)
  (the last batch of an epoch may be short), warm-up = ceil(warmup_ratio * total).
- Each step: `model.train()` (dropout on), loss from the model (cross-entropy, or MSE for
  STS-B), backward, `clip_grad_norm_(max_grad_norm)`, optimizer step, scheduler step.
- Order: epoch e (0-based) visits `torch.randperm(n, generator=torch.Generator().manual_seed(seed + e))`.
- Evaluation on the dev rows (eval mode, batches of 64, no grad) `evals_per_epoch` (E, default 1
  when absent) times per epoch, where the Swift trainer evaluates: with S = ceil(n_train /
  batch_size) steps per epoch, after the epoch's step b (1-based) = (j * S) // E for j = 1 … E−1
  (integer division; b = 0 never happens), and always at the epoch's end (b = S); a point that
  coincides with another is evaluated once (`eval_points`). An eval's `epoch` is the fractional
  position epoch_index + b / S (0-based epoch index), so epoch ends are 1, 2, ... as with E = 1.
  Metrics: accuracy (SST-2, MRPC, RTE, WNLI; MRPC also f1 of class 1), matthews_correlation
  (CoLA, sklearn), pearson (STS-B, scipy; also spearman). The primary one is `score`.

Output (`--out`, rewritten atomically after every run, so a partial file is usable; with
`--resume`, runs already there with the same task, method and seed are skipped):

    {"runs": [{"task", "method", "best_score", "metric", "best_epoch",
               "evals": [{"epoch", "score", "train_seconds", "metrics": {...}}],
               "train_seconds", "epochs", "trainable_parameters", "seed",
               "steps", "train_examples", "dev_examples", "config": <the plan entry>}],
     "versions": {...}, "command": "..."}

`best_score` and every score are on the raw 0..1 (or -1..1) scale; `best_epoch` is the `epoch`
of the first eval that reaches the best score (1-based epoch ends: 1, 2, ...; mid-epoch evals
fractional, e.g. 0.4987 for step 187 of 375); `train_seconds` is cumulative training time
without evaluation.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time

# --------------------------------------------------------------------------------------------
# GLUE tasks (importable without torch: scripts/bench/pytorch_bench.py uses these readers).

# name -> directory, header?, text A, text B, label column (names, or indices without a
# header), label mapping ("int", "float" or a dict), num_labels, primary metric, all metrics.
TASKS = {
    "SST-2": dict(dir="SST-2", header=True, a="sentence", b=None, label="label",
                  labels="int", num_labels=2, metric="accuracy", metrics=["accuracy"]),
    "CoLA": dict(dir="CoLA", header=False, a=3, b=None, label=1,
                 labels="int", num_labels=2, metric="matthews_correlation",
                 metrics=["matthews_correlation"]),
    "MRPC": dict(dir="MRPC", header=True, a="#1 String", b="#2 String", label="Quality",
                 labels="int", num_labels=2, metric="accuracy", metrics=["accuracy", "f1"]),
    "RTE": dict(dir="RTE", header=True, a="sentence1", b="sentence2", label="label",
                labels={"entailment": 0, "not_entailment": 1}, num_labels=2,
                metric="accuracy", metrics=["accuracy"]),
    "STS-B": dict(dir="STS-B", header=True, a="sentence1", b="sentence2", label="score",
                  labels="float", num_labels=1, metric="pearson", metrics=["pearson", "spearman"]),
    "WNLI": dict(dir="WNLI", header=True, a="sentence1", b="sentence2", label="label",
                 labels="int", num_labels=2, metric="accuracy", metrics=["accuracy"]),
}



# The plan names LoRA targets by their role in a BERT-style layer; PEFT wants module names.
# query/key/value are unambiguous suffixes; the dense layers need whole paths, because
# "output.dense" is also a suffix of "attention.output.dense".
ROLE_PATHS = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
              "attention.output": "attention.output.dense", "intermediate": "intermediate.dense", "output": "output.dense"}


def peft_targets(roles):
    roles = list(roles)
    unknown = [r for r in roles if r not in ROLE_PATHS]
    if unknown:
        raise SystemExit(f"unknown LoRA target(s) {unknown}; known: {sorted(ROLE_PATHS)}")
    if all(r in ("query", "key", "value") for r in roles):
        return roles
    return r".*\.layer\.\d+\.(" + "|".join(ROLE_PATHS[r].replace(".", r"\.") for r in roles) + ")"

def canonical_task(name: str) -> str:
    key = name.replace("-", "").replace("_", "").lower()
    aliases = {"sst2": "SST-2", "cola": "CoLA", "mrpc": "MRPC", "rte": "RTE", "stsb": "STS-B",
               "sts": "STS-B", "wnli": "WNLI"}
    if key not in aliases:
        raise SystemExit(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return aliases[key]


def read_task(data_dir: str, task: str, split: str, limit: int | None = None):
    """Rows of `split` ("train" or "dev") in file order: a list of (text_a, text_b or None, label)."""
    spec = TASKS[canonical_task(task)]
    path = os.path.join(data_dir, spec["dir"], f"{split}.tsv")
    if not os.path.isfile(path):
        raise SystemExit(f"missing GLUE file {path}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = iter(reader)
        if spec["header"]:
            header = next(rows)
            index = {name: i for i, name in enumerate(header)}
            col = lambda c: index[c]  # noqa: E731
        else:
            header = None
            col = lambda c: c  # noqa: E731
        ia, il = col(spec["a"]), col(spec["label"])
        ib = col(spec["b"]) if spec["b"] is not None else None
        out = []
        for line_no, row in enumerate(rows, start=2 if header else 1):
            if limit is not None and len(out) >= limit:
                break
            if not row:
                continue
            raw = row[il].strip()
            if spec["labels"] == "int":
                label = int(raw)
            elif spec["labels"] == "float":
                label = float(raw)
            else:
                label = spec["labels"][raw]
            out.append((row[ia], row[ib] if ib is not None else None, label))
    return out


def tokenize_rows(tokenizer, rows, max_length: int):
    """Token features per row (unpadded dicts of lists), labels kept alongside."""
    a = [r[0] for r in rows]
    b = [r[1] for r in rows] if rows and rows[0][1] is not None else None
    enc = tokenizer(a, b, truncation=True, max_length=max_length) if b is not None \
        else tokenizer(a, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(len(rows))], [r[2] for r in rows]


def pad_batch(features, pad_id: int):
    """Pads to the batch's longest sequence, as DataCollatorWithPadding does (right padding)."""
    import torch

    longest = max(len(f["input_ids"]) for f in features)
    batch = {}
    for key in features[0]:
        fill = pad_id if key == "input_ids" else 0
        batch[key] = torch.tensor([f[key] + [fill] * (longest - len(f[key])) for f in features],
                                  dtype=torch.long)
    return batch


def compute_metrics(task: str, predictions, labels) -> dict:
    """All metrics of the task (raw scale) from predicted classes (or scores) and labels."""
    spec = TASKS[canonical_task(task)]
    out = {}
    for m in spec["metrics"]:
        if m == "accuracy":
            out[m] = float(sum(int(p == l) for p, l in zip(predictions, labels)) / len(labels))
        elif m == "f1":
            from sklearn.metrics import f1_score
            out[m] = float(f1_score(labels, predictions, pos_label=1, zero_division=0))
        elif m == "matthews_correlation":
            from sklearn.metrics import matthews_corrcoef
            out[m] = float(matthews_corrcoef(labels, predictions))
        elif m == "pearson":
            from scipy.stats import pearsonr
            out[m] = float(pearsonr(predictions, labels)[0])
        elif m == "spearman":
            from scipy.stats import spearmanr
            out[m] = float(spearmanr(predictions, labels)[0])
    # constant predictions make correlations undefined (nan); record them as 0 like HF's matthews
    return {k: (0.0 if v != v else v) for k, v in out.items()}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in ("torch", "transformers", "peft", "numpy", "sklearn", "scipy", "tokenizers"):
        try:
            out[mod if mod != "sklearn" else "scikit-learn"] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            pass
    return out


def write_json_atomic(path: str, obj) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# Evaluation schedule (pure, no torch: `--self-test` checks it).

def eval_points(steps_per_epoch: int, evals_per_epoch: int = 1) -> set[int]:
    """The epoch's 1-based steps after which dev is evaluated, as the Swift trainer does
    (`Trainer.isEvaluationPoint` plus the epoch end): (j * S) // E for j = 1 … E−1, and S."""
    if evals_per_epoch < 1:
        raise ValueError(f"evals_per_epoch must be >= 1, not {evals_per_epoch}")
    if steps_per_epoch < 1:
        return set()
    points = {(j * steps_per_epoch) // evals_per_epoch for j in range(1, evals_per_epoch)}
    return {b for b in points if 1 <= b <= steps_per_epoch} | {steps_per_epoch}


def epoch_position(epoch_index: int, step_in_epoch: int, steps_per_epoch: int):
    """epoch_index (0-based) + b / S, as the Swift trainer's `epochPosition`; the epoch end stays
    the integer epoch_index + 1 (so E = 1 output is unchanged)."""
    if step_in_epoch == steps_per_epoch:
        return epoch_index + 1
    return epoch_index + step_in_epoch / steps_per_epoch


def fmt_epoch(position) -> str:
    return str(position) if isinstance(position, int) else f"{position:.4f}"


def self_test() -> None:
    assert eval_points(375, 2) == {187, 375}, eval_points(375, 2)
    assert eval_points(156, 2) == {78, 156}, eval_points(156, 2)
    assert eval_points(3, 2) == {1, 3}, eval_points(3, 2)
    assert eval_points(1, 2) == {1}, eval_points(1, 2)
    for s in (1, 2, 3, 156, 250, 375):
        assert eval_points(s, 1) == {s}, (s, eval_points(s, 1))
        assert eval_points(s) == {s}
    assert eval_points(10, 3) == {3, 6, 10}, eval_points(10, 3)
    assert eval_points(3, 4) == {1, 2, 3}, eval_points(3, 4)  # E > S: coinciding points once
    assert eval_points(0, 2) == set()
    try:
        eval_points(10, 0)
    except ValueError:
        pass
    else:
        raise AssertionError("evals_per_epoch 0 accepted")
    assert epoch_position(0, 375, 375) == 1 and isinstance(epoch_position(0, 375, 375), int)
    assert epoch_position(2, 156, 156) == 3 and isinstance(epoch_position(2, 156, 156), int)
    assert epoch_position(0, 187, 375) == 187 / 375
    assert epoch_position(1, 78, 156) == 1.5
    assert fmt_epoch(2) == "2" and fmt_epoch(1.5) == "1.5000"
    cwd = os.getcwd()
    cmd = portable_command([os.path.join(cwd, "x.py"), "--plan", os.path.join(tempfile.gettempdir(), "plan-abc.json"), "--out", os.path.join(cwd, "o.json")])
    assert cmd == "python x.py --plan plan.json --out o.json", cmd
    assert "torch" not in sys.modules, "self-test imported torch"
    print("self-test ok", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# One run.

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def optimizer_groups(model, weight_decay: float):
    """Two AdamW groups over trainable parameters, exactly as HF Trainer.create_optimizer."""
    import torch.nn as nn
    from transformers import Trainer

    try:
        decay = set(Trainer.get_decay_parameter_names(None, model))
    except Exception:  # noqa: BLE001  (fallback: the same rule written out)
        from transformers.trainer_pt_utils import get_parameter_names
        patterns = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]
        decay = set(get_parameter_names(model, [nn.LayerNorm], patterns))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [
        {"params": [p for n, p in named if n in decay], "weight_decay": weight_decay},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]


def evaluate(model, task, features, labels, pad_id, device, batch_size=64):
    import torch

    model.eval()
    preds = []
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            batch = {k: v.to(device) for k, v in pad_batch(features[start:start + batch_size], pad_id).items()}
            logits = model(**batch).logits.float().cpu()
            if TASKS[task]["num_labels"] == 1:
                preds.extend(logits[:, 0].tolist())
            else:
                preds.extend(logits.argmax(dim=-1).tolist())
    model.train()
    return compute_metrics(task, preds, labels)


def run_one(entry: dict, args) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    task = canonical_task(entry["task"])
    spec = TASKS[task]
    method = entry["method"]
    seed = int(entry.get("seed", 42))
    epochs = int(entry["epochs"])
    bs = int(entry["batch_size"])
    max_length = int(entry.get("max_length", 128))
    raw_e = entry.get("evals_per_epoch")
    evals_per_epoch = 1 if raw_e is None else int(raw_e)
    if evals_per_epoch < 1 or (raw_e is not None and float(raw_e) != evals_per_epoch):
        raise SystemExit(f"evals_per_epoch must be an integer >= 1 (got {entry.get('evals_per_epoch')!r})")
    device = torch.device(args.device)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train_rows = read_task(args.data, task, "train", entry.get("max_train_examples"))
    dev_rows = read_task(args.data, task, "dev", entry.get("max_dev_examples"))
    train_feats, train_labels = tokenize_rows(tokenizer, train_rows, max_length)
    dev_feats, dev_labels = tokenize_rows(tokenizer, dev_rows, max_length)
    label_dtype = torch.float32 if spec["num_labels"] == 1 else torch.long

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=spec["num_labels"], attn_implementation="eager")
    if method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model
        lc = entry.get("lora") or {}
        model = get_peft_model(model, LoraConfig(
            task_type=TaskType.SEQ_CLS, r=int(lc.get("r", 8)), lora_alpha=lc.get("alpha", 8),
            lora_dropout=float(lc.get("dropout", 0.0)), target_modules=peft_targets(lc.get("targets", ["query", "value"]))))
    elif method not in ("full", "fft"):
        raise SystemExit(f"unknown method {method!r} (lora or full)")
    model.to(device)
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    optimizer = torch.optim.AdamW(optimizer_groups(model, float(entry.get("weight_decay", 0.0))),
                                  lr=float(entry["learning_rate"]), betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(len(train_feats) / bs)
    total_steps = epochs * steps_per_epoch
    warmup = math.ceil(float(entry.get("warmup_ratio", 0.0)) * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    max_grad_norm = entry.get("max_grad_norm", 1.0)
    # mid-epoch eval steps (1-based within the epoch); the epoch end is evaluated after the loop
    mid_epoch_evals = eval_points(steps_per_epoch, evals_per_epoch) - {steps_per_epoch}

    log(f"[{task} {method}] train {len(train_feats)} dev {len(dev_feats)} | epochs {epochs} x "
        f"{steps_per_epoch} steps (batch {bs}), warm-up {warmup} | trainable {trainable:,} | "
        f"lr {entry['learning_rate']} wd {entry.get('weight_decay', 0.0)} seed {seed}"
        + (f" | {evals_per_epoch} evals/epoch after steps {sorted(mid_epoch_evals)} and the end"
           if evals_per_epoch > 1 else ""))

    evals = []
    train_seconds = 0.0

    def dev_eval(position) -> None:
        t_eval = time.perf_counter()
        metrics = evaluate(model, task, dev_feats, dev_labels, pad_id, device)
        evals.append({"epoch": position, "score": metrics[spec["metric"]],
                      "train_seconds": round(train_seconds, 3), "metrics": metrics})
        log(f"[{task} {method}] epoch {fmt_epoch(position)}/{epochs} dev {spec['metric']} "
            f"{metrics[spec['metric']]:.4f} {json.dumps(metrics)} (eval {time.perf_counter() - t_eval:.1f} s)")

    step = 0
    window_tokens, window_loss, window_n, window_t = 0, 0.0, 0, 0.0
    for epoch in range(epochs):
        order = torch.randperm(len(train_feats), generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        for batch_in_epoch, start in enumerate(range(0, len(order), bs), 1):
            idx = order[start:start + bs]
            t0 = time.perf_counter()
            batch = {k: v.to(device) for k, v in pad_batch([train_feats[i] for i in idx], pad_id).items()}
            labels = torch.tensor([train_labels[i] for i in idx], dtype=label_dtype, device=device)
            loss = model(**batch, labels=labels).loss
            loss.backward()
            if max_grad_norm is not None and max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss.item()
            dt = time.perf_counter() - t0
            train_seconds += dt
            step += 1
            window_tokens += int(batch["attention_mask"].sum())
            window_loss += loss_value
            window_n += 1
            window_t += dt
            if step % args.log_every == 0 or step == total_steps:
                eta = (total_steps - step) * train_seconds / step
                log(f"[{task} {method}] step {step}/{total_steps} epoch {epoch + 1} "
                    f"loss {window_loss / window_n:.4f} lr {scheduler.get_last_lr()[0]:.3e} "
                    f"{window_tokens / max(window_t, 1e-9):,.0f} tok/s  {train_seconds / step:.3f} s/step  "
                    f"ETA {fmt_duration(eta)} (+eval)")
                window_tokens, window_loss, window_n, window_t = 0, 0.0, 0, 0.0
            if batch_in_epoch in mid_epoch_evals:
                dev_eval(epoch_position(epoch, batch_in_epoch, steps_per_epoch))
        dev_eval(epoch + 1)  # the epoch end (b == S)

    best = max(evals, key=lambda e: e["score"])  # max() keeps the first of equal scores
    return {"task": task, "method": "full" if method == "fft" else method,
            "best_score": best["score"], "metric": spec["metric"], "best_epoch": best["epoch"],
            "evals": evals, "train_seconds": round(train_seconds, 3), "epochs": epochs,
            "trainable_parameters": trainable, "seed": seed, "steps": total_steps,
            "train_examples": len(train_feats), "dev_examples": len(dev_feats), "config": entry}


def portable_command(argv) -> str:
    """The command line as another machine could type it: `python`, the script relative to the
    working directory, paths inside it relative, and the plan (usually a temporary file written
    by `lora reproduce --print-plan`) as `plan.json`."""
    out = ["python", os.path.relpath(argv[0])]
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--plan" and i + 1 < len(args):
            out += [a, "plan.json"]
            i += 2
            continue
        if a.startswith("--plan="):
            out.append("--plan=plan.json")
        elif os.path.isabs(a) and not os.path.relpath(a).startswith(".."):
            out.append(os.path.relpath(a))
        else:
            out.append(a)
        i += 1
    return shlex.join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    needed = "--self-test" not in sys.argv[1:]
    ap.add_argument("--model", required=needed, help="HF model directory (config, weights, tokenizer files)")
    ap.add_argument("--data", required=needed, help="GLUE directory (glue_data layout)")
    ap.add_argument("--plan", required=needed, help="plan.json from `lora reproduce --print-plan`")
    ap.add_argument("--out", required=needed, help="results JSON, rewritten atomically after each run")
    ap.add_argument("--methods", help="comma-separated subset of methods (lora,full)")
    ap.add_argument("--tasks", help="comma-separated subset of tasks")
    ap.add_argument("--resume", action="store_true", help="skip runs (task, method, seed) already in --out")
    ap.add_argument("--log-every", type=int, default=50, help="progress line every N steps (stderr)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the evaluation schedule (eval_points) and exit; needs no torch")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.plan) as f:
        plan = json.load(f)
    runs = plan["runs"] if isinstance(plan, dict) else plan
    if args.methods:
        keep = {("full" if m.strip() == "fft" else m.strip()) for m in args.methods.split(",")}
        runs = [r for r in runs if ("full" if r["method"] == "fft" else r["method"]) in keep]
    if args.tasks:
        keep = {canonical_task(t.strip()) for t in args.tasks.split(",")}
        runs = [r for r in runs if canonical_task(r["task"]) in keep]

    results = {"runs": [], "versions": versions(), "command": portable_command(sys.argv)}
    if args.resume and os.path.exists(args.out):
        with open(args.out) as f:
            previous = json.load(f)
        results["runs"] = previous.get("runs", [])
    done = {(canonical_task(r["task"]), "full" if r["method"] == "fft" else r["method"],
             int(r.get("seed", (r.get("config") or {}).get("seed", 42)))) for r in results["runs"]}

    log(f"{len(runs)} run(s); torch threads {torch.get_num_threads()}; model {args.model}")
    for i, entry in enumerate(runs, 1):
        key = (canonical_task(entry["task"]), "full" if entry["method"] == "fft" else entry["method"],
               int(entry.get("seed", 42)))
        if key in done:
            log(f"run {i}/{len(runs)} {key} already in {args.out}: skipped")
            continue
        log(f"run {i}/{len(runs)}: {key}")
        record = run_one(entry, args)
        results["runs"].append(record)
        done.add(key)
        write_json_atomic(args.out, results)
        log(f"run {i}/{len(runs)} done: best {record['metric']} {record['best_score']:.4f} at epoch "
            f"{fmt_epoch(record['best_epoch'])}, {record['train_seconds']:.1f} s training -> {args.out}")
    write_json_atomic(args.out, results)


if __name__ == "__main__":
    main()
