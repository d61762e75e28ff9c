#!/usr/bin/env python3
"""Generates the PyTorch / transformers / peft reference fixtures under Tests/Fixtures.

Run from the repository root with the reference venv (see scripts/reference/README.md):

    ../refenv/bin/python scripts/reference/make_fixtures.py            # everything
    ../refenv/bin/python scripts/reference/make_fixtures.py adamw lora # only some groups

Groups: adamw, encoders, minilm, lora, families. Every group is deterministic (fixed seeds, one
thread); re-running rewrites byte-identical files. CI never runs this script: the
fixtures are committed.

Conventions (the Swift tests rely on them; README.md lists every tensor):
  * tensors go into safetensors files, float32 ("F32") or int64 ("I64"); no rank-0
    tensors (scalars are shape (1,));
  * metadata goes into small JSON files;
  * models are built in float32 and saved in float32; the reference forward/backward is
    then computed in float64 (on an exact float64 copy of the float32 weights) and stored
    rounded to float32, so a fixture is the exact answer for its stored inputs, not one
    float32 rounding of it. Each meta.json records how far a float32 PyTorch run lands
    from it ("float32_vs_float64"), as a guide for test tolerances;
  * sequences are packed: ids of all sequences concatenated, plus per-sequence lengths.
    The reference runs every sequence on its own (batch of one, no mask), which is what
    an unpadded Swift batch computes; a padded batch with attention_mask is checked to
    agree.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import transformers  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

transformers.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "Fixtures"
GENERATOR = "scripts/reference/make_fixtures.py"


# --------------------------------------------------------------------------------------
# helpers


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
    """JSON with lists of scalars kept on one line (small, diff-friendly files)."""
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
        if t.dtype.is_floating_point:
            t = t.to(torch.float32)
        elif t.dtype in (torch.int32, torch.int64, torch.uint8, torch.int16, torch.bool):
            t = t.to(torch.int64)
        else:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        if t.dim() == 0:
            t = t.reshape(1)
        out[name] = t.contiguous().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path), metadata={"generator": GENERATOR})


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max())


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------------------
# (a) AdamW


ADAMW_GRAD_SCALES = [1.0, 0.01, 10.0, 1e-4]


def adamw_case(name: str, lr: float, weight_decay: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    shapes = {"p0": (37,), "p1": (5, 3)}
    init = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
    betas, eps = (0.9, 0.999), 1e-8
    opt = torch.optim.AdamW(
        list(params.values()), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
        amsgrad=False, foreach=False, fused=False,
    )
    tensors = {f"init.{k}": v for k, v in init.items()}
    for step in range(1, len(ADAMW_GRAD_SCALES) + 1):
        scale = ADAMW_GRAD_SCALES[step - 1]
        for k, p in params.items():
            grad = torch.randn(p.shape, generator=g) * scale
            if step == 2 and k == "p0":
                grad[:3] = 0.0  # exact zeros: the update is then driven by m, v history alone
            p.grad = grad.clone()
            tensors[f"grad.{step}.{k}"] = grad
        opt.step()
        for k, p in params.items():
            st = opt.state[p]
            tensors[f"param.{step}.{k}"] = p.detach().clone()
            tensors[f"exp_avg.{step}.{k}"] = st["exp_avg"].clone()
            tensors[f"exp_avg_sq.{step}.{k}"] = st["exp_avg_sq"].clone()
    out = FIXTURES / "adamw"
    write_tensors(out / f"{name}.safetensors", tensors)
    write_json(out / f"{name}.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "optimizer": "torch.optim.AdamW (foreach=False, fused=False, amsgrad=False), float32",
        "lr": lr, "betas": list(betas), "eps": eps, "weight_decay": weight_decay,
        "steps": len(ADAMW_GRAD_SCALES),
        "params": {k: list(s) for k, s in shapes.items()},
        "grad_scales_per_step": ADAMW_GRAD_SCALES,
        "notes": "grad.<step>.p0[0:3] are exactly 0 at step 2. Update per step t (torch AdamW): "
                 "p *= 1 - lr*weight_decay; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; "
                 "p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).",
    })


def make_adamw() -> None:
    adamw_case("decay", lr=1e-3, weight_decay=0.01, seed=1234)
    adamw_case("nodecay", lr=5e-4, weight_decay=0.0, seed=4321)


# --------------------------------------------------------------------------------------
# tiny encoders

TINY = dict(
    vocab_size=100, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
    intermediate_size=60, max_position_embeddings=40, hidden_act="gelu",
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.02,
)
# Token ids of the tiny vocabularies (there is no vocab file; these are conventions).
BERT_SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
ROBERTA_SPECIAL = {"bos": 0, "pad": 1, "eos": 2, "unk": 3}
FIRST_ORDINARY_ID = 5  # random "word" ids are drawn from [5, vocab_size)
ELECTRA_EMBEDDING_SIZE = 24
# Families that use BERT's special tokens and token types (DistilBERT takes no token types:
# its fixtures still carry BERT's pair types, which the model must ignore).
BERT_LIKE = ("bert", "electra", "distilbert")
TAKES_TYPES = ("bert", "electra")


def tiny_model(kind: str, num_labels: int, seed: int):
    problem = "regression" if num_labels == 1 else "single_label_classification"
    if kind == "bert":
        cfg = BertConfig(**TINY, type_vocab_size=2, pad_token_id=BERT_SPECIAL["pad"],
                         layer_norm_eps=1e-12, num_labels=num_labels, problem_type=problem,
                         attn_implementation="eager")
        cls = BertForSequenceClassification
    elif kind == "electra":
        # embedding_size below hidden_size, so embeddings_project is exercised.
        cfg = ElectraConfig(**TINY, embedding_size=ELECTRA_EMBEDDING_SIZE, type_vocab_size=2,
                            pad_token_id=BERT_SPECIAL["pad"], layer_norm_eps=1e-12, num_labels=num_labels,
                            problem_type=problem, attn_implementation="eager")
        cls = ElectraForSequenceClassification
    elif kind == "distilbert":
        cfg = DistilBertConfig(vocab_size=TINY["vocab_size"], dim=TINY["hidden_size"], n_layers=TINY["num_hidden_layers"],
                               n_heads=TINY["num_attention_heads"], hidden_dim=TINY["intermediate_size"],
                               max_position_embeddings=TINY["max_position_embeddings"], activation="gelu",
                               dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0,
                               initializer_range=0.02, pad_token_id=BERT_SPECIAL["pad"], num_labels=num_labels,
                               problem_type=problem, attn_implementation="eager")
        cls = DistilBertForSequenceClassification
    else:
        cfg = RobertaConfig(**TINY, type_vocab_size=1, pad_token_id=ROBERTA_SPECIAL["pad"],
                            bos_token_id=ROBERTA_SPECIAL["bos"], eos_token_id=ROBERTA_SPECIAL["eos"],
                            layer_norm_eps=1e-5, num_labels=num_labels, problem_type=problem,
                            attn_implementation="eager")
        cls = RobertaForSequenceClassification
    torch.manual_seed(seed)
    model = cls(cfg)
    randomize(model, seed)
    model.eval()
    return model


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Replaces HF's init (std 0.02, zero biases, unit LayerNorm) by one that makes every
    parameter matter: O(1) attention scores, non-zero biases, non-trivial LayerNorm affine."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith(".bias"):
                p.copy_(0.1 * r)
            elif "embeddings" in name and "embeddings_project" not in name:
                p.copy_(0.5 * r)
            else:  # Linear weight (out, in)
                p.copy_(r / math.sqrt(p.shape[1]))


def make_sequence(rng: np.random.RandomState, kind: str, length: int, pair_at: int | None, vocab: int):
    """One sequence of `length` tokens: [CLS] a.. [SEP] (b.. [SEP]) for bert,
    <s> a.. </s> (</s> b.. </s>) for roberta. pair_at = number of tokens of segment a."""
    if kind in BERT_LIKE:
        cls_id, sep_id = BERT_SPECIAL["cls"], BERT_SPECIAL["sep"]
        if pair_at is None:
            words = rng.randint(FIRST_ORDINARY_ID, vocab, size=length - 2).tolist()
            return [cls_id] + words + [sep_id], [0] * length
        a = rng.randint(FIRST_ORDINARY_ID, vocab, size=pair_at).tolist()
        b = rng.randint(FIRST_ORDINARY_ID, vocab, size=length - pair_at - 3).tolist()
        ids = [cls_id] + a + [sep_id] + b + [sep_id]
        types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        return ids, types
    bos, eos = ROBERTA_SPECIAL["bos"], ROBERTA_SPECIAL["eos"]
    if pair_at is None:
        words = rng.randint(FIRST_ORDINARY_ID, vocab, size=length - 2).tolist()
        return [bos] + words + [eos], [0] * length
    a = rng.randint(FIRST_ORDINARY_ID, vocab, size=pair_at).tolist()
    b = rng.randint(FIRST_ORDINARY_ID, vocab, size=length - pair_at - 4).tolist()
    return [bos] + a + [eos, eos] + b + [eos], [0] * length


def make_batch(kind: str, seed: int, lengths, pairs, labels, vocab: int = TINY["vocab_size"]):
    rng = np.random.RandomState(seed)
    ids, types = [], []
    for length, pair_at in zip(lengths, pairs):
        i, t = make_sequence(rng, kind, length, pair_at, vocab)
        assert len(i) == length
        ids.append(i)
        types.append(t)
    return {"input_ids": ids, "token_type_ids": types, "labels": labels, "lengths": list(lengths)}


def run_unpadded(model, batch, kind: str, hidden_states: bool = False):
    """Each sequence on its own (batch of one, no mask). Returns logits (B, n),
    packed last hidden state, packed per-layer hidden states, pooled (bert)."""
    logits, last, layers, pooled = [], [], None, []
    for ids, types in zip(batch["input_ids"], batch["token_type_ids"]):
        kwargs = {"input_ids": torch.tensor([ids])}
        if kind in TAKES_TYPES:
            kwargs["token_type_ids"] = torch.tensor([types])
        out = model(**kwargs, output_hidden_states=True)
        logits.append(out.logits)
        hs = out.hidden_states
        last.append(hs[-1][0])
        if layers is None:
            layers = [[] for _ in hs]
        for i, h in enumerate(hs):
            layers[i].append(h[0])
        if kind == "bert":
            base = model.bert if hasattr(model, "bert") else model.base_model.model.bert
            pooled.append(base.pooler(hs[-1]))
    result = {
        "logits": torch.cat(logits, 0),
        "hidden": torch.cat(last, 0),
        "hidden_states": [torch.cat(x, 0) for x in layers],
    }
    if kind == "bert":
        result["pooled"] = torch.cat(pooled, 0)
    return result


def hf_loss(logits: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Exactly what *ForSequenceClassification.forward does with labels on a batch."""
    if num_labels == 1:
        return torch.nn.MSELoss()(logits.squeeze(), labels.squeeze())
    return torch.nn.CrossEntropyLoss()(logits.view(-1, num_labels), labels.view(-1))


