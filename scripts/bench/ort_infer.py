#!/usr/bin/env python3
"""The ONNX Runtime side of `lora bench infer`: same model, same workloads, fp32 and int8.

Usage (from the repository root, with the reference venv plus onnxruntime, onnx and onnxscript):

    PY=../refenv/bin/python
    # fixed shape: random ids, exactly SEQ tokens per sequence (no padding); median ms per step
    $PY scripts/bench/ort_infer.py models/all-MiniLM-L6-v2 --onnx-dir .build/ort-onnx/all-MiniLM-L6-v2 \\
        --workload fixed --batch 1 --seq 128 --threads 2 --steps 20 --warmup 5 --json
    # the whole GLUE dev set in batches of 32 (file order, each batch padded to its longest);
    # median seconds per pass
    $PY scripts/bench/ort_infer.py models/all-MiniLM-L6-v2 --onnx-dir DIR \\
        --workload dev --task SST-2 --data ../shared/glue --batch 32 --max-length 128 \\
        --threads 2 --steps 3 --warmup 1 --json
    # export, quantise and check only (no timing)
    $PY scripts/bench/ort_infer.py MODEL_DIR --onnx-dir DIR --prepare --json

Export (once; cached in --onnx-dir, redone when the model's files, the number of labels, the
seed, the opset or a library version change, or with --reexport):
- `torch.manual_seed(SEED)`, then `AutoModelForSequenceClassification.from_pretrained(MODEL_DIR,
  num_labels)` in eval mode (num_labels 2, or 1 for STS-B; a head the checkpoint lacks is
  transformers' own random init, as on our side and in pytorch_bench.py).
- `torch.onnx.export` (the dynamo exporter; the TorchScript one if that fails) with dynamic batch
  and sequence axes. Inputs: input_ids, attention_mask, and token_type_ids where the model's
  tokenizer produces them (BERT: yes; RoBERTa: no); output: logits. Opset --opset (default 18).
- `quantize_dynamic(fp32.onnx, int8.onnx, weight_type=QuantType.QInt8, per_channel=True)`
  (per_channel=False if that raises; `per_channel` in the JSON says which). ORT's dynamic
  quantisation only touches MatMuls/Gemms with constant weights (MatMulConstBOnly, its
  default): weights int8 per output channel, activations uint8 per tensor at run time (our
  --int8: per row). By default it also stores the embedding tables in 8 bits (Gather +
  DequantizeLinear; `export.int8_embeddings`) and quantises the pooler and classifier;
  --quantize-ops MatMul,Gemm passes op_types_to_quantize and keeps the embeddings fp32.
- Check: PyTorch and ORT fp32 logits on a few inputs (1x128 unpadded, padded batches of other
  shapes) must agree within --tolerance (default 1e-4), or the script fails; int8's largest
  logit difference from PyTorch is reported (`export.int8_max_abs_diff`).

Sessions: SessionOptions(intra_op_num_threads=THREADS, inter_op_num_threads=1, graph
optimisation ORT_ENABLE_ALL, sequential execution), CPUExecutionProvider. A step is one
session.run per batch; the inputs are numpy int64 arrays built before timing.

Workloads (the same as `lora bench infer`):
- fixed: one batch of BATCH x SEQ random ids (>= 3 for RoBERTa, >= 1000 otherwise, never the
  pad id), mask all ones, type ids zero. `s_per_step` = median step time (`ms_per_step` too).
- dev: the task's whole dev.tsv in file order, in batches of BATCH, tokenised by the model's
  AutoTokenizer (pairs where the task has two sentences, truncation to --max-length) and
  padded to each batch's longest sequence (as DataCollatorWithPadding). Our side packs
  sequences without padding; ORT computes the padding too (that is the point of the
  comparison). A step is one pass over the dev set; `s_per_step` = median pass time.
  `tokens_per_s` counts padded tokens, `useful_tokens_per_s` real ones.

Output: with --json one JSON object on stdout (logs go to stderr):
    {"workload", "side": "onnxruntime", "model", "batch", "seq", "task", "max_length", "threads",
     "steps", "warmup", "batches", "padded_tokens_per_step", "useful_tokens_per_step",
     "export": {...}, "versions": {...}, "peak_rss_mib",
     "fp32": {FIELDS}, "int8": {FIELDS}}
where FIELDS (identical for both) = s_per_step, ms_per_step, step_seconds, tokens_per_s,
useful_tokens_per_s, session_s (session creation), onnx_file, onnx_mib, quantized_nodes,
float_matmuls. --precision fp32 or int8 times only that one (the other key is absent).
`peak_rss_mib` is this process's ru_maxrss: with --workload dev (or an export) it includes
transformers, which imports torch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
from peft_glue_runner import TASKS, canonical_task, read_task, tokenize_rows, write_json_atomic  # noqa: E402

PRECISIONS = ("fp32", "int8")
INPUT_ORDER = ("input_ids", "attention_mask", "token_type_ids")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("model", metavar="MODEL_DIR", help="Hugging Face model directory")
    ap.add_argument("--onnx-dir", required=True, help="where the exported and quantised models are cached")
    ap.add_argument("--workload", choices=["fixed", "dev"], default="fixed")
    ap.add_argument("--batch", type=int, default=None, help="sequences per batch (default 1 fixed, 32 dev)")
    ap.add_argument("--seq", type=int, default=128, help="fixed: tokens per sequence (default 128)")
    ap.add_argument("--task", help="dev: GLUE task (SST-2, MRPC, RTE, STS-B, CoLA, WNLI)")
    ap.add_argument("--data", help="dev: GLUE directory")
    ap.add_argument("--max-length", type=int, default=128, help="dev: truncation length (default 128)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    ap.add_argument("--precision", choices=["both", *PRECISIONS], default="both",
                    help="which model(s) to time (default both, fp32 first)")
    ap.add_argument("--prepare", action="store_true", help="export, quantise and check only")
    ap.add_argument("--reexport", action="store_true", help="ignore the cache")
    ap.add_argument("--quantize-ops", default="default",
                    help="op_types_to_quantize of quantize_dynamic: 'default' (every op it supports: MatMul, Gemm, "
                         "also the embedding Gathers) or a comma-separated list such as MatMul,Gemm (the Linears "
                         "only, as our --int8)")
    ap.add_argument("--opset", type=int, default=18, help="ONNX opset of the export (>= 17; default 18)")
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="largest allowed |ORT fp32 - PyTorch| logit difference (default 1e-4)")
    ap.add_argument("--seed", type=int, default=0, help="head init and random ids (default 0)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.opset < 17:
        ap.error("--opset must be >= 17")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        ap.error(f"model not found: {args.model} (no config.json)")
    if args.task:
        args.task = canonical_task(args.task)
    if args.workload == "dev" and not (args.task and args.data):
        ap.error("--workload dev needs --task and --data")
    if args.workload == "fixed" and args.task and not args.prepare:
        ap.error("--task is for --workload dev")
    if args.batch is None:
        args.batch = 32 if args.workload == "dev" else 1
    if args.batch < 1 or args.seq < 1 or args.max_length < 1 or args.threads < 1:
        ap.error("--batch, --seq, --max-length and --threads must be >= 1")
    return args


# --------------------------------------------------------------------------------------------
# Export, quantisation and the logit check.

def versions() -> dict:
    """Installed versions, read from package metadata (the timing process never imports torch)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for dist in ("onnxruntime", "onnx", "numpy", "torch", "transformers", "onnxscript", "tokenizers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def model_fingerprint(model_dir: str) -> dict:
    """What the cached export depends on: the model's weight and config files (size, mtime)."""
    files = {}
    for name in sorted(os.listdir(model_dir)):
        if name == "config.json" or name.endswith((".safetensors", ".bin")):
            st = os.stat(os.path.join(model_dir, name))
            files[name] = [st.st_size, st.st_mtime_ns]
    return {"model_dir": os.path.realpath(model_dir), "files": files}


def input_names_for(model_dir: str, config) -> list[str]:
    """The model inputs its tokenizer produces (token_type_ids only where it makes them)."""
    try:
        from transformers import AutoTokenizer
        names = list(AutoTokenizer.from_pretrained(model_dir).model_input_names)
    except Exception as e:  # noqa: BLE001  no tokenizer: fall back on the config
        log(f"no tokenizer in {model_dir} ({e!r}); inputs from the config")
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if getattr(config, "type_vocab_size", 1) > 1 else [])
    return [n for n in INPUT_ORDER if n in names or n in ("input_ids", "attention_mask")]


