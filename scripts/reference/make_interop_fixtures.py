#!/usr/bin/env python3
"""Interoperability fixtures: swift-lora adapters in PEFT, PEFT adapters in swift-lora,
and `lora merge` output in transformers.

Run from the repository root with the reference venv (see scripts/reference/README.md),
after a release build of the CLI (`swift build -c release`):

    ../refenv/bin/python scripts/reference/make_interop_fixtures.py                # train + merge + references
    ../refenv/bin/python scripts/reference/make_interop_fixtures.py --keep-adapter # reuse the committed adapter

Steps:
  1. `lora train` (LoRA, MRPC, 64 training examples, 1 epoch, lr 5e-3, so lora_B is far
     from zero) writes a PEFT adapter; it is copied to
     Tests/Fixtures/interop/minilm-mrpc-adapter/ (skipped with --keep-adapter).
  2. `lora merge` folds that adapter into all-MiniLM-L6-v2 and writes a model directory
     into a temporary folder (90 MB: never committed).
  3. PyTorch: the first 24 MRPC dev pairs through
       (a) AutoModelForSequenceClassification(base) + PeftModel.from_pretrained(adapter),
       (b) AutoModelForSequenceClassification(merged directory),
     and the PEFT-trained tiny roberta adapter (Tests/Fixtures/lora/peft-tiny-roberta/
     adapter_final) on its base, on that fixture's step-1 batch.
  4. Tests/Fixtures/interop/expected.safetensors + meta.json.

The stored logits follow the project convention: computed in float64 on the float32
weights (the exact answer, rounded once to float32). meta.json records how far a plain
float32 PyTorch run lands from them, and the (a)-vs-(b) differences in both precisions.
Tests/EncodersTests/InteropTests.swift checks swift-lora against these numbers.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

transformers.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "Fixtures"
OUT = FIXTURES / "interop"
ADAPTER_DIR = OUT / "minilm-mrpc-adapter"
MINILM_DIR = REPO / "models" / "all-MiniLM-L6-v2"
GLUE_DIR = REPO.parent / "shared" / "glue"
MRPC_DEV = GLUE_DIR / "MRPC" / "dev.tsv"
LORA_BIN = REPO / ".build" / "release" / "lora"
TINY = FIXTURES / "lora" / "peft-tiny-roberta"
GENERATOR = "scripts/reference/make_interop_fixtures.py"
ROWS = 24
MAX_LENGTH = 128

TRAIN_ARGS = ["train", "--model", "models/all-MiniLM-L6-v2", "--task", "mrpc", "--data", "../shared/glue",
              "--method", "lora", "--epochs", "1", "--max-train-examples", "64", "--max-dev-examples", "32",
              "--batch-size", "16", "--lr", "5e-3", "--seed", "3", "--threads", "1"]


# --------------------------------------------------------------------------------------
# helpers (same conventions as make_fixtures.py)


def versions() -> dict:
    import peft
    import safetensors

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }


def _json(obj, indent: int = 0) -> str:
    """JSON with lists of scalars kept on one line."""
    pad = "  " * (indent + 1)
    end = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return "[" + ", ".join(json.dumps(v) for v in obj) + "]"
        return "[\n" + ",\n".join(pad + _json(v, indent + 1) for v in obj) + "\n" + end + "]"
    return json.dumps(obj, ensure_ascii=False)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_json(obj) + "\n", encoding="utf-8")


def write_tensors(path: Path, tensors: dict) -> None:
    out = {}
    for name, t in tensors.items():
        t = torch.as_tensor(t).detach()
        t = t.to(torch.float32) if t.dtype.is_floating_point else t.to(torch.int64)
        out[name] = t.contiguous().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path), metadata={"generator": GENERATOR})


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args: list[str], log: list[str]) -> None:
    shown = " ".join(str(a) for a in args)
    log.append(shown)
    print(f"[interop] $ {shown}", flush=True)
    subprocess.run([str(LORA_BIN)] + [str(a) for a in args], cwd=REPO, check=True)


def read_mrpc(path: Path, n: int):
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        assert header == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], header
        for row in reader:
            rows.append({"label": int(row[0]), "s1": row[3], "s2": row[4]})
            if len(rows) == n:
                break
    return rows


def unpack(file: Path, prefix: str = ""):
    with safe_open(str(file), "pt") as f:
        ids = f.get_tensor(prefix + "input_ids").tolist()
        types = f.get_tensor(prefix + "token_type_ids").tolist()
        lengths = f.get_tensor(prefix + "lengths").tolist()
    seqs, tseqs, o = [], [], 0
    for n in lengths:
        seqs.append(ids[o:o + n])
        tseqs.append(types[o:o + n])
        o += n
    return seqs, tseqs


@torch.no_grad()
def logits_unpadded(model, ids, types) -> torch.Tensor:
    """Each sequence alone (batch of one, no attention mask): what a packed Swift batch computes."""
    rows = []
    for s, t in zip(ids, types):
        out = model(input_ids=torch.tensor([s]), token_type_ids=torch.tensor([t]))
        rows.append(out.logits[0])
    return torch.stack(rows)


@torch.no_grad()
def logits_padded(model, ids, types, pad_id: int) -> torch.Tensor:
    n = max(len(s) for s in ids)
    inp = torch.full((len(ids), n), pad_id, dtype=torch.long)
    tt = torch.zeros((len(ids), n), dtype=torch.long)
    mask = torch.zeros((len(ids), n), dtype=torch.long)
    for i, (s, t) in enumerate(zip(ids, types)):
        inp[i, :len(s)] = torch.tensor(s)
        tt[i, :len(t)] = torch.tensor(t)
        mask[i, :len(s)] = 1
    return model(input_ids=inp, token_type_ids=tt, attention_mask=mask).logits


def both_precisions(model32, ids, types, pad_id: int):
    """float64 logits (the reference), float32 logits, and the padded-batch check in float64."""
    model32.eval()
    model64 = copy.deepcopy(model32).to(torch.float64).eval()
    r64 = logits_unpadded(model64, ids, types)
    r32 = logits_unpadded(model32, ids, types)
    padded = max_abs(logits_padded(model64, ids, types, pad_id), r64)
    assert padded < 1e-10, f"padded batch disagrees: {padded}"
    return r64, r32, padded


def load_base(directory: Path, num_labels: int):
    torch.manual_seed(0)  # the MiniLM head is new; PEFT replaces it with the adapter's
    model = AutoModelForSequenceClassification.from_pretrained(
        str(directory), num_labels=num_labels, attn_implementation="eager")
    assert model.config._attn_implementation == "eager"
    return model.eval()


def check_adapter_loaded(pm, adapter_dir: Path) -> dict:
    """Every adapter tensor is in the PEFT model (lora_* and the head under modules_to_save)."""
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(pm)
    with safe_open(str(adapter_dir / "adapter_model.safetensors"), "pt") as f:
        keys = sorted(f.keys())
        for k in keys:
            assert k in state, f"PEFT did not load {k}"
            assert torch.equal(state[k], f.get_tensor(k)), f"PEFT holds other values for {k}"
        b_norm = max(float(f.get_tensor(k).abs().max()) for k in keys if ".lora_B." in k)
    assert set(state) == set(keys), sorted(set(state) ^ set(keys))
    return {"tensors": len(keys), "max_abs_lora_B": b_norm}


# --------------------------------------------------------------------------------------


def main(argv) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep-adapter", action="store_true",
                    help="reuse the committed Tests/Fixtures/interop/minilm-mrpc-adapter instead of training")
    opts = ap.parse_args(argv)
    from peft import PeftModel

    for need, hint in ((MINILM_DIR / "model.safetensors", "run scripts/fetch-model.sh"),
                       (MRPC_DEV, "the GLUE data must be at ../shared/glue"),
                       (LORA_BIN, "build it: swift build -c release")):
        if not need.exists():
            raise SystemExit(f"missing {need}: {hint}")

    commands: list[str] = []
    with tempfile.TemporaryDirectory(prefix="interop-") as tmp_name:
        tmp = Path(tmp_name)

        # 1. our adapter
        # meta.json lists the training command either way (--keep-adapter reuses its output).
        commands.append(" ".join(TRAIN_ARGS + ["--out", "<tmp>/run"]))
        if not opts.keep_adapter:
            run(TRAIN_ARGS + ["--out", tmp / "run"], [])
            if ADAPTER_DIR.exists():
                shutil.rmtree(ADAPTER_DIR)
            ADAPTER_DIR.mkdir(parents=True)
            shutil.copyfile(tmp / "run" / "adapter" / "adapter_model.safetensors", ADAPTER_DIR / "adapter_model.safetensors")
            # `lora train` records the model directory as given on the command line, made
            # absolute; store the repo-relative path instead (only that value changes).
            cfg_text = (tmp / "run" / "adapter" / "adapter_config.json").read_text()
            absolute = json.dumps(str(MINILM_DIR))
            if absolute in cfg_text:
                cfg_text = cfg_text.replace(absolute, json.dumps("models/all-MiniLM-L6-v2"))
            (ADAPTER_DIR / "adapter_config.json").write_text(cfg_text)
        elif not (ADAPTER_DIR / "adapter_model.safetensors").exists():
            raise SystemExit(f"--keep-adapter: no adapter at {ADAPTER_DIR}")

        # 2. `lora merge`
        merged_dir = tmp / "merged"
        run(["merge", "--model", "models/all-MiniLM-L6-v2", "--adapter", ADAPTER_DIR.relative_to(REPO),
             "--out", merged_dir], commands)
        commands[-1] = commands[-1].replace(str(tmp), "<tmp>")

        # 3. the MRPC batch
        rows = read_mrpc(MRPC_DEV, ROWS)
        tok = AutoTokenizer.from_pretrained(str(MINILM_DIR))
        assert tok.is_fast
        enc = tok([r["s1"] for r in rows], [r["s2"] for r in rows], truncation=True, max_length=MAX_LENGTH)
        ids, types = enc["input_ids"], enc["token_type_ids"]
        lengths = [len(s) for s in ids]

        # (a) PEFT on the base
        base = load_base(MINILM_DIR, 2)
        pm = PeftModel.from_pretrained(base, str(ADAPTER_DIR)).eval()
        loaded = check_adapter_loaded(pm, ADAPTER_DIR)
        peft64, peft32, peft_padded = both_precisions(pm, ids, types, tok.pad_token_id)

        # PEFT's own merge, compared with the weights `lora merge` wrote.
        peft_merged = copy.deepcopy(pm).merge_and_unload().state_dict()
        with safe_open(str(merged_dir / "model.safetensors"), "pt") as f:
            ours = {k: f.get_tensor(k) for k in f.keys()}
        assert set(ours) <= set(peft_merged), sorted(set(ours) - set(peft_merged))
        weights_diff = max(max_abs(ours[k], peft_merged[k]) for k in ours)
        with safe_open(str(MINILM_DIR / "model.safetensors"), "pt") as f:
            base_weights = {k: f.get_tensor(k) for k in f.keys()}
        merge_change = {k: max_abs(ours["bert." + k], base_weights[k]) for k in base_weights
                        if "bert." + k in ours and ".attention.self." in k and k.endswith(".weight")}
        assert len(merge_change) == 18 and min(v for k, v in merge_change.items() if ".key." not in k) > 0
        merge_change = {"query/value weights (min over 12)": min(v for k, v in merge_change.items() if ".key." not in k),
                        "key weights (max over 6, not adapted)": max(v for k, v in merge_change.items() if ".key." in k)}

        # (b) transformers on the merged directory
        merged = AutoModelForSequenceClassification.from_pretrained(str(merged_dir), attn_implementation="eager")
        assert merged.config.num_labels == 2
        with safe_open(str(merged_dir / "model.safetensors"), "pt") as f:
            for n, p in merged.named_parameters():
                assert torch.equal(p.detach(), f.get_tensor(n)), f"transformers did not load {n} from the merged file"
        merged64, merged32, merged_padded = both_precisions(merged, ids, types, tok.pad_token_id)

        # (c) the PEFT-trained tiny roberta adapter on its base
        tiny_ids, tiny_types = unpack(TINY / "expected.safetensors", "step1.")
        tiny_base = load_base(TINY / "base", 2)
        tiny_pm = PeftModel.from_pretrained(tiny_base, str(TINY / "adapter_final")).eval()
        tiny_loaded = check_adapter_loaded(tiny_pm, TINY / "adapter_final")
        tiny64, tiny32, tiny_padded = both_precisions(tiny_pm, tiny_ids, tiny_types, tiny_base.config.pad_token_id)

    # 4. write
    write_tensors(OUT / "expected.safetensors", {
        "input_ids": torch.tensor([i for s in ids for i in s]),
        "token_type_ids": torch.tensor([i for s in types for i in s]),
        "lengths": torch.tensor(lengths),
        "peft_logits": peft64,
        "merged_logits": merged64,
        "tiny_peft_logits": tiny64,
    })
    write_json(OUT / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "commands": [f".build/release/lora {c}" for c in commands],
        "adapter": "Tests/Fixtures/interop/minilm-mrpc-adapter (written by `lora train`; copied unchanged except base_model_name_or_path made repo-relative)",
        "adapter_sha256": sha256(ADAPTER_DIR / "adapter_model.safetensors"),
        "adapter_loaded_in_peft": loaded,
        "data": f"../shared/glue/MRPC/dev.tsv, first {ROWS} data rows; fast tokenizer of models/all-MiniLM-L6-v2, "
                f"pairs, truncation=True, max_length={MAX_LENGTH}",
        "total_tokens": sum(lengths),
        "max_length_seen": max(lengths),
        "labels": [r["label"] for r in rows],
        "peft_logits": "AutoModelForSequenceClassification(models/all-MiniLM-L6-v2, num_labels=2, eager) + "
                       "PeftModel.from_pretrained(minilm-mrpc-adapter), eval, each sequence alone",
        "merged_logits": "AutoModelForSequenceClassification(<tmp>/merged written by `lora merge`), eval, eager",
        "tiny_peft_logits": "AutoModelForSequenceClassification(lora/peft-tiny-roberta/base) + "
                            "PeftModel.from_pretrained(lora/peft-tiny-roberta/adapter_final) on that fixture's step1 batch",
        "tiny_adapter_loaded_in_peft": tiny_loaded,
        "compute_dtype": "float64 on the float32 weights, stored as float32",
        "peft_vs_merged_max_abs": {"float64": max_abs(peft64, merged64), "float32": max_abs(peft32, merged32)},
        "lora_merge_weights_vs_peft_merge_and_unload_max_abs": weights_diff,
        "lora_merge_weights_vs_base_max_abs": merge_change,
        "float32_vs_float64": {
            "peft_logits_max_abs": max_abs(peft32, peft64),
            "merged_logits_max_abs": max_abs(merged32, merged64),
            "tiny_peft_logits_max_abs": max_abs(tiny32, tiny64),
        },
        "padded_batch_check_float64": {"peft": peft_padded, "merged": merged_padded, "tiny_peft": tiny_padded},
    })
    for path in OUT.rglob("*"):  # safetensors/transformers write 0600 files
        if path.is_file():
            path.chmod(0o644)
    print(f"[interop] peft vs merged (float64) max abs {max_abs(peft64, merged64):.3e}; "
          f"lora-merge weights vs PEFT merge_and_unload {weights_diff:.3e}", flush=True)
    print("[interop] done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