def label_tensor(labels, num_labels: int, dtype=torch.float64) -> torch.Tensor:
    if num_labels == 1:
        return torch.tensor(labels, dtype=dtype)
    return torch.tensor(labels, dtype=torch.long)


def padded_check(model, batch, kind: str, num_labels: int, dtype) -> dict:
    """Runs the batch padded to the longest sequence with attention_mask (as HF users do)
    and returns logits and the model's own loss, for comparison with the unpadded run."""
    pad = BERT_SPECIAL["pad"] if kind in BERT_LIKE else ROBERTA_SPECIAL["pad"]
    L = max(batch["lengths"])
    ids = torch.full((len(batch["lengths"]), L), pad, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for b, (i, t) in enumerate(zip(batch["input_ids"], batch["token_type_ids"])):
        ids[b, : len(i)] = torch.tensor(i)
        types[b, : len(t)] = torch.tensor(t)
        mask[b, : len(i)] = 1
    kwargs = {"input_ids": ids, "attention_mask": mask,
              "labels": label_tensor(batch["labels"], num_labels, dtype)}
    if kind in TAKES_TYPES:
        kwargs["token_type_ids"] = types
    with torch.no_grad():
        out = model(**kwargs)
    return {"logits": out.logits, "loss": out.loss}


def packed(lists) -> torch.Tensor:
    return torch.tensor([x for seq in lists for x in seq], dtype=torch.long)


def encoder_fixture(name: str, kind: str, num_labels: int, seed: int, batch: dict) -> None:
    out = fresh_dir(FIXTURES / "encoders" / name)
    model32 = tiny_model(kind, num_labels, seed)
    model32.save_pretrained(str(out))
    # The saved checkpoint is exactly the float32 model.
    reloaded = type(model32).from_pretrained(str(out), attn_implementation="eager")
    for (n1, p1), (n2, p2) in zip(model32.named_parameters(), reloaded.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2), n1

    results = {}
    for dtype in (torch.float64, torch.float32):
        model = copy.deepcopy(model32).to(dtype)
        model.zero_grad(set_to_none=True)
        res = run_unpadded(model, batch, kind)
        labels = label_tensor(batch["labels"], num_labels, dtype)
        loss = hf_loss(res["logits"], labels, num_labels)
        loss.backward()
        grads = {}
        for n, p in model.named_parameters():
            grads[n] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
        chk = padded_check(model, batch, kind, num_labels, dtype)
        results[dtype] = dict(res, loss=loss.detach(), grads=grads, padded=chk)

    r64, r32 = results[torch.float64], results[torch.float32]
    pad_logit_diff = max_abs(r64["padded"]["logits"], r64["logits"])
    pad_loss_diff = abs(float(r64["padded"]["loss"]) - float(r64["loss"]))
    assert pad_logit_diff < 1e-10 and pad_loss_diff < 1e-10, (pad_logit_diff, pad_loss_diff)

    tensors = {
        "input_ids": packed(batch["input_ids"]),
        "token_type_ids": packed(batch["token_type_ids"]),
        "lengths": torch.tensor(batch["lengths"], dtype=torch.long),
        "labels": label_tensor(batch["labels"], num_labels, torch.float32),
        "logits": r64["logits"],
        "loss": r64["loss"],
        "hidden": r64["hidden"],
    }
    for i, h in enumerate(r64["hidden_states"]):
        tensors[f"hidden_states.{i}"] = h
    if kind == "bert":
        tensors["pooled"] = r64["pooled"]
    for n, g in r64["grads"].items():
        tensors[f"grad.{n}"] = g
    write_tensors(out / "expected.safetensors", tensors)

    grad_abs = max(max_abs(r32["grads"][n], g) for n, g in r64["grads"].items())
    grad_scale = max(float(g.abs().max()) for g in r64["grads"].values())
    zero_grads = [n for n, g in r64["grads"].items() if float(g.abs().max()) < 1e-12]
    special = BERT_SPECIAL if kind in BERT_LIKE else ROBERTA_SPECIAL
    write_json(out / "batch.json", {
        "input_ids": batch["input_ids"],
        "token_type_ids": batch["token_type_ids"],
        "labels": batch["labels"],
        "lengths": batch["lengths"],
    })
    write_json(out / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "model": type(model32).__name__,
        "num_labels": num_labels,
        "problem_type": model32.config.problem_type,
        "seed": seed,
        "special_token_ids": special,
        "position_ids": ("0..len-1" if kind in BERT_LIKE else
                         "padding_idx+1 .. padding_idx+len, i.e. 2..len+1 (RoBERTa)"),
        "loss": float(r64["loss"]),
        "loss_definition": ("mean over the batch of MSE(logits.squeeze(), labels)" if num_labels == 1
                            else "mean over the batch of cross-entropy(logits, labels)"),
        "compute_dtype": "float64 on the float32 checkpoint weights, stored as float32",
        "float32_vs_float64": {
            "logits_max_abs": max_abs(r32["logits"], r64["logits"]),
            "loss_abs": abs(float(r32["loss"]) - float(r64["loss"])),
            "hidden_max_abs": max_abs(r32["hidden"], r64["hidden"]),
            "grad_max_abs": grad_abs,
            "largest_abs_grad": grad_scale,
        },
        "mathematically_zero_grads": zero_grads,
        "mathematically_zero_grads_note": "softmax is invariant to the key bias (it adds q.b_k, "
            "the same for every key), so grad.*.attention.self.key.bias is 0 up to float64 "
            "round-off (~1e-17); compare these with an absolute tolerance",
        "padded_batch_check": {"logits_max_abs": pad_logit_diff, "loss_abs": pad_loss_diff},
    })