def check_inputs(config, names, seed):
    """A few input batches for the logit check: 1x128 unpadded, and padded batches of other shapes."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    low = 3 if config.model_type == "roberta" else 1000
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    limit = min(getattr(config, "max_position_embeddings", 512) - 4, 512)
    out = []
    for batch, seq, lengths in ((1, 128, None), (3, 37, [37, 20, 5]), (2, min(200, limit), [min(200, limit), 64]),
                                (4, 9, [9, 9, 3, 1])):
        ids = rng.integers(low, config.vocab_size, (batch, seq), dtype=np.int64)
        ids[ids == pad] = low
        mask = np.ones((batch, seq), dtype=np.int64)
        types = np.zeros((batch, seq), dtype=np.int64)
        if lengths:
            for i, n in enumerate(lengths):
                ids[i, n:] = pad
                mask[i, n:] = 0
            types[0, seq // 2:lengths[0]] = 1 if getattr(config, "type_vocab_size", 1) > 1 else 0
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out.append({k: feeds[k] for k in names})
    return out


def make_session(path: str, threads: int, optimized_path: str | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only
    if optimized_path:
        so.optimized_model_filepath = optimized_path
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def op_counts(path: str) -> dict:
    import onnx

    model = onnx.load(path, load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    counts = Counter(n.op_type for n in model.graph.node)
    quantized = sum(v for k, v in counts.items()
                    if k in ("MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QGemm", "QLinearMatMul"))
    # MatMul/Gemm with a constant weight still in float (int8: what quantize_dynamic left alone)
    float_const = sum(1 for n in model.graph.node
                      if n.op_type in ("MatMul", "Gemm", "FusedMatMul") and len(n.input) > 1 and n.input[1] in inits)
    return {"ops": dict(sorted(counts.items())), "quantized_nodes": quantized, "float_matmuls": float_const}


def embeddings_quantized(path: str) -> bool:
    """Whether quantize_dynamic also stored an embedding table (a Gather's data) in 8 bits."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    int8 = {i.name for i in model.graph.initializer if i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)}
    return any(n.op_type == "Gather" and n.input[0] in int8 for n in model.graph.node)


def export(args, num_labels: int, paths: dict, fingerprint: dict) -> dict:
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    os.makedirs(args.onnx_dir, exist_ok=True)
    config = AutoConfig.from_pretrained(args.model, num_labels=num_labels)
    names = input_names_for(args.model, config)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=num_labels,
                                                               ignore_mismatched_sizes=True)
    model.eval()

    class Logits(torch.nn.Module):  # named tensor inputs in, logits out
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return self.inner(**kw).logits

    wrapper = Logits(model).eval()
    # example shapes other than 0/1, so that neither axis is specialised
    example = tuple(torch.ones(2, 16, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 16, dtype=torch.long)
                    for n in names)
    tmp = paths["fp32"] + ".tmp"
    exporter, errors = None, []
    for dynamo in (True, False):
        try:
            if dynamo:
                batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=1, max=4096)
                kw = {"dynamic_shapes": {n: {0: batch, 1: seq} for n in names}, "external_data": False,
                      "dynamo": True}
            else:
                kw = {"dynamic_axes": {**{n: {0: "batch", 1: "sequence"} for n in names}, "logits": {0: "batch"}},
                      "dynamo": False}
            with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # its progress lines: not on stdout
                torch.onnx.export(wrapper, example, tmp, input_names=names, output_names=["logits"],
                                  opset_version=args.opset, **kw)
            exporter = "dynamo" if dynamo else "torchscript"
            break
        except Exception as e:  # noqa: BLE001
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(e).__name__}: {str(e)[:500]}")
            log(f"export with dynamo={dynamo} failed: {errors[-1]}")
    if exporter is None:
        raise SystemExit("ONNX export failed:\n  " + "\n  ".join(errors))
    os.replace(tmp, paths["fp32"])
    export_s = time.perf_counter() - t0
    log(f"exported {paths['fp32']} ({exporter}, opset {args.opset}) in {export_s:.1f} s")

    from onnxruntime.quantization import QuantType, quantize_dynamic
    import logging
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic warns about pre-processing
    per_channel, q_error = True, None
    q_ops = None if args.quantize_ops == "default" else args.quantize_ops.split(",")
    try:
        quantize_dynamic(paths["fp32"], paths["int8"] + ".tmp", weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=q_ops)
    except Exception as e:  # noqa: BLE001
        q_error = f"{type(e).__name__}: {str(e)[:300]}"
        log(f"quantize_dynamic(per_channel=True) failed ({q_error}); per_channel=False")
        per_channel = False
        quantize_dynamic(paths["fp32"], paths["int8"] + ".tmp", weight_type=QuantType.QInt8, per_channel=False,
                         op_types_to_quantize=q_ops)
    os.replace(paths["int8"] + ".tmp", paths["int8"])
    log(f"quantised {paths['int8']} (per_channel={per_channel})")

    # The check: PyTorch against both ORT models on the same inputs.
    feeds = check_inputs(config, names, args.seed)
    sessions = {p: make_session(paths[p], args.threads, paths[p + "_opt"]) for p in PRECISIONS}
    diffs = {p: [] for p in PRECISIONS}
    int8_vs_fp32, shapes = [], []
    for f in feeds:
        with torch.inference_mode():
            ref = wrapper(*(torch.from_numpy(f[n]) for n in names)).float().numpy()
        got = {p: sessions[p].run(["logits"], f)[0] for p in PRECISIONS}
        for p in PRECISIONS:
            diffs[p].append(float(np.max(np.abs(got[p] - ref))))
        int8_vs_fp32.append(float(np.max(np.abs(got["int8"] - got["fp32"]))))
        shapes.append(list(f["input_ids"].shape))
    logit_scale = float(np.max(np.abs(ref)))
    info = {
        "exporter": exporter,
        "opset": args.opset,
        "inputs": names,
        "num_labels": num_labels,
        "seed": args.seed,
        "per_channel": per_channel,
        "per_channel_error": q_error,
        "weight_type": "QInt8",
        "quantize_ops": args.quantize_ops,
        "int8_embeddings": embeddings_quantized(paths["int8"]),
        "check_shapes": shapes,
        "fp32_max_abs_diff": max(diffs["fp32"]),
        "fp32_max_abs_diff_per_input": diffs["fp32"],
        "int8_max_abs_diff": max(diffs["int8"]),
        "int8_max_abs_diff_per_input": diffs["int8"],
        "int8_vs_ort_fp32_max_abs_diff": max(int8_vs_fp32),
        "max_abs_logit_last_input": logit_scale,
        "tolerance": args.tolerance,
        "export_s": round(export_s, 2),
        "graphs": {p: op_counts(paths[p]) for p in PRECISIONS},
        "optimized_graphs": {p: op_counts(paths[p + "_opt"]) for p in PRECISIONS if os.path.exists(paths[p + "_opt"])},
    }
    for p in PRECISIONS:  # kept only for the op counts above (a roberta-base fp32 one is 500 MB)
        if os.path.exists(paths[p + "_opt"]):
            os.remove(paths[p + "_opt"])
    log(f"check: max |ORT fp32 - PyTorch| = {info['fp32_max_abs_diff']:.3g}, "
        f"max |ORT int8 - PyTorch| = {info['int8_max_abs_diff']:.3g} over shapes {shapes}")
    write_json_atomic(paths["meta"], {"fingerprint": fingerprint, "export": info})
    if info["fp32_max_abs_diff"] > args.tolerance:
        raise SystemExit(f"ORT fp32 logits differ from PyTorch by {info['fp32_max_abs_diff']:.3g} "
                         f"(> {args.tolerance}); see {paths['meta']}")
    return info


def ensure_onnx(args, num_labels: int) -> tuple[dict, dict]:
    """(paths, export info): the cached export if it is current, a new one otherwise."""
    q = "" if args.quantize_ops == "default" else "-q" + args.quantize_ops.replace(",", "+")
    stem = f"nl{num_labels}-opset{args.opset}{q}"
    paths = {p: os.path.join(args.onnx_dir, f"{p}-{stem}.onnx") for p in PRECISIONS}
    paths.update({p + "_opt": os.path.join(args.onnx_dir, f"{p}-{stem}.optimized.onnx") for p in PRECISIONS})
    paths["meta"] = os.path.join(args.onnx_dir, f"export-{stem}.json")
    v = versions()
    fingerprint = {**model_fingerprint(args.model), "num_labels": num_labels, "seed": args.seed, "opset": args.opset,
                   "quantize_ops": args.quantize_ops,
                   "versions": {k: v.get(k) for k in ("torch", "transformers", "onnxruntime", "onnx", "onnxscript")}}
    if not args.reexport and all(os.path.isfile(paths[p]) for p in PRECISIONS) and os.path.isfile(paths["meta"]):
        try:
            with open(paths["meta"]) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            meta = {}
        if meta.get("fingerprint") == fingerprint and "export" in meta:
            info = meta["export"]
            if info["fp32_max_abs_diff"] > info.get("tolerance", args.tolerance):
                raise SystemExit(f"cached export failed its check ({info['fp32_max_abs_diff']:.3g}); use --reexport")
            return paths, {**info, "cached": True}
        log(f"cached export in {args.onnx_dir} is stale: exporting again")
    return paths, {**export(args, num_labels, paths, fingerprint), "cached": False}