BERT_BATCH = dict(lengths=[7, 12, 3, 9], pairs=[None, 5, None, 3])
ROBERTA_BATCH = dict(lengths=[7, 12, 3, 9], pairs=[None, 4, None, 3])


def make_encoders() -> None:
    encoder_fixture("tiny-bert", "bert", 3, seed=11,
                    batch=make_batch("bert", 101, **BERT_BATCH, labels=[2, 0, 1, 2]))
    encoder_fixture("tiny-roberta", "roberta", 2, seed=12,
                    batch=make_batch("roberta", 102, **ROBERTA_BATCH, labels=[1, 0, 0, 1]))
    encoder_fixture("tiny-roberta-regression", "roberta", 1, seed=13,
                    batch=make_batch("roberta", 103, **ROBERTA_BATCH, labels=[0.5, 3.25, -1.0, 2.0]))


def make_families() -> None:
    """Families beyond BERT and RoBERTa: ELECTRA (with embeddings_project) and DistilBERT."""
    encoder_fixture("tiny-electra", "electra", 3, seed=14,
                    batch=make_batch("electra", 104, **BERT_BATCH, labels=[2, 0, 1, 2]))
    encoder_fixture("tiny-distilbert", "distilbert", 3, seed=15,
                    batch=make_batch("distilbert", 105, **BERT_BATCH, labels=[0, 2, 1, 1]))
    lora_fixture("peft-tiny-electra", "electra", seed=24, batch_seeds=[241, 242, 243],
                 batch_specs=LORA_BATCH_SPECS["bert"])
    lora_fixture("peft-tiny-distilbert", "distilbert", seed=25, batch_seeds=[251, 252, 253],
                 batch_specs=LORA_BATCH_SPECS["bert"])