# --------------------------------------------------------------------------------------------
# Workloads and timing.

def make_batches(args, session_inputs):
    """List of (feeds, useful tokens), in the session's input names."""
    import numpy as np

    out = []
    if args.workload == "fixed":  # config.json read directly: no transformers (and torch) import
        with open(os.path.join(args.model, "config.json")) as f:
            config = json.load(f)
        rng = np.random.default_rng(args.seed)
        pad = config.get("pad_token_id") if config.get("pad_token_id") is not None else 0
        low = 3 if config.get("model_type") == "roberta" else 1000  # ordinary ids, as our side draws them
        ids = rng.integers(low, config["vocab_size"], (args.batch, args.seq), dtype=np.int64)
        ids[ids == pad] = low
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return [({k: feeds[k] for k in session_inputs}, args.batch * args.seq)]
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    rows = read_task(args.data, args.task, "dev")
    if not rows:
        raise SystemExit(f"{args.task}: no dev rows in {args.data}")
    feats, _ = tokenize_rows(tokenizer, rows, args.max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(feats), args.batch):
        chunk = feats[start:start + args.batch]
        longest = max(len(f["input_ids"]) for f in chunk)
        feeds = {}
        for key in session_inputs:
            fill = pad if key == "input_ids" else 0
            if key in chunk[0]:
                feeds[key] = np.array([f[key] + [fill] * (longest - len(f[key])) for f in chunk], dtype=np.int64)
            else:  # the graph takes type ids the tokenizer does not make: zeros, as the model defaults to
                feeds[key] = np.zeros((len(chunk), longest), dtype=np.int64)
        out.append((feeds, sum(len(f["input_ids"]) for f in chunk)))
    return out


def time_precision(args, path: str, batches) -> dict:
    t0 = time.perf_counter()
    session = make_session(path, args.threads)
    session_s = time.perf_counter() - t0

    def step():
        total = 0.0
        for feeds, _ in batches:
            total += float(session.run(["logits"], feeds)[0].sum())
        return total

    for i in range(args.warmup):
        t0 = time.perf_counter()
        step()
        log(f"{os.path.basename(path)} warm-up {i + 1}/{args.warmup}: {time.perf_counter() - t0:.4f} s")
    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        log(f"{os.path.basename(path)} step {i + 1}/{args.steps}: {times[-1]:.4f} s")
    s = statistics.median(times)
    padded = sum(f["input_ids"].size for f, _ in batches)
    useful = sum(u for _, u in batches)
    counts = op_counts(path)
    return {
        "s_per_step": round(s, 6),
        "ms_per_step": round(s * 1e3, 3),
        "step_seconds": [round(t, 6) for t in times],
        "tokens_per_s": round(padded / s, 1),
        "useful_tokens_per_s": round(useful / s, 1),
        "session_s": round(session_s, 3),
        "onnx_file": os.path.basename(path),
        "onnx_mib": round(os.path.getsize(path) / 2**20, 1),
        "quantized_nodes": counts["quantized_nodes"],
        "float_matmuls": counts["float_matmuls"],
    }