# --------------------------------------------------------------------------------------
# (c) all-MiniLM-L6-v2 on 64 MRPC dev pairs

MINILM_DIR = REPO / "models" / "all-MiniLM-L6-v2"
MRPC_DEV = REPO.parent / "shared" / "glue" / "MRPC" / "dev.tsv"
MINILM_ROWS = 64
MINILM_MAX_LENGTH = 128


def read_mrpc(path: Path, n: int):
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        assert header == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], header
        for row in reader:
            rows.append({"label": int(row[0]), "id1": row[1], "id2": row[2], "s1": row[3], "s2": row[4]})
            if len(rows) == n:
                break
    return rows


def make_minilm() -> None:
    if not (MINILM_DIR / "model.safetensors").exists():
        raise SystemExit(f"missing {MINILM_DIR}: run scripts/fetch-model.sh first")
    rows = read_mrpc(MRPC_DEV, MINILM_ROWS)
    tok = AutoTokenizer.from_pretrained(str(MINILM_DIR))
    assert tok.is_fast
    enc = tok([r["s1"] for r in rows], [r["s2"] for r in rows], truncation=True,
              max_length=MINILM_MAX_LENGTH)
    ids, types = enc["input_ids"], enc["token_type_ids"]

    torch.manual_seed(0)
    model32 = BertForSequenceClassification.from_pretrained(
        str(MINILM_DIR), num_labels=2, attn_implementation="eager")
    model32.eval()
    assert model32.config._attn_implementation == "eager"
    # Every encoder/pooler weight came from the checkpoint; only the classifier is new.
    from safetensors import safe_open
    with safe_open(str(MINILM_DIR / "model.safetensors"), "pt") as f:
        ckpt = {k: f.get_tensor(k) for k in f.keys()}
    for n, p in model32.named_parameters():
        if n.startswith("classifier."):
            continue
        key = n[len("bert."):]
        assert torch.equal(ckpt[key], p.detach()), n

    batch = {"input_ids": ids, "token_type_ids": types}
    results = {}
    with torch.no_grad():
        for dtype in (torch.float64, torch.float32):
            model = copy.deepcopy(model32).to(dtype)
            results[dtype] = run_unpadded(model, batch, "bert")
    r64, r32 = results[torch.float64], results[torch.float32]

    out = fresh_dir(FIXTURES / "encoders" / "minilm-mrpc64")
    write_tensors(out / "expected.safetensors", {
        "input_ids": packed(ids),
        "token_type_ids": packed(types),
        "lengths": torch.tensor([len(x) for x in ids], dtype=torch.long),
        "labels": torch.tensor([r["label"] for r in rows], dtype=torch.long),
        "classifier.weight": model32.classifier.weight,
        "classifier.bias": model32.classifier.bias,
        "logits": r64["logits"],
        "pooled": r64["pooled"],
    })
    lengths = [len(x) for x in ids]
    write_json(out / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "model_dir": "models/all-MiniLM-L6-v2",
        "model": "BertForSequenceClassification(num_labels=2), eval mode, classifier from torch.manual_seed(0)",
        "data": "../shared/glue/MRPC/dev.tsv, first 64 data rows",
        "tokenizer": "fast tokenizer from models/all-MiniLM-L6-v2/tokenizer.json, pairs (#1 String, #2 String), "
                     "truncation=True (longest_first), max_length=128",
        "num_truncated": sum(1 for n in lengths if n >= MINILM_MAX_LENGTH),
        "total_tokens": sum(lengths),
        "max_length_seen": max(lengths),
        "compute_dtype": "float64 on the float32 checkpoint weights, stored as float32",
        "float32_vs_float64": {
            "logits_max_abs": max_abs(r32["logits"], r64["logits"]),
            "pooled_max_abs": max_abs(r32["pooled"], r64["pooled"]),
        },
        "rows": [{"index": i, "label": r["label"], "s1": r["s1"], "s2": r["s2"]} for i, r in enumerate(rows)],
    })


# --------------------------------------------------------------------------------------
# (d) PEFT LoRA training steps

LORA_R, LORA_ALPHA = 4, 8
LORA_TARGETS = ["query", "value"]
# DistilBERT's attention projections are q_lin/k_lin/v_lin (PEFT has no default for it), and its
# head's first Linear, pre_classifier, is trained and saved with the classifier (PEFT's default
# modules_to_save would leave a freshly initialised pre_classifier frozen and unsaved).
LORA_TARGETS_BY_KIND = {"distilbert": ["q_lin", "v_lin"]}
MODULES_TO_SAVE_BY_KIND = {"distilbert": ["classifier", "pre_classifier"]}
LORA_B_INIT_STD = 0.2
LORA_LR, LORA_WD, LORA_BETAS, LORA_EPS = 1e-3, 0.01, (0.9, 0.999), 1e-8
LORA_STEPS = 3


def save_adapter(pm, path: Path, name: str) -> None:
    """PEFT's save_pretrained, made reproducible: no model-card README, a repo-relative
    base_model_name_or_path and sorted target_modules (PEFT keeps them in a set)."""
    pm.save_pretrained(str(path))
    (path / "README.md").unlink(missing_ok=True)
    cfg_path = path / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = f"Tests/Fixtures/lora/{name}/base"
    for key in ("target_modules", "modules_to_save"):
        if isinstance(cfg.get(key), list):
            cfg[key] = sorted(cfg[key])
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def lora_fixture(name: str, kind: str, seed: int, batch_seeds, batch_specs) -> None:
    from peft import LoraConfig, TaskType, get_peft_model, get_peft_model_state_dict

    out = fresh_dir(FIXTURES / "lora" / name)
    base32 = tiny_model(kind, 2, seed)
    base32.save_pretrained(str(out / "base"))
    cls = type(base32)

    def build():
        base = cls.from_pretrained(str(out / "base"), attn_implementation="eager")
        torch.manual_seed(seed + 100)  # PEFT's kaiming-uniform init of lora_A
        cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=LORA_R, lora_alpha=LORA_ALPHA,
                         target_modules=LORA_TARGETS_BY_KIND.get(kind, LORA_TARGETS), lora_dropout=0.0, bias="none",
                         modules_to_save=MODULES_TO_SAVE_BY_KIND.get(kind))
        pm = get_peft_model(base, cfg)
        g = torch.Generator().manual_seed(seed + 200)
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_B" in n:
                    p.copy_(LORA_B_INIT_STD * torch.randn(p.shape, generator=g))
        return pm

    pm32 = build()
    save_adapter(pm32, out / "adapter_init", name)
    peft_sd = get_peft_model_state_dict(pm32)
    trainable = [(n, p) for n, p in pm32.named_parameters() if p.requires_grad]
    initial = {n: p.detach().clone() for n, p in trainable}
    initial.update({k: v.detach().clone() for k, v in peft_sd.items()})
    write_tensors(out / "initial.safetensors", initial)

    # Map full module names <-> PEFT state-dict names (same tensors, same order).
    full_names = [n for n, _ in trainable]
    peft_names = list(peft_sd.keys())
    assert len(full_names) == len(peft_names)
    name_map = {}
    for fn in full_names:
        pn = fn.replace(".default.", ".").replace(".modules_to_save.", ".")
        assert pn in peft_sd and torch.equal(peft_sd[pn], dict(trainable)[fn]), fn
        name_map[fn] = pn

    batches = [make_batch(kind, s, **spec) for s, spec in zip(batch_seeds, batch_specs)]

    runs = {}
    for dtype in (torch.float64, torch.float32):
        pm = build().to(dtype)
        pm.train()  # all dropout probabilities are 0: identical to eval
        params = dict((n, p) for n, p in pm.named_parameters() if p.requires_grad)
        decay = [n for n in params if not n.endswith(".bias")]
        no_decay = [n for n in params if n.endswith(".bias")]
        opt = torch.optim.AdamW(
            [{"params": [params[n] for n in decay], "weight_decay": LORA_WD},
             {"params": [params[n] for n in no_decay], "weight_decay": 0.0}],
            lr=LORA_LR, betas=LORA_BETAS, eps=LORA_EPS, amsgrad=False, foreach=False, fused=False)
        record = {"loss": [], "logits": [], "grads": [], "decay": decay, "no_decay": no_decay}
        for step, batch in enumerate(batches, start=1):
            opt.zero_grad(set_to_none=True)
            res = run_unpadded(pm, batch, kind)
            loss = hf_loss(res["logits"], label_tensor(batch["labels"], 2), 2)
            if step == 1:
                chk = padded_check(pm, batch, kind, 2, dtype)
                record["padded"] = (max_abs(chk["logits"], res["logits"]),
                                    abs(chk["loss"].item() - loss.item()))
            loss.backward()
            record["loss"].append(loss.detach().clone())
            record["logits"].append(res["logits"].detach().clone())
            record["grads"].append({n: p.grad.detach().clone() for n, p in params.items()})
            opt.step()
        record["final"] = {n: p.detach().clone() for n, p in params.items()}
        runs[dtype] = (pm, record)

    pm64, r64 = runs[torch.float64]
    _, r32 = runs[torch.float32]
    assert r64["padded"][0] < 1e-10 and r64["padded"][1] < 1e-10, r64["padded"]

    tensors = {}
    for step, batch in enumerate(batches, start=1):
        tensors[f"step{step}.input_ids"] = packed(batch["input_ids"])
        tensors[f"step{step}.token_type_ids"] = packed(batch["token_type_ids"])
        tensors[f"step{step}.lengths"] = torch.tensor(batch["lengths"], dtype=torch.long)
        tensors[f"step{step}.labels"] = torch.tensor(batch["labels"], dtype=torch.long)
        tensors[f"step{step}.loss"] = r64["loss"][step - 1]
        tensors[f"step{step}.logits"] = r64["logits"][step - 1]
        for n, g in r64["grads"][step - 1].items():
            tensors[f"step{step}.grad.{n}"] = g
    for n, p in r64["final"].items():
        tensors[f"final.{n}"] = p
        tensors[f"final.{name_map[n]}"] = p
    write_tensors(out / "expected.safetensors", tensors)

    # The trained adapter as PEFT writes it (float32), for export tests.
    save_adapter(pm64.to(torch.float32), out / "adapter_final", name)

    min_abs_grad = [float(min(g.abs().min() for g in gs.values())) for gs in r64["grads"]]
    write_json(out / "batches.json", [
        {"step": i + 1, "input_ids": b["input_ids"], "token_type_ids": b["token_type_ids"],
         "labels": b["labels"], "lengths": b["lengths"]} for i, b in enumerate(batches)])
    write_json(out / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "base_model": "base/ (" + cls.__name__ + ", num_labels 2, seed " + str(seed) + ")",
        "special_token_ids": BERT_SPECIAL if kind in BERT_LIKE else ROBERTA_SPECIAL,
        "trainable_parameters": sum(p.numel() for _, p in trainable),
        "lora": {"r": LORA_R, "lora_alpha": LORA_ALPHA, "scaling": LORA_ALPHA / LORA_R,
                 "target_modules": LORA_TARGETS_BY_KIND.get(kind, LORA_TARGETS), "lora_dropout": 0.0, "bias": "none",
                 "task_type": "SEQ_CLS", "modules_to_save": MODULES_TO_SAVE_BY_KIND.get(kind, ["classifier"]),
                 "lora_A_init": "PEFT default (kaiming-uniform, a=sqrt(5)) after torch.manual_seed(" + str(seed + 100) + ")",
                 "lora_B_init": f"N(0, {LORA_B_INIT_STD}^2), not PEFT's zeros, so that step 1 is non-trivial"},
        "optimizer": {
            "type": "torch.optim.AdamW (foreach=False, fused=False, amsgrad=False)",
            "lr": LORA_LR, "betas": list(LORA_BETAS), "eps": LORA_EPS,
            "schedule": "constant", "grad_clipping": None,
            "weight_decay": LORA_WD,
            "weight_decay_groups": "names ending in .bias get weight_decay 0 (as HF Trainer; "
                                   "there are no trainable LayerNorm weights); all other trainable "
                                   "parameters (lora_A, lora_B, classifier weights) get weight_decay",
            "decay_params": r64["decay"], "no_decay_params": r64["no_decay"],
        },
        "steps": LORA_STEPS,
        "loss_definition": "per step: mean over the 4 sequences of cross-entropy(logits, labels); "
                           "loss and gradient are taken at the parameters before that step's update",
        "losses": [float(x) for x in r64["loss"]],
        "full_to_peft_names": name_map,
        "min_abs_grad_per_step": min_abs_grad,
        "compute_dtype": "float64 on the float32 initial weights, stored as float32",
        "float32_vs_float64": {
            "loss_abs": max(abs(float(a) - float(b)) for a, b in zip(r32["loss"], r64["loss"])),
            "final_weights_max_abs": max(max_abs(r32["final"][n], p) for n, p in r64["final"].items()),
        },
        "padded_batch_check_step1": {"logits_max_abs": r64["padded"][0], "loss_abs": r64["padded"][1]},
    })