def main() -> None:
    args = parse_args(sys.argv[1:])
    num_labels = TASKS[args.task]["num_labels"] if args.task else 2
    paths, info = ensure_onnx(args, num_labels)
    name = (f"infer {args.task} dev in batches of {args.batch}" if args.workload == "dev"
            else f"infer {args.batch}x{args.seq}")
    result = {
        "workload": "prepare" if args.prepare else name,
        "side": "onnxruntime",
        "model": os.path.basename(os.path.normpath(args.model)),
        "batch": args.batch,
        "seq": args.seq if args.workload == "fixed" else None,
        "task": args.task,
        "max_length": args.max_length if args.workload == "dev" else None,
        "threads": args.threads,
        "inter_op_threads": 1,
        "steps": args.steps,
        "warmup": args.warmup,
    }
    if not args.prepare:
        batches = make_batches(args, info["inputs"])
        result.update(batches=len(batches),
                      padded_tokens_per_step=sum(f["input_ids"].size for f, _ in batches),
                      useful_tokens_per_step=sum(u for _, u in batches))
        for p in (PRECISIONS if args.precision == "both" else (args.precision,)):
            result[p] = time_precision(args, paths[p], batches)
    result["export"] = {k: v for k, v in info.items() if k not in ("graphs", "optimized_graphs")} | {
        "quantized_nodes": info["graphs"]["int8"]["quantized_nodes"],
        "int8_float_matmuls": info["graphs"]["int8"]["float_matmuls"],
        "optimized_ops": {p: g["ops"] for p, g in info.get("optimized_graphs", {}).items()},
    }
    result["versions"] = versions()
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        print(json.dumps(result), flush=True)
        return
    e = result["export"]
    print(f"{result['model']}: {result['workload']}, {args.threads} threads; export {e['exporter']} opset {e['opset']}, "
          f"per_channel={e['per_channel']}, |fp32 - PyTorch| <= {e['fp32_max_abs_diff']:.3g}, "
          f"|int8 - PyTorch| <= {e['int8_max_abs_diff']:.3g}")
    for p in PRECISIONS:
        if p in result:
            r = result[p]
            t = f"{r['ms_per_step']:.3f} ms/step" if args.workload == "fixed" else f"{r['s_per_step']:.3f} s/pass"
            print(f"  {p}: {t} (median of {args.steps}), "
                  f"{r['useful_tokens_per_s']:,.0f} real tokens/s, {r['tokens_per_s']:,.0f} computed tokens/s")


if __name__ == "__main__":
    main()