LORA_BATCH_SPECS = {
    "bert": [
        dict(lengths=[6, 11, 4, 8], pairs=[None, 4, None, 2], labels=[1, 0, 1, 0]),
        dict(lengths=[10, 3, 7, 5], pairs=[3, None, 2, None], labels=[0, 0, 1, 1]),
        dict(lengths=[9, 13, 5, 6], pairs=[None, 6, 1, None], labels=[1, 1, 0, 0]),
    ],
    "roberta": [
        dict(lengths=[6, 11, 4, 8], pairs=[None, 4, None, 2], labels=[1, 0, 1, 0]),
        dict(lengths=[10, 3, 7, 5], pairs=[3, None, 2, None], labels=[0, 0, 1, 1]),
        dict(lengths=[9, 13, 5, 6], pairs=[None, 6, None, None], labels=[1, 1, 0, 0]),
    ],
}


def make_lora() -> None:
    lora_fixture("peft-tiny-roberta", "roberta", seed=12, batch_seeds=[201, 202, 203],
                 batch_specs=LORA_BATCH_SPECS["roberta"])
    lora_fixture("peft-tiny-bert", "bert", seed=21, batch_seeds=[211, 212, 213],
                 batch_specs=LORA_BATCH_SPECS["bert"])


# --------------------------------------------------------------------------------------

GROUPS = {"adamw": make_adamw, "encoders": make_encoders, "minilm": make_minilm, "lora": make_lora,
          "families": make_families}


def main(argv) -> None:
    names = argv or list(GROUPS)
    for n in names:
        if n not in GROUPS:
            raise SystemExit(f"unknown group {n!r}; choose from {', '.join(GROUPS)}")
    for n in names:
        print(f"[make_fixtures] {n}", flush=True)
        GROUPS[n]()
    for path in FIXTURES.rglob("*"):  # safetensors/transformers write 0600 files
        if path.is_file() and path.suffix in (".json", ".safetensors"):
            path.chmod(0o644)
    print("[make_fixtures] done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
