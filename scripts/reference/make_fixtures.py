#!/usr/bin/env python3
"""Generates the PyTorch / transformers / peft reference fixtures under Tests/Fixtures.

Run from the repository root with the reference venv (see scripts/reference/README.md):

    ../refenv/bin/python scripts/reference/make_fixtures.py            # everything
    ../refenv/bin/python scripts/reference/make_fixtures.py adamw lora # only some groups

Groups: adamw, encoders, minilm, lora, families, modernbert, loraplus, pissa. Every group is deterministic
(fixed seeds, one thread); re-running rewrites byte-identical files. CI never runs this script: the
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

import contextlib
import copy
import csv
import json
import math
import re
import shutil
import sys
import tempfile
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
    CamembertConfig,
    CamembertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    ModernBertConfig,
    ModernBertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
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
# Model types on RoBERTa's architecture (tensor names roberta.*, classifier.dense/out_proj, positions
# after the padding id, pad id 1): each is built from its own config and *ForSequenceClassification class.
ROBERTA_LIKE = {
    "roberta": (RobertaConfig, RobertaForSequenceClassification),
    "xlm-roberta": (XLMRobertaConfig, XLMRobertaForSequenceClassification),
    "camembert": (CamembertConfig, CamembertForSequenceClassification),
}

# ModernBERT (see section (f)): its published ids are unk 50280, [CLS] 50281 (= bos), [SEP] 50282
# (= eos), [PAD] 50283, [MASK] 50284; the tiny vocabulary keeps that order, shifted to 0.
MODERNBERT_SPECIAL = {"unk": 0, "cls": 1, "sep": 2, "pad": 3, "mask": 4}
MODERNBERT_GLOBAL_EVERY = 3  # layers 0 and 3 global (full) attention, 1 and 2 local (sliding)
MODERNBERT_THETA = {"full_attention": 10000.0, "sliding_attention": 160.0}  # global, local rope theta
MODERNBERT_LAYERS = 4
MODERNBERT_TINY = dict(
    vocab_size=101, hidden_size=48, num_hidden_layers=MODERNBERT_LAYERS, num_attention_heads=4,
    intermediate_size=40, max_position_embeddings=64, hidden_activation="gelu",
    classifier_activation="gelu", norm_eps=1e-5, local_attention=8,
    layer_types=["sliding_attention" if i % MODERNBERT_GLOBAL_EVERY else "full_attention"
                 for i in range(MODERNBERT_LAYERS)],
    rope_parameters={t: {"rope_type": "default", "rope_theta": th} for t, th in MODERNBERT_THETA.items()},
    attention_dropout=0.0, embedding_dropout=0.0, mlp_dropout=0.0, classifier_dropout=0.0,
    initializer_range=0.02, pad_token_id=MODERNBERT_SPECIAL["pad"], bos_token_id=MODERNBERT_SPECIAL["cls"],
    eos_token_id=MODERNBERT_SPECIAL["sep"], cls_token_id=MODERNBERT_SPECIAL["cls"],
    sep_token_id=MODERNBERT_SPECIAL["sep"],
)
MODERNBERT_BIAS_FLAGS = ("attention_bias", "mlp_bias", "norm_bias", "classifier_bias")


def special_ids(kind: str) -> dict:
    if kind == "modernbert":
        return MODERNBERT_SPECIAL
    return BERT_SPECIAL if kind in BERT_LIKE else ROBERTA_SPECIAL


def tiny_model(kind: str, num_labels: int, seed: int, **overrides):
    """overrides: extra config keys, ModernBERT only (classifier_pooling, the bias flags)."""
    problem = "regression" if num_labels == 1 else "single_label_classification"
    assert kind == "modernbert" or not overrides, overrides
    if kind == "modernbert":
        cfg = ModernBertConfig(**copy.deepcopy({**MODERNBERT_TINY, **overrides}), num_labels=num_labels,
                               problem_type=problem, attn_implementation="eager")
        cls = ModernBertForSequenceClassification
    elif kind == "bert":
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
    else:  # roberta, xlm-roberta, camembert
        config_cls, cls = ROBERTA_LIKE[kind]
        cfg = config_cls(**TINY, type_vocab_size=1, pad_token_id=ROBERTA_SPECIAL["pad"],
                         bos_token_id=ROBERTA_SPECIAL["bos"], eos_token_id=ROBERTA_SPECIAL["eos"],
                         layer_norm_eps=1e-5, num_labels=num_labels, problem_type=problem,
                         attn_implementation="eager")
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
            # ModernBERT's LayerNorms: embeddings.norm, layers.i.{attn,mlp}_norm, final_norm, head.norm
            # (layer 0's attn_norm is an Identity, without parameters).
            if "LayerNorm.weight" in name or "layer_norm.weight" in name or name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith(".bias"):
                p.copy_(0.1 * r)
            elif "embeddings" in name and "embeddings_project" not in name:
                p.copy_(0.5 * r)
            else:  # Linear weight (out, in)
                p.copy_(r / math.sqrt(p.shape[1]))


def make_sequence(rng: np.random.RandomState, kind: str, length: int, pair_at: int | None, vocab: int):
    """One sequence of `length` tokens: [CLS] a.. [SEP] (b.. [SEP]) for bert,
    <s> a.. </s> (</s> b.. </s>) for roberta. pair_at = number of tokens of segment a.
    ModernBERT: [CLS] a.. [SEP] (b.. [SEP]) with its own ids and no token types (all 0)."""
    if kind == "modernbert":
        cls_id, sep_id = MODERNBERT_SPECIAL["cls"], MODERNBERT_SPECIAL["sep"]
        if pair_at is None:
            words = rng.randint(FIRST_ORDINARY_ID, vocab, size=length - 2).tolist()
            return [cls_id] + words + [sep_id], [0] * length
        a = rng.randint(FIRST_ORDINARY_ID, vocab, size=pair_at).tolist()
        b = rng.randint(FIRST_ORDINARY_ID, vocab, size=length - pair_at - 3).tolist()
        return [cls_id] + a + [sep_id] + b + [sep_id], [0] * length
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
    pad = special_ids(kind)["pad"]
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


def encoder_fixture(name: str, kind: str, num_labels: int, seed: int, batch: dict,
                    model_kwargs: dict | None = None, extra_meta=None) -> None:
    """model_kwargs: config overrides (ModernBERT). extra_meta(out, model32, batch, r64, r32) -> dict
    of family-specific checks, merged into meta.json."""
    out = fresh_dir(FIXTURES / "encoders" / name)
    model32 = tiny_model(kind, num_labels, seed, **(model_kwargs or {}))
    model32.save_pretrained(str(out))
    # The saved checkpoint is exactly the float32 model.
    reloaded = type(model32).from_pretrained(str(out), attn_implementation="eager")
    for (n1, p1), (n2, p2) in zip(model32.named_parameters(), reloaded.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2), n1

    results = {}
    for dtype in (torch.float64, torch.float32):
        model = copy.deepcopy(model32).to(dtype)
        model.zero_grad(set_to_none=True)
        captured, hooks = {"pre_final_norm": [], "pooled": []}, []
        if kind == "modernbert":  # last hidden state before final_norm, and the classifier's input
            hooks.append(model.model.final_norm.register_forward_hook(
                lambda m, i, o: captured["pre_final_norm"].append(i[0][0])))
            hooks.append(model.classifier.register_forward_hook(
                lambda m, i, o: captured["pooled"].append(i[0])))
        res = run_unpadded(model, batch, kind)
        for h in hooks:
            h.remove()
        if kind == "modernbert":
            res["hidden_pre_final_norm"] = torch.cat(captured["pre_final_norm"], 0)
            res["pooled"] = torch.cat(captured["pooled"], 0)
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
    if kind in ("bert", "modernbert"):
        tensors["pooled"] = r64["pooled"]
    if kind == "modernbert":
        tensors["hidden_pre_final_norm"] = r64["hidden_pre_final_norm"]
    for n, g in r64["grads"].items():
        tensors[f"grad.{n}"] = g
    write_tensors(out / "expected.safetensors", tensors)

    grad_abs = max(max_abs(r32["grads"][n], g) for n, g in r64["grads"].items())
    grad_scale = max(float(g.abs().max()) for g in r64["grads"].values())
    zero_grads = [n for n, g in r64["grads"].items() if float(g.abs().max()) < 1e-12]
    special = special_ids(kind)
    write_json(out / "batch.json", {
        "input_ids": batch["input_ids"],
        "token_type_ids": batch["token_type_ids"],
        "labels": batch["labels"],
        "lengths": batch["lengths"],
    })
    if kind == "modernbert":
        position_ids = "0..len-1 per sequence, used only by RoPE (no position embeddings)"
        zero_note = ("none expected: RoPE rotates the key bias by a position-dependent angle, so softmax "
                     "is not invariant to it (unlike BERT's key bias)")
    else:
        position_ids = ("0..len-1" if kind in BERT_LIKE else
                        "padding_idx+1 .. padding_idx+len, i.e. 2..len+1 (RoBERTa)")
        zero_note = ("softmax is invariant to the key bias (it adds q.b_k, "
                     "the same for every key), so grad.*.attention.self.key.bias is 0 up to float64 "
                     "round-off (~1e-17); compare these with an absolute tolerance")
    meta = {
        "generator": GENERATOR,
        "versions": versions(),
        "model": type(model32).__name__,
        "num_labels": num_labels,
        "problem_type": model32.config.problem_type,
        "seed": seed,
        "special_token_ids": special,
        "position_ids": position_ids,
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
        "mathematically_zero_grads_note": zero_note,
        "padded_batch_check": {"logits_max_abs": pad_logit_diff, "loss_abs": pad_loss_diff},
    }
    if kind == "modernbert":
        meta["float32_vs_float64"]["pooled_max_abs"] = max_abs(r32["pooled"], r64["pooled"])
        meta["float32_vs_float64"]["hidden_pre_final_norm_max_abs"] = max_abs(
            r32["hidden_pre_final_norm"], r64["hidden_pre_final_norm"])
        meta["float32_vs_float64"]["hidden_states_max_abs"] = [
            max_abs(a, b) for a, b in zip(r32["hidden_states"], r64["hidden_states"])]
    if extra_meta is not None:
        meta.update(extra_meta(out, model32, batch, r64, r32))
    write_json(out / "meta.json", meta)


BERT_BATCH = dict(lengths=[7, 12, 3, 9], pairs=[None, 5, None, 3])
ROBERTA_BATCH = dict(lengths=[7, 12, 3, 9], pairs=[None, 4, None, 3])


def make_encoders() -> None:
    encoder_fixture("tiny-bert", "bert", 3, seed=11,
                    batch=make_batch("bert", 101, **BERT_BATCH, labels=[2, 0, 1, 2]))
    encoder_fixture("tiny-roberta", "roberta", 2, seed=12,
                    batch=make_batch("roberta", 102, **ROBERTA_BATCH, labels=[1, 0, 0, 1]))
    encoder_fixture("tiny-roberta-regression", "roberta", 1, seed=13,
                    batch=make_batch("roberta", 103, **ROBERTA_BATCH, labels=[0.5, 3.25, -1.0, 2.0]))


def peft_default_targets(model_type: str) -> dict:
    """PEFT's own default LoRA targets for a model_type (None where PEFT has none), recorded in meta.json."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as mapping

    targets = mapping.get(model_type)
    return {"peft_default_target_modules": sorted(targets) if targets is not None else None}


def make_families() -> None:
    """Families beyond BERT and RoBERTa: ELECTRA (with embeddings_project) and DistilBERT; the
    XLM-RoBERTa and CamemBERT model types on RoBERTa's architecture."""
    encoder_fixture("tiny-electra", "electra", 3, seed=14,
                    batch=make_batch("electra", 104, **BERT_BATCH, labels=[2, 0, 1, 2]))
    encoder_fixture("tiny-distilbert", "distilbert", 3, seed=15,
                    batch=make_batch("distilbert", 105, **BERT_BATCH, labels=[0, 2, 1, 1]))
    lora_fixture("peft-tiny-electra", "electra", seed=24, batch_seeds=[241, 242, 243],
                 batch_specs=LORA_BATCH_SPECS["bert"])
    lora_fixture("peft-tiny-distilbert", "distilbert", seed=25, batch_seeds=[251, 252, 253],
                 batch_specs=LORA_BATCH_SPECS["bert"])
    # PEFT's default targets for xlm-roberta are query, value (the ones passed); it has none for
    # camembert. modules_to_save: PEFT's SEQ_CLS default (classifier), as the roberta fixtures.
    assert peft_default_targets("xlm-roberta")["peft_default_target_modules"] == LORA_TARGETS
    encoder_fixture("tiny-xlm-roberta", "xlm-roberta", 3, seed=18,
                    batch=make_batch("xlm-roberta", 108, **ROBERTA_BATCH, labels=[2, 0, 1, 2]))
    encoder_fixture("tiny-camembert", "camembert", 2, seed=19,
                    batch=make_batch("camembert", 109, **ROBERTA_BATCH, labels=[0, 1, 1, 0]))
    # Seeds chosen so that no gradient element is below 5e-7 (min_abs_grad_per_step; seed 27 had 7e-9).
    lora_fixture("peft-tiny-xlm-roberta", "xlm-roberta", seed=36, batch_seeds=[361, 362, 363],
                 batch_specs=LORA_BATCH_SPECS["roberta"], extra_meta=peft_default_targets("xlm-roberta"))
    lora_fixture("peft-tiny-camembert", "camembert", seed=32, batch_seeds=[321, 322, 323],
                 batch_specs=LORA_BATCH_SPECS["roberta"], extra_meta=peft_default_targets("camembert"))


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
# head's first Linear, pre_classifier, is trained and saved with the classifier, named explicitly
# (PEFT 0.21's default modules_to_save, ["classifier", "score"], happens to wrap pre_classifier too:
# _set_trainable matches by bare suffix, "pre_classifier".endswith("classifier")).
# ModernBERT's attention has one fused projection, Wqkv (PEFT has no default target for it); its
# classification head is `head` (dense -> act -> norm, pretrained with the masked-LM objective)
# then `classifier`: PEFT's SEQ_CLS default wraps only `classifier`, leaving `head` frozen, and
# swift-lora does the same.
LORA_TARGETS_BY_KIND = {"distilbert": ["q_lin", "v_lin"], "modernbert": ["Wqkv"]}
MODULES_TO_SAVE_BY_KIND = {"distilbert": ["classifier", "pre_classifier"]}
# HF Trainer's get_decay_parameter_names (transformers 5.24): no weight decay for parameters of
# nn.LayerNorm modules or whose lower-cased name matches one of these.
NO_DECAY_PATTERNS = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]
LORA_B_INIT_STD = 0.2
LORA_LR, LORA_WD, LORA_BETAS, LORA_EPS = 1e-3, 0.01, (0.9, 0.999), 1e-8
LORA_STEPS = 3


def save_adapter(pm, path: Path, name: str, **save_kwargs) -> None:
    """PEFT's save_pretrained (with save_kwargs), made reproducible: no model-card README, a repo-relative
    base_model_name_or_path and sorted target_modules (PEFT keeps them in a set)."""
    pm.save_pretrained(str(path), **save_kwargs)
    (path / "README.md").unlink(missing_ok=True)
    cfg_path = path / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = f"Tests/Fixtures/lora/{name}/base"
    for key in ("target_modules", "modules_to_save"):
        if isinstance(cfg.get(key), list):
            cfg[key] = sorted(cfg[key])
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def trainer_no_decay(model: torch.nn.Module, name: str) -> bool:
    """True where HF Trainer would give the trainable parameter `name` weight_decay 0."""
    module = model.get_submodule(name.rsplit(".", 1)[0])
    return isinstance(module, torch.nn.LayerNorm) or any(
        re.search(pat, name.lower()) for pat in NO_DECAY_PATTERNS)


def step_tensors(batches, r64, gradients: bool) -> dict:
    """The per-step tensors of a LoRA fixture: each step's packed batch, loss and logits (and,
    with `gradients`, the gradient of every trained tensor), from the float64 record."""
    tensors = {}
    for step, batch in enumerate(batches, start=1):
        tensors[f"step{step}.input_ids"] = packed(batch["input_ids"])
        tensors[f"step{step}.token_type_ids"] = packed(batch["token_type_ids"])
        tensors[f"step{step}.lengths"] = torch.tensor(batch["lengths"], dtype=torch.long)
        tensors[f"step{step}.labels"] = torch.tensor(batch["labels"], dtype=torch.long)
        tensors[f"step{step}.loss"] = r64["loss"][step - 1]
        tensors[f"step{step}.logits"] = r64["logits"][step - 1]
        if gradients:
            for n, g in r64["grads"][step - 1].items():
                tensors[f"step{step}.grad.{n}"] = g
    return tensors


def final_tensors(r64, name_map) -> dict:
    """Every trained tensor's final value, under PEFT's full name and its saved name."""
    tensors = {}
    for n, p in r64["final"].items():
        tensors[f"final.{n}"] = p
        tensors[f"final.{name_map[n]}"] = p
    return tensors


def lora_fixture(name: str, kind: str, seed: int, batch_seeds, batch_specs,
                 model_kwargs: dict | None = None, extra_meta: dict | None = None,
                 batch_vocab: int = TINY["vocab_size"]) -> None:
    from peft import LoraConfig, TaskType, get_peft_model, get_peft_model_state_dict

    out = fresh_dir(FIXTURES / "lora" / name)
    base32 = tiny_model(kind, 2, seed, **(model_kwargs or {}))
    base32.save_pretrained(str(out / "base"))
    cls = type(base32)

    def build():
        base = cls.from_pretrained(str(out / "base"), attn_implementation="eager")
        torch.manual_seed(seed + 100)  # PEFT's kaiming-uniform init of lora_A
        # PEFT extends the modules_to_save list it is given by "classifier", "score". The committed
        # DistilBERT fixture was made passing the shared list (so each build added duplicates, seen in its
        # adapter_final/adapter_config.json); newer families get a fresh copy per build.
        modules_to_save = MODULES_TO_SAVE_BY_KIND.get(kind)  # None for ModernBERT: PEFT's default
        cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=LORA_R, lora_alpha=LORA_ALPHA,
                         target_modules=LORA_TARGETS_BY_KIND.get(kind, LORA_TARGETS), lora_dropout=0.0, bias="none",
                         modules_to_save=modules_to_save)
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

    batches = [make_batch(kind, s, **spec, vocab=batch_vocab) for s, spec in zip(batch_seeds, batch_specs)]

    runs = {}
    for dtype in (torch.float64, torch.float32):
        pm = build().to(dtype)
        pm.train()  # all dropout probabilities are 0: identical to eval
        params = dict((n, p) for n, p in pm.named_parameters() if p.requires_grad)
        decay = [n for n in params if not trainer_no_decay(pm, n)]
        no_decay = [n for n in params if trainer_no_decay(pm, n)]
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

    tensors = step_tensors(batches, r64, gradients=True)
    tensors.update(final_tensors(r64, name_map))
    write_tensors(out / "expected.safetensors", tensors)

    # The trained adapter as PEFT writes it (float32), for export tests.
    save_adapter(pm64.to(torch.float32), out / "adapter_final", name)

    min_abs_grad = [float(min(g.abs().min() for g in gs.values())) for gs in r64["grads"]]
    if all(n.endswith(".bias") for n in r64["no_decay"]):
        groups_note = ("names ending in .bias get weight_decay 0 (as HF Trainer; "
                       "there are no trainable LayerNorm weights); all other trainable "
                       "parameters (lora_A, lora_B, classifier weights) get weight_decay")
    else:
        groups_note = ("as HF Trainer's get_decay_parameter_names: biases and LayerNorm parameters "
                       "(here the head's norm) get weight_decay 0; all other trainable parameters "
                       "(lora_A, lora_B, dense/classifier weights) get weight_decay")
    write_json(out / "batches.json", [
        {"step": i + 1, "input_ids": b["input_ids"], "token_type_ids": b["token_type_ids"],
         "labels": b["labels"], "lengths": b["lengths"]} for i, b in enumerate(batches)])
    write_json(out / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "base_model": "base/ (" + cls.__name__ + ", num_labels 2, seed " + str(seed) + ")",
        "special_token_ids": special_ids(kind),
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
            "weight_decay_groups": groups_note,
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
        **(extra_meta or {}),
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
# (f) ModernBERT

MODERNBERT_BATCH = dict(lengths=[7, 13, 3, 21], pairs=[None, 5, None, 9])  # > local window (9 tokens)
MODERNBERT_LORA_BATCH_SPECS = [
    dict(lengths=[6, 11, 4, 17], pairs=[None, 4, None, 7], labels=[1, 0, 1, 0]),
    dict(lengths=[10, 3, 19, 5], pairs=[3, None, 8, None], labels=[0, 0, 1, 1]),
    dict(lengths=[9, 13, 5, 22], pairs=[None, 6, 1, None], labels=[1, 1, 0, 0]),
]
MODERNBERT_FLOAT64_NOTE = (
    "transformers' ModernBERT computes RoPE and the eager softmax in float32 whatever the model dtype "
    "(inv_freq and cos/sin in float32, q/k cast with .float() for the rotation, softmax(dtype=float32)). "
    "For the float64 reference these three are replaced by the same formulas in float64 "
    "(inv_freq = theta^(-2k/d) computed in float64); float32 runs call transformers' own functions, unchanged")


_MB = sys.modules[ModernBertForSequenceClassification.__module__]  # transformers' modeling_modernbert
_MB_SHIPPED = (_MB.apply_rotary_pos_emb, _MB.eager_attention_forward, _MB.ModernBertRotaryEmbedding.forward)


def _mb_install(functions) -> None:
    _MB.apply_rotary_pos_emb, _MB.eager_attention_forward, _MB.ModernBertRotaryEmbedding.forward = functions


@contextlib.contextmanager
def modernbert_exact_float64(enabled: bool = True):
    """While active, a float64 ModernBERT computes RoPE and softmax in float64 (see
    MODERNBERT_FLOAT64_NOTE); float32 calls go to transformers' original functions. With
    enabled=False, transformers' functions as shipped. The previous state is restored on exit."""
    mb = _MB
    orig_rope, orig_eager, orig_rotary_forward = _MB_SHIPPED

    def rotary_forward(self, x, position_ids, layer_type):
        if x.dtype != torch.float64:
            return orig_rotary_forward(self, x, position_ids, layer_type)
        assert self.rope_type[layer_type] == "default"
        base = self.config.rope_parameters[layer_type]["rope_theta"]
        dim = self.config.hidden_size // self.config.num_attention_heads
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
        freqs = position_ids[..., None].to(torch.float64) * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def apply_rope(q, k, cos, sin, unsqueeze_dim=1):
        if q.dtype != torch.float64:
            return orig_rope(q, k, cos, sin, unsqueeze_dim=unsqueeze_dim)
        cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
        return q * cos + mb.rotate_half(q) * sin, k * cos + mb.rotate_half(k) * sin

    def eager(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        if query.dtype != torch.float64:
            return orig_eager(module, query, key, value, attention_mask, scaling, dropout, **kwargs)
        w = torch.matmul(query, key.transpose(2, 3)) * scaling
        if attention_mask is not None:
            w = w + attention_mask
        w = torch.nn.functional.softmax(w, dim=-1)
        w = torch.nn.functional.dropout(w, p=dropout, training=module.training)
        return torch.matmul(w, value).transpose(1, 2).contiguous(), w

    previous = (mb.apply_rotary_pos_emb, mb.eager_attention_forward, mb.ModernBertRotaryEmbedding.forward)
    _mb_install((apply_rope, eager, rotary_forward) if enabled else _MB_SHIPPED)
    try:
        yield
    finally:
        _mb_install(previous)


def modernbert_manual(model, ids, *, window_delta=0, no_window=False, swap_glu=False,
                      interleaved_rope=False, swap_thetas=False, tanh_gelu=False, no_final_norm=False):
    """ModernBERT for one sequence, written out from the maths (float64, no transformers code).
    The keyword arguments are deliberate mistakes, to measure how much each would show."""
    cfg = model.config
    sd = {k: v.detach().double() for k, v in model.state_dict().items()}
    C, H = cfg.hidden_size, cfg.num_attention_heads
    D, I, L = C // H, cfg.intermediate_size, len(ids)

    def ln(x, prefix):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + cfg.norm_eps) * sd[prefix + ".weight"]
        return y + sd[prefix + ".bias"] if prefix + ".bias" in sd else y

    def lin(x, prefix):
        y = x @ sd[prefix + ".weight"].T
        return y + sd[prefix + ".bias"] if prefix + ".bias" in sd else y

    def gelu(x):
        if tanh_gelu:
            return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

    def rope(t, theta):  # t (L, H, D); dims j and j + D/2 rotate together by angle pos * theta^(-2j/D)
        inv = theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
        ang = torch.arange(L, dtype=torch.float64)[:, None] * inv[None, :]
        c, s = ang.cos()[:, None, :], ang.sin()[:, None, :]
        if interleaved_rope:  # GPT-J style pairs (2j, 2j+1): wrong for ModernBERT
            t1, t2 = t[..., 0::2], t[..., 1::2]
            return torch.stack((t1 * c - t2 * s, t2 * c + t1 * s), -1).reshape(t.shape)
        t1, t2 = t[..., : D // 2], t[..., D // 2:]
        return torch.cat((t1 * c - t2 * s, t2 * c + t1 * s), -1)

    x = ln(sd["model.embeddings.tok_embeddings.weight"][torch.tensor(ids)], "model.embeddings.norm")
    states = [x]
    half = cfg.local_attention // 2 + window_delta
    dist = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs()
    for i, layer_type in enumerate(cfg.layer_types):
        p = f"model.layers.{i}."
        h = x if i == 0 else ln(x, p + "attn_norm")
        qkv = lin(h, p + "attn.Wqkv").view(L, 3, H, D)  # [q | k | v], each heads x head_dim
        theta_type = layer_type
        if swap_thetas:
            theta_type = "sliding_attention" if layer_type == "full_attention" else "full_attention"
        theta = cfg.rope_parameters[theta_type]["rope_theta"]
        q, k, v = rope(qkv[:, 0], theta), rope(qkv[:, 1], theta), qkv[:, 2]
        scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(D)
        if layer_type == "sliding_attention" and not no_window:
            scores = scores.masked_fill(dist > half, float("-inf"))
        a = torch.einsum("hij,jhd->ihd", torch.softmax(scores, -1), v).reshape(L, C)
        x = x + lin(a, p + "attn.Wo")
        u = lin(ln(x, p + "mlp_norm"), p + "mlp.Wi")
        inp, gate = (u[:, I:], u[:, :I]) if swap_glu else (u[:, :I], u[:, I:])
        x = x + lin(gelu(inp) * gate, p + "mlp.Wo")
        states.append(x)
    pre_final = x
    x = x if no_final_norm else ln(x, "model.final_norm")
    states[-1] = x  # transformers' hidden_states[-1] is the last hidden state, after final_norm
    pooled_in = x[0] if cfg.classifier_pooling == "cls" else x.mean(0)
    pooled = ln(gelu(lin(pooled_in, "head.dense")), "head.norm")
    return {"logits": lin(pooled, "classifier")[None], "hidden_states": states,
            "pre_final_norm": pre_final, "pooled": pooled[None]}


MODERNBERT_MISTAKES = {
    "local_window_one_less (|i-j| <= w/2 - 1)": dict(window_delta=-1),
    "local_window_one_more (|i-j| <= w/2 + 1)": dict(window_delta=1),
    "no_local_window": dict(no_window=True),
    "geglu_chunks_swapped (act(gate) * input)": dict(swap_glu=True),
    "rope_interleaved_pairs (2j, 2j+1)": dict(interleaved_rope=True),
    "rope_thetas_swapped": dict(swap_thetas=True),
    "gelu_tanh_approximation": dict(tanh_gelu=True),
    "no_final_norm": dict(no_final_norm=True),
}


def modernbert_published_spelling(config: dict) -> dict:
    """config.json as transformers 5 writes it -> the spelling of published (transformers 4)
    checkpoints: global_attn_every_n_layers, global_rope_theta, local_rope_theta."""
    pub = {k: v for k, v in config.items() if k not in ("layer_types", "rope_parameters")}
    types = config["layer_types"]
    expected = ["sliding_attention" if i % MODERNBERT_GLOBAL_EVERY else "full_attention" for i in range(len(types))]
    assert types == expected, types
    assert all(v == {"rope_type": "default", "rope_theta": v["rope_theta"]} for v in config["rope_parameters"].values())
    pub["global_attn_every_n_layers"] = MODERNBERT_GLOBAL_EVERY
    pub["global_rope_theta"] = config["rope_parameters"]["full_attention"]["rope_theta"]
    pub["local_rope_theta"] = config["rope_parameters"]["sliding_attention"]["rope_theta"]
    return dict(sorted(pub.items()))


def modernbert_checks(out: Path, model32, batch: dict, r64: dict, r32: dict) -> dict:
    """ModernBERT-specific checks of an encoder fixture, recorded in its meta.json: the maths
    written out by hand agrees with transformers; how much each likely mistake would change the
    logits; transformers' own float64 path (float32 RoPE/softmax) against the reference; and
    (tiny-modernbert) the published config spelling loads into the same model."""
    cfg = model32.config
    model64 = copy.deepcopy(model32).to(torch.float64)
    manual = [modernbert_manual(model64, ids) for ids in batch["input_ids"]]
    man_logits = torch.cat([m["logits"] for m in manual], 0)
    manual_diff = {
        "logits_max_abs": max_abs(man_logits, r64["logits"]),
        "pooled_max_abs": max_abs(torch.cat([m["pooled"] for m in manual], 0), r64["pooled"]),
        "hidden_pre_final_norm_max_abs": max_abs(torch.cat([m["pre_final_norm"] for m in manual], 0),
                                                 r64["hidden_pre_final_norm"]),
        "hidden_states_max_abs": [max_abs(torch.cat([m["hidden_states"][i] for m in manual], 0), h)
                                  for i, h in enumerate(r64["hidden_states"])],
    }
    assert max([manual_diff["logits_max_abs"], manual_diff["pooled_max_abs"],
                manual_diff["hidden_pre_final_norm_max_abs"], *manual_diff["hidden_states_max_abs"]]) < 1e-11, manual_diff
    mistakes = {}
    for label, kw in MODERNBERT_MISTAKES.items():
        wrong = torch.cat([modernbert_manual(model64, ids, **kw)["logits"] for ids in batch["input_ids"]], 0)
        mistakes[label] = max_abs(wrong, man_logits)
    assert min(mistakes.values()) > 1e-4, mistakes  # far above float32 round-off (~1e-6)

    # transformers' float64 path as shipped, and float32 unaffected by the patch (bit-identical).
    with torch.no_grad():
        with modernbert_exact_float64(True):
            patched32 = run_unpadded(model32, batch, "modernbert")["logits"]
        with modernbert_exact_float64(False):
            shipped32 = run_unpadded(model32, batch, "modernbert")["logits"]
            shipped64 = run_unpadded(model64, batch, "modernbert")["logits"]
    assert torch.equal(patched32, shipped32) and torch.equal(shipped32, r32["logits"])
    assert 0 < max_abs(shipped64, r64["logits"]) < 1e-5
    num_labels = cfg.num_labels
    with modernbert_exact_float64(False):
        padded32 = padded_check(model32, batch, "modernbert", num_labels, torch.float32)["logits"]
        padded64 = padded_check(model64, batch, "modernbert", num_labels, torch.float64)["logits"]
    assert not torch.isnan(padded32).any()
    shipped_padded = {
        "float32_logits_max_abs_vs_reference": max_abs(padded32, r64["logits"]),
        "float64_eager_sequences_with_nan_logits": torch.isnan(padded64).any(dim=1).tolist(),
        "note": "transformers 5.24's own float64 eager path on a padded batch: the additive mask holds "
                "finfo(float64).min, which softmax(dtype=float32) turns into -inf; a padding query whose "
                "sliding window holds no real key (position >= length + local_attention/2) gets an "
                "all -inf row, softmax NaN, and from the next layer on NaN reaches every token of that "
                "sequence through V (0 * NaN). float32 (mask finfo(float32).min) and the float64 reference "
                "path are unaffected; sequences without padding (the longest) are unaffected",
    }

    result = {
        "float64_reference_note": MODERNBERT_FLOAT64_NOTE,
        "transformers_float64_as_shipped_vs_reference_logits_max_abs": max_abs(shipped64, r64["logits"]),
        "padded_batch_transformers_as_shipped": shipped_padded,
        "manual_maths_vs_reference": manual_diff,
        "logit_change_if_implemented_wrongly": mistakes,
    }
    saved = json.loads((out / "config.json").read_text())
    result["config_json_as_saved"] = saved
    if cfg.classifier_pooling == "cls":
        result.update(modernbert_config_spellings(out, saved, r64["logits"]))
    return result


def modernbert_config_spellings(out: Path, saved: dict, logits64: torch.Tensor) -> dict:
    """Writes config-published-spelling.json and config-transformers5-resaved.json beside
    config.json and checks that each loads into a model with bit-identical float32 logits to
    from_pretrained(out). (Loaded, not in-memory, models are compared: weights mmapped from the
    safetensors file are not 64-byte aligned, which changes float32 BLAS rounding by ~3e-7.)"""
    assert "layer_types" in saved and "rope_parameters" in saved
    assert not {"global_attn_every_n_layers", "global_rope_theta", "local_rope_theta"} & set(saved)
    published = modernbert_published_spelling(saved)
    (out / "config-published-spelling.json").write_text(json.dumps(published, indent=2, sort_keys=True) + "\n")
    batch = json.loads((out / "batch.json").read_text())
    ref_model = ModernBertForSequenceClassification.from_pretrained(str(out), attn_implementation="eager").eval()
    ref = ref_model.config
    with torch.no_grad():
        logits32 = run_unpadded(ref_model, batch, "modernbert")["logits"]

    def load(config: dict):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "config.json").write_text(json.dumps(config))
            (Path(tmp) / "model.safetensors").symlink_to(out / "model.safetensors")
            m = ModernBertForSequenceClassification.from_pretrained(tmp, attn_implementation="eager").eval()
            m.save_pretrained(tmp + "/resaved")
            resaved = json.loads((Path(tmp) / "resaved" / "config.json").read_text())
        return m, resaved

    m_pub, resaved = load(published)
    assert m_pub.config.layer_types == ref.layer_types and m_pub.config.rope_parameters == ref.rope_parameters
    assert m_pub.config.sliding_window == ref.sliding_window == MODERNBERT_TINY["local_attention"] // 2
    with torch.no_grad():
        pub_logits = run_unpadded(m_pub, batch, "modernbert")["logits"]
    assert torch.equal(pub_logits, logits32)
    (out / "config-transformers5-resaved.json").write_text(json.dumps(resaved, indent=2, sort_keys=True) + "\n")
    m_re, _ = load(resaved)
    with torch.no_grad():
        re_logits = run_unpadded(m_re, batch, "modernbert")["logits"]
    assert torch.equal(re_logits, logits32)
    return {
        "config_spellings": {
            "config.json": "what save_pretrained writes for a config built with layer_types and rope_parameters "
                           "(transformers 5 keys only)",
            "config-published-spelling.json": "config.json with layer_types/rope_parameters replaced by "
                                              "global_attn_every_n_layers, global_rope_theta, local_rope_theta "
                                              "(the spelling of answerdotai/ModernBERT-* checkpoints); nothing else differs",
            "config-transformers5-resaved.json": "what transformers 5.24 writes when it loads "
                                                 "config-published-spelling.json and saves it again: layer_types "
                                                 "and rope_parameters added, global_rope_theta/local_rope_theta "
                                                 "dropped, global_attn_every_n_layers kept (stale: transformers "
                                                 "reads it only when layer_types is absent)",
            "precedence_in_transformers": "layer_types wins over global_attn_every_n_layers (used only when "
                                          "layer_types is null: layer i is full_attention iff i % n == 0, default n 3); "
                                          "rope_parameters.<type>.rope_theta wins over global_rope_theta / "
                                          "local_rope_theta (defaults 160000 and 10000)",
            "logits_identical": "the three configs give bit-identical float32 logits (asserted)",
            "loaded_float32_logits_vs_reference_max_abs": max_abs(logits32, logits64),
        },
    }


def peft_default_modules_to_save() -> dict:
    """What PEFT's SEQ_CLS default (modules_to_save=None) wraps in a ModernBERT classifier."""
    from peft import LoraConfig, TaskType, get_peft_model
    from peft.utils.other import ModulesToSaveWrapper

    base = tiny_model("modernbert", 2, seed=0)
    pm = get_peft_model(base, LoraConfig(task_type=TaskType.SEQ_CLS, r=LORA_R, lora_alpha=LORA_ALPHA,
                                         target_modules=["Wqkv"], lora_dropout=0.0))
    wrapped = sorted(n for n, m in pm.named_modules() if isinstance(m, ModulesToSaveWrapper))
    trainable = [n for n, p in pm.named_parameters() if p.requires_grad and "lora_" not in n]
    return {
        "modules_to_save_after_peft": sorted(pm.peft_config["default"].modules_to_save),
        "wrapped_modules": wrapped,
        "trainable_non_lora": trainable,
        "note": "PEFT (SEQ_CLS) adds ['classifier', 'score'] to modules_to_save and matches module names by "
                "suffix: ModernBERT's `classifier` (Linear hidden->num_labels) is wrapped, its `head` "
                "(dense -> act -> norm, pretrained in a masked-LM checkpoint) is not: it stays frozen at "
                "the base checkpoint's values and is not in the adapter. This fixture uses that default, "
                "as swift-lora does",
    }


def make_modernbert() -> None:
    vocab = MODERNBERT_TINY["vocab_size"]
    biases_on = {flag: True for flag in MODERNBERT_BIAS_FLAGS}
    with modernbert_exact_float64():
        encoder_fixture("tiny-modernbert", "modernbert", 3, seed=16,
                        batch=make_batch("modernbert", 106, **MODERNBERT_BATCH, labels=[2, 0, 1, 2], vocab=vocab),
                        model_kwargs=dict(classifier_pooling="cls", **biases_on), extra_meta=modernbert_checks)
        encoder_fixture("tiny-modernbert-mean", "modernbert", 1, seed=17,
                        batch=make_batch("modernbert", 107, **MODERNBERT_BATCH, labels=[0.5, 3.25, -1.0, 2.0],
                                         vocab=vocab),
                        model_kwargs=dict(classifier_pooling="mean"), extra_meta=modernbert_checks)
        lora_fixture("peft-tiny-modernbert", "modernbert", seed=26, batch_seeds=[261, 262, 263],
                     batch_specs=MODERNBERT_LORA_BATCH_SPECS, model_kwargs=dict(classifier_pooling="cls"),
                     batch_vocab=vocab,
                     extra_meta={"float64_reference_note": MODERNBERT_FLOAT64_NOTE,
                                 "peft_default_modules_to_save": peft_default_modules_to_save()})


# --------------------------------------------------------------------------------------
# (h) LoRA+ (Hayou et al. 2024) as PEFT implements it: peft.optimizers.create_loraplus_optimizer

LORAPLUS_NAME = "peft-tiny-loraplus"
# Base model seed; lora_A after torch.manual_seed(143), lora_B from a generator seeded 243. Chosen so that no
# gradient element is below 1e-6 (min_abs_grad_per_step >= 2.6e-6; seed 41 had 4.9e-7).
LORAPLUS_SEED = 43
LORAPLUS_BATCH_SEED = 411
LORAPLUS_BATCH = dict(lengths=[8, 13, 5, 10], pairs=[None, 5, None, 3], labels=[0, 1, 1, 0])
LORAPLUS_RATIO = 16
# PEFT 0.21's create_loraplus_optimizer(model, optimizer_cls, *, lr, loraplus_lr_ratio, **kwargs) gives every
# one of its four param groups an explicit "weight_decay": loraplus_weight_decay (kwarg, default 0.0) for
# groupA, embedding and groupB, 0.0 for groupB_no_decay. A plain weight_decay=... kwarg only reaches the
# optimizer's defaults, which the groups' own values override: no parameter decays. The fixture therefore
# passes loraplus_weight_decay=0.01 (the decay the Trainer-style groups are meant to get); the effect of
# weight_decay=0.01 instead is recorded in meta.json.
LORAPLUS_PEFT_GROUPS = ["groupA", "embedding", "groupB", "groupB_no_decay"]  # the order PEFT builds them in
LORAPLUS_ADAMW = dict(betas=LORA_BETAS, eps=LORA_EPS, amsgrad=False, foreach=False, fused=False)
LORAPLUS_SIGNATURE = ("create_loraplus_optimizer(model: PeftModel, optimizer_cls: type[Optimizer], *, lr: float, "
                      "loraplus_lr_ratio: float, **kwargs) -> Optimizer")
LORAPLUS_CALL = ("peft.optimizers.create_loraplus_optimizer(model=peft_model, optimizer_cls=torch.optim.AdamW, "
                 f"lr={LORA_LR}, loraplus_lr_ratio={LORAPLUS_RATIO}, loraplus_weight_decay={LORA_WD}, "
                 "betas=(0.9, 0.999), eps=1e-08, amsgrad=False, foreach=False, fused=False)")


def loraplus_rule(pm, name: str, p) -> tuple:
    """The intended grouping, (lr factor, weight_decay): lora_B and every other trainable 1-D parameter
    (biases, LayerNorm weights) at ratio * lr, the rest (lora_A, the head's weight matrices) at lr;
    weight decay 0.01 except biases and LayerNorm parameters (HF Trainer's rule)."""
    factor = LORAPLUS_RATIO if ("lora_B" in name or p.ndim == 1) else 1
    return factor, (0.0 if trainer_no_decay(pm, name) else LORA_WD)


def loraplus_optimizer(pm, **overrides):
    from peft.optimizers import create_loraplus_optimizer

    kwargs = dict(lr=LORA_LR, loraplus_lr_ratio=LORAPLUS_RATIO, loraplus_weight_decay=LORA_WD, **LORAPLUS_ADAMW)
    kwargs.update(overrides)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}  # None: leave the kwarg out
    return create_loraplus_optimizer(model=pm, optimizer_cls=torch.optim.AdamW, **kwargs)


def manual_optimizer(pm, rule):
    """torch AdamW with one group per distinct rule(pm, name, p) = (lr factor, weight_decay)."""
    groups = {}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            groups.setdefault(rule(pm, n, p), []).append(p)
    return torch.optim.AdamW([{"params": ps, "lr": LORA_LR * f, "weight_decay": wd} for (f, wd), ps in groups.items()],
                             lr=LORA_LR, **LORAPLUS_ADAMW)


def optimizer_groups(pm, opt, group_names=None) -> dict:
    """name -> {lr, weight_decay, group} as the optimizer holds them (named_parameters order)."""
    index = {}
    for gi, g in enumerate(opt.param_groups):
        for p in g["params"]:
            index[id(p)] = (gi, g)
    out = {}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            gi, g = index[id(p)]
            out[n] = {"lr": g["lr"], "weight_decay": g["weight_decay"],
                      "group": group_names[gi] if group_names else gi}
    return out


def loraplus_train(build, dtype, batch: dict, make_optimizer) -> dict:
    """Three full-batch steps on `batch`: zero_grad, forward (each sequence alone), mean cross-entropy,
    backward, step."""
    pm = build().to(dtype)
    pm.train()  # every dropout probability is 0 (asserted in build): identical to eval
    params = {n: p for n, p in pm.named_parameters() if p.requires_grad}
    opt = make_optimizer(pm)
    held = [p for g in opt.param_groups for p in g["params"]]
    assert len(held) == len(params) and {id(p) for p in held} == {id(p) for p in params.values()}
    rec = {"loss": [], "logits": [], "grads": [], "padded": [], "opt": opt, "pm": pm}
    for _ in range(LORA_STEPS):
        opt.zero_grad(set_to_none=True)
        res = run_unpadded(pm, batch, "roberta")
        loss = hf_loss(res["logits"], label_tensor(batch["labels"], 2), 2)
        chk = padded_check(pm, batch, "roberta", 2, dtype)  # the model's own loss (labels=) on a padded batch
        rec["padded"].append((max_abs(chk["logits"], res["logits"]), abs(chk["loss"].item() - loss.item())))
        loss.backward()
        rec["loss"].append(loss.detach().clone())
        rec["logits"].append(res["logits"].detach().clone())
        rec["grads"].append({n: p.grad.detach().clone() for n, p in params.items()})
        opt.step()
    rec["final"] = {n: p.detach().clone() for n, p in params.items()}
    return rec


def make_loraplus() -> None:
    from peft import LoraConfig, TaskType, get_peft_model, get_peft_model_state_dict
    from peft.tuners.lora.layer import Embedding as LoraEmbedding

    name, seed = LORAPLUS_NAME, LORAPLUS_SEED
    out = fresh_dir(FIXTURES / "lora" / name)
    base32 = tiny_model("roberta", 2, seed)
    base32.save_pretrained(str(out / "base"))
    cls = type(base32)

    def build():
        base = cls.from_pretrained(str(out / "base"), attn_implementation="eager")
        torch.manual_seed(seed + 100)  # PEFT's kaiming-uniform init of lora_A
        cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=LORA_TARGETS,
                         lora_dropout=0.0, bias="none")  # modules_to_save: PEFT's SEQ_CLS default
        pm = get_peft_model(base, cfg)
        g = torch.Generator().manual_seed(seed + 200)
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_B" in n:
                    p.copy_(LORA_B_INIT_STD * torch.randn(p.shape, generator=g))
        dropouts = [m for m in pm.modules() if isinstance(m, torch.nn.Dropout)]
        assert dropouts and all(m.p == 0.0 for m in dropouts), [m.p for m in dropouts]
        assert not any(isinstance(m, LoraEmbedding) for m in pm.modules())
        return pm

    pm32 = build()
    save_adapter(pm32, out / "adapter_init", name)
    peft_sd = get_peft_model_state_dict(pm32)
    trainable = [(n, p) for n, p in pm32.named_parameters() if p.requires_grad]
    initial = {n: p.detach().clone() for n, p in trainable}
    initial.update({k: v.detach().clone() for k, v in peft_sd.items()})
    write_tensors(out / "initial.safetensors", initial)
    name_map = {}
    for fn, p in trainable:
        pn = fn.replace(".default.", ".").replace(".modules_to_save.", ".")
        assert pn in peft_sd and torch.equal(peft_sd[pn], p), fn
        name_map[fn] = pn
    assert len(name_map) == len(peft_sd)
    n_dropout = sum(isinstance(m, torch.nn.Dropout) for m in pm32.modules())

    batch = make_batch("roberta", LORAPLUS_BATCH_SEED, **LORAPLUS_BATCH)
    r64 = loraplus_train(build, torch.float64, batch, loraplus_optimizer)
    r32 = loraplus_train(build, torch.float32, batch, loraplus_optimizer)
    assert max(max(d) for d in r64["padded"]) < 1e-10, r64["padded"]

    # The grouping PEFT made, against the intended rule.
    pm64 = r64["pm"]
    groups = optimizer_groups(pm64, r64["opt"], LORAPLUS_PEFT_GROUPS)
    assert [g["lr"] for g in r64["opt"].param_groups] == [LORA_LR, 1e-6, LORA_LR * LORAPLUS_RATIO,
                                                          LORA_LR * LORAPLUS_RATIO]
    mismatches = {}
    for n, p in pm64.named_parameters():
        if p.requires_grad:
            factor, wd = loraplus_rule(pm64, n, p)
            want = {"lr": LORA_LR * factor, "weight_decay": wd}
            got = {k: groups[n][k] for k in want}
            if got != want:
                mismatches[n] = {"peft": got, "rule": want}
    if mismatches:
        raise SystemExit(f"[loraplus] PEFT's grouping differs from the intended rule: {mismatches}")
    assert groups == optimizer_groups(r32["pm"], r32["opt"], LORAPLUS_PEFT_GROUPS)
    # The rule written as plain torch AdamW groups reproduces PEFT's run bit for bit.
    manual = loraplus_train(build, torch.float64, batch, lambda pm: manual_optimizer(pm, loraplus_rule))
    assert all(torch.equal(manual["final"][n], p) for n, p in r64["final"].items())

    # What passing weight_decay=0.01 (not loraplus_weight_decay) does: every group keeps weight_decay 0.
    literal = loraplus_train(build, torch.float64, batch,
                             lambda pm: loraplus_optimizer(pm, loraplus_weight_decay=None, weight_decay=LORA_WD))
    literal_groups = optimizer_groups(literal["pm"], literal["opt"], LORAPLUS_PEFT_GROUPS)
    assert literal["opt"].defaults["weight_decay"] == LORA_WD
    assert all(g["weight_decay"] == 0.0 for g in literal["opt"].param_groups)

    # How far the final weights move under likely mistakes (float64), against the float32 distance.
    variants = {
        "weight_decay=0.01 instead of loraplus_weight_decay=0.01 (no decay at all)": literal,
        "no LoRA+ (ratio 1: plain AdamW with Trainer's decay groups)":
            loraplus_train(build, torch.float64, batch, lambda pm: loraplus_optimizer(pm, loraplus_lr_ratio=1)),
        "ratio on lora_B only (head biases at lr)":
            loraplus_train(build, torch.float64, batch, lambda pm: manual_optimizer(
                pm, lambda m, n, p: (LORAPLUS_RATIO if "lora_B" in n else 1, loraplus_rule(m, n, p)[1]))),
        "ratio on every LoRA matrix (lora_A too)":
            loraplus_train(build, torch.float64, batch, lambda pm: manual_optimizer(
                pm, lambda m, n, p: (LORAPLUS_RATIO if "lora_" in n or p.ndim == 1 else 1,
                                     loraplus_rule(m, n, p)[1]))),
        "weight decay on the biases too":
            loraplus_train(build, torch.float64, batch, lambda pm: manual_optimizer(
                pm, lambda m, n, p: (loraplus_rule(m, n, p)[0], LORA_WD))),
    }
    final32 = max(max_abs(r32["final"][n], p) for n, p in r64["final"].items())
    changes = {label: max(max_abs(v["final"][n], p) for n, p in r64["final"].items())
               for label, v in variants.items()}
    assert min(changes.values()) > 10 * final32, (changes, final32)

    steps = range(1, LORA_STEPS + 1)
    tensors = step_tensors([batch] * len(steps), r64, gradients=True)
    tensors.update(final_tensors(r64, name_map))
    write_tensors(out / "expected.safetensors", tensors)
    save_adapter(pm64.to(torch.float32), out / "adapter_final", name)
    write_json(out / "batches.json", [
        {"step": step, "input_ids": batch["input_ids"], "token_type_ids": batch["token_type_ids"],
         "labels": batch["labels"], "lengths": batch["lengths"]} for step in steps])

    peft_groups = [{"name": LORAPLUS_PEFT_GROUPS[i], "lr": g["lr"], "weight_decay": g["weight_decay"],
                    "params": [name_map[n] for n, v in groups.items() if v["group"] == LORAPLUS_PEFT_GROUPS[i]]}
                   for i, g in enumerate(r64["opt"].param_groups)]
    write_json(out / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "base_model": f"base/ ({cls.__name__}, num_labels 2, seed {seed})",
        "special_token_ids": special_ids("roberta"),
        "trainable_parameters": sum(p.numel() for _, p in trainable),
        "lora": {"r": LORA_R, "lora_alpha": LORA_ALPHA, "scaling": LORA_ALPHA / LORA_R,
                 "target_modules": LORA_TARGETS, "lora_dropout": 0.0, "bias": "none", "task_type": "SEQ_CLS",
                 "modules_to_save": ["classifier"],
                 "lora_A_init": f"PEFT default (kaiming-uniform, a=sqrt(5)) after torch.manual_seed({seed + 100})",
                 "lora_B_init": f"N(0, {LORA_B_INIT_STD}^2), not PEFT's zeros, so that step 1 is non-trivial"},
        "dropout": f"model in train() mode with every dropout probability 0 ({n_dropout} nn.Dropout modules, all "
                   "p=0, asserted; lora_dropout 0 is an Identity): identical to eval mode",
        "optimizer": {
            "call": LORAPLUS_CALL,
            "signature": LORAPLUS_SIGNATURE,
            "lr": LORA_LR, "loraplus_lr_ratio": LORAPLUS_RATIO, "lr_fast": LORA_LR * LORAPLUS_RATIO,
            "loraplus_weight_decay": LORA_WD, "betas": list(LORA_BETAS), "eps": LORA_EPS,
            "type": "torch.optim.AdamW (foreach=False, fused=False, amsgrad=False)",
            "schedule": "constant", "grad_clipping": None,
            "grouping_rule": "lr_fast = loraplus_lr_ratio * lr for every lora_B and every other trainable 1-D "
                             "parameter (here the head's biases); lr for lora_A and the head's weight matrices. "
                             "weight_decay 0.01 except biases and LayerNorm parameters (0). Asserted equal to "
                             "what PEFT built, and a plain torch AdamW with these groups gives bit-identical "
                             "float64 results",
            "groups": {name_map[n]: {"lr": v["lr"], "weight_decay": v["weight_decay"]} for n, v in groups.items()},
            "peft_param_groups": peft_groups,
            "weight_decay_kwarg_note": (
                "create_loraplus_optimizer takes weight decay as loraplus_weight_decay (default 0.0): each of its "
                "groups sets weight_decay explicitly (loraplus_weight_decay, or 0.0 for groupB_no_decay), so "
                f"weight_decay={LORA_WD} passed instead only lands in optimizer.defaults and no parameter decays"),
            "groups_with_weight_decay_kwarg_instead": {
                name_map[n]: {"lr": v["lr"], "weight_decay": v["weight_decay"]} for n, v in literal_groups.items()},
        },
        "steps": LORA_STEPS,
        "batch": "one fixed batch (batches.json: the same batch listed for steps 1, 2, 3; expected.safetensors "
                 "step<k>.input_ids etc. identical for every k): full-batch steps",
        "loss_definition": "per step: mean over the 4 sequences of cross-entropy(logits, labels); "
                           "loss and gradient are taken at the parameters before that step's update",
        "losses": [float(x) for x in r64["loss"]],
        "full_to_peft_names": name_map,
        "final_tensor_names": [f"final.{name_map[n]}" for n in r64["final"]],
        "min_abs_grad_per_step": [float(min(g.abs().min() for g in gs.values())) for gs in r64["grads"]],
        "compute_dtype": "float64 on the float32 initial weights, stored as float32",
        "float32_vs_float64": {
            "loss_abs": max(abs(float(a) - float(b)) for a, b in zip(r32["loss"], r64["loss"])),
            "logits_max_abs": max(max_abs(a, b) for a, b in zip(r32["logits"], r64["logits"])),
            "final_weights_max_abs": final32,
        },
        "final_weights_change_if_implemented_wrongly": changes,
        "padded_batch_check": {"logits_max_abs": max(d[0] for d in r64["padded"]),
                               "loss_abs": max(d[1] for d in r64["padded"])},
    })


# --------------------------------------------------------------------------------------
# (i) PiSSA (Meng et al. 2024) as PEFT implements it: LoraConfig(init_lora_weights="pissa") and
# save_pretrained(..., path_initial_model_for_weight_conversion=...) (a plain LoRA for the original base)

PISSA_NAME = "peft-tiny-pissa"
# Base model seed (the overwritten nn.Linear init of lora_A/lora_B runs after torch.manual_seed(seed + 100)).
# Chosen so that no gradient element is below 1e-6 (min_abs_grad_per_step >= 2e-6; seeds 53, 55, 57 had
# 1.8e-7, 9.9e-8, 6.8e-8, and with seed 58 PyTorch's own float32 run already lands 2.2e-5 from the reference).
PISSA_SEED = 56
PISSA_BATCH_SEED = 531
PISSA_BATCH = dict(lengths=[9, 12, 6, 10], pairs=[None, 5, None, 4], labels=[1, 0, 0, 1])
PISSA_CONFIG = ("LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=['query', 'value'], "
                "lora_dropout=0.0, bias='none', init_lora_weights='pissa')")
PISSA_FORMULAS = {
    "source": "peft/tuners/lora/layer.py, LoraLayer.pissa_init (init_lora_weights == 'pissa'; called from "
              "LoraLayer.update_layer after scaling is set)",
    "scaling": "s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora), set in update_layer before pissa_init",
    "svd": "W (out x in; transposed first when fan_in_fan_out) cast to float32: V, S, Uh = "
           "torch.linalg.svd(W, full_matrices=False) (W = V diag(S) Uh, S descending)",
    "factors": "Vr = V[:, :r], Sr = S[:r] / s, Uhr = Uh[:r]; lora_A = diag(sqrt(Sr)) @ Uhr (r x in), "
               "lora_B = Vr @ diag(sqrt(Sr)) (out x r); so s * lora_B @ lora_A = Vr diag(S[:r]) Uhr, the best "
               "rank-r approximation of W, whatever s is (s only splits it between the factors)",
    "residual": "base weight replaced by W_res = W - s * lora_B @ lora_A (computed in float32, then cast back to "
                "the base weight's dtype); the bias is untouched, so the PiSSA model computes exactly W at init",
    "dtype": "raises TypeError unless the base weight is float32, float16 or bfloat16: the SVD always runs in "
             "float32; lora_A, lora_B are assigned the float32 results; the residual is cast to the weight's dtype",
    "fast_variant_not_used": "'pissa_niter_<n>': Vr, Sr, Ur = torch.svd_lowrank(W, r, niter=n), Sr /= s, Uhr = Ur.t()",
}
PISSA_CONVERSION = {
    "source": "peft/peft_model.py PeftModel.save_pretrained -> LoraModel._convert_state_dict_for_initial_model "
              "(peft/tuners/lora/model.py) -> LoraModel.subtract_mutated_init",
    "steps": [
        "save_pretrained writes a deep copy of the live adapter config, with init_lora_weights=True, over "
        "<path_initial_model_for_weight_conversion>/adapter_config.json before loading it (so in PEFT 0.21.2 the "
        "conversion would work even if the initial adapter had been saved with init_lora_weights='pissa'; PEFT's "
        "PiSSA example sets True before saving so that loading the initial adapter does not run PiSSA again)",
        "raises ValueError when use_rslora and (rank_pattern or alpha_pattern); warns unless the live "
        "init_lora_weights starts with pissa, corda, olora, lora_ga or true",
        "load_adapter(dirname(path), subfolder=basename(path), adapter_name=basename(path)) loads A0, B0 (and its "
        "modules_to_save copy); raises ValueError if that config's init_lora_weights still starts with pissa "
        "(or is corda, olora, lora_ga); the loaded adapter is deleted afterwards",
        "subtract_mutated_init: for every key of the trained adapter's state dict containing 'lora_A': "
        "cat([A, A0], dim=0) (2r x in); containing 'lora_B': cat([B, -B0], dim=1) (out x 2r); so "
        "B_c @ A_c = B @ A - B0 @ A0. EVERY OTHER KEY IS DROPPED: the trained modules_to_save head "
        "(classifier.*) is not in the converted adapter_model.safetensors",
        "the saved adapter_config.json: init_lora_weights True; r -> 2r; lora_alpha -> 2 * lora_alpha "
        "(use_rslora: lora_alpha * sqrt(2)), so scaling is unchanged; rank_pattern and alpha_pattern values "
        "doubled; everything else (target_modules, modules_to_save, task_type) kept",
    ],
    "delta": "s * B_c @ A_c = s * (B @ A - B0 @ A0) = (W_res + s B A) - W: the trained PiSSA weight minus the "
             "original weight",
}


def pissa_canonical(name: str) -> str:
    """base_model.model.roberta...query(.weight) -> roberta...query(.weight)."""
    return name.removeprefix("base_model.model.")


@contextlib.contextmanager
def pissa_svd_in_weight_dtype():
    """LoraLayer.pissa_init for init_lora_weights='pissa', line for line as PEFT 0.21.2 writes it, except that
    the SVD runs in the weight's own dtype (PEFT casts to float32 and refuses float64). On a float32 model it is
    PEFT's function (asserted bit-identical); on the float64 copy it is the exact float64 PiSSA."""
    from peft.tuners.lora.layer import LoraLayer
    from peft.utils.other import transpose

    shipped = LoraLayer.pissa_init

    def pissa_init(self, adapter_name, init_lora_weights):
        assert init_lora_weights == "pissa", init_lora_weights
        weight = self.get_base_layer().weight
        dtype = weight.dtype
        weight = transpose(weight, self.fan_in_fan_out)
        V, S, Uh = torch.linalg.svd(weight.data, full_matrices=False)
        Vr = V[:, : self.r[adapter_name]]
        Sr = S[: self.r[adapter_name]]
        Sr /= self.scaling[adapter_name]
        Uhr = Uh[: self.r[adapter_name]]
        lora_A = torch.diag(torch.sqrt(Sr)) @ Uhr
        lora_B = Vr @ torch.diag(torch.sqrt(Sr))
        self.lora_A[adapter_name].weight.data = lora_A
        self.lora_B[adapter_name].weight.data = lora_B
        weight = weight.data - self.scaling[adapter_name] * lora_B @ lora_A
        weight = transpose(weight.to(dtype), self.fan_in_fan_out)
        self.get_base_layer().weight.data = weight

    LoraLayer.pissa_init = pissa_init
    try:
        yield
    finally:
        LoraLayer.pissa_init = shipped


def pissa_build(base_dir: Path, dtype, svd_in_weight_dtype: bool):
    from peft import LoraConfig, TaskType, get_peft_model

    base = RobertaForSequenceClassification.from_pretrained(str(base_dir), attn_implementation="eager").to(dtype)
    torch.manual_seed(PISSA_SEED + 100)  # nn.Linear's init of lora_A/lora_B, overwritten by pissa_init
    cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=LORA_TARGETS,
                     lora_dropout=0.0, bias="none", init_lora_weights="pissa")  # modules_to_save: SEQ_CLS default
    with pissa_svd_in_weight_dtype() if svd_in_weight_dtype else contextlib.nullcontext():
        pm = get_peft_model(base, cfg)
    dropouts = [m for m in pm.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and all(m.p == 0.0 for m in dropouts), [m.p for m in dropouts]
    assert all(p.dtype == dtype for p in pm.parameters())
    return pm


def pissa_lora_layers(pm) -> dict:
    """canonical module name -> the LoRA Linear (named_modules order)."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    return {pissa_canonical(n): m for n, m in pm.named_modules() if isinstance(m, LoraLinear)}


def pissa_delta(layer) -> torch.Tensor:
    """LoRA Linear.get_delta_weight for the default adapter: (B @ A) * scaling, (out, in)."""
    return layer.get_delta_weight("default").detach().clone()


def pissa_load_base(base_dir: Path, dtype):
    return RobertaForSequenceClassification.from_pretrained(str(base_dir), attn_implementation="eager").to(dtype)


def pissa_logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return run_unpadded(model, batch, "roberta")["logits"]


def pissa_workflow(base_dir: Path, work: Path, dtype, svd_in_weight_dtype: bool, batch: dict) -> dict:
    """PEFT's PiSSA workflow in `dtype` under `work`: PiSSA init, save the initial adapter with
    init_lora_weights=True, three full-batch AdamW steps, save converted for the original base, reload it there."""
    from peft import PeftModel, get_peft_model_state_dict
    from safetensors.torch import load_file

    rec = {}
    original = pissa_load_base(base_dir, dtype)
    original_weights = {n: p.detach().clone() for n, p in original.named_parameters()}
    rec["base_logits"] = pissa_logits(original, batch)

    pm = pissa_build(base_dir, dtype, svd_in_weight_dtype)
    layers = pissa_lora_layers(pm)
    assert list(layers) == [f"roberta.encoder.layer.{i}.attention.self.{t}" for i in range(2) for t in LORA_TARGETS]
    rec["scaling"] = {m: layer.scaling["default"] for m, layer in layers.items()}
    rec["residual"] = {m: layer.base_layer.weight.detach().clone() for m, layer in layers.items()}
    rec["init_A"] = {m: layer.lora_A["default"].weight.detach().clone() for m, layer in layers.items()}
    rec["init_B"] = {m: layer.lora_B["default"].weight.detach().clone() for m, layer in layers.items()}
    rec["init_delta"] = {m: pissa_delta(layer) for m, layer in layers.items()}
    rec["singular_values"] = {m: torch.linalg.svdvals(original_weights[m + ".weight"]) for m in layers}
    rec["reconstruction"] = max(max_abs(rec["residual"][m] + rec["init_delta"][m], original_weights[m + ".weight"])
                                for m in layers)
    for n, p in pm.get_base_model().named_parameters():  # everything else is the original base's
        if "lora_" not in n and "modules_to_save" not in n and not any(n == m + ".base_layer.weight" for m in layers):
            key = n.replace(".base_layer.", ".").replace(".original_module.", ".")
            assert torch.equal(p, original_weights[key]), n
    rec["init_logits"] = pissa_logits(pm, batch)

    # PEFT's PiSSA example: set init_lora_weights=True (so loading it does not run PiSSA again), save.
    pm.peft_config["default"].init_lora_weights = True
    pm.save_pretrained(str(work / "adapter_init"))
    rec["init_config_as_saved"] = json.loads((work / "adapter_init" / "adapter_config.json").read_text())

    pm.train()  # every dropout probability is 0 (asserted in pissa_build): identical to eval
    params = {n: p for n, p in pm.named_parameters() if p.requires_grad}
    decay = [n for n in params if not trainer_no_decay(pm, n)]
    no_decay = [n for n in params if trainer_no_decay(pm, n)]
    assert all(n.endswith(".bias") for n in no_decay)
    opt = torch.optim.AdamW([{"params": [params[n] for n in decay], "weight_decay": LORA_WD},
                             {"params": [params[n] for n in no_decay], "weight_decay": 0.0}],
                            lr=LORA_LR, betas=LORA_BETAS, eps=LORA_EPS, amsgrad=False, foreach=False, fused=False)
    rec.update(decay=decay, no_decay=no_decay, loss=[], logits=[], grads=[], padded=[])
    for _ in range(LORA_STEPS):
        opt.zero_grad(set_to_none=True)
        res = run_unpadded(pm, batch, "roberta")
        loss = hf_loss(res["logits"], label_tensor(batch["labels"], 2), 2)
        chk = padded_check(pm, batch, "roberta", 2, dtype)
        rec["padded"].append((max_abs(chk["logits"], res["logits"]), abs(chk["loss"].item() - loss.item())))
        loss.backward()
        rec["loss"].append(loss.detach().clone())
        rec["logits"].append(res["logits"].detach().clone())
        rec["grads"].append({n: p.grad.detach().clone() for n, p in params.items()})
        opt.step()
    pm.eval()
    rec["trained_logits"] = pissa_logits(pm, batch)
    rec["trained_state_dict"] = {k: v.detach().clone() for k, v in get_peft_model_state_dict(pm).items()}
    rec["trained_delta"] = {m: (layer.base_layer.weight + pissa_delta(layer) - original_weights[m + ".weight"])
                            .detach().clone() for m, layer in layers.items()}
    rec["trained_pm"] = pm

    # Conversion to a plain LoRA adapter for the original base.
    pm.save_pretrained(str(work / "adapter_converted"),
                       path_initial_model_for_weight_conversion=str(work / "adapter_init"))
    conv_file = work / "adapter_converted" / "adapter_model.safetensors"
    converted = load_file(str(conv_file))
    rec["converted_config"] = json.loads((work / "adapter_converted" / "adapter_config.json").read_text())
    rec["init_config_after_conversion"] = json.loads((work / "adapter_init" / "adapter_config.json").read_text())
    rec["converted_keys_as_peft_writes"] = sorted(converted)
    init_sd = load_file(str(work / "adapter_init" / "adapter_model.safetensors"))
    for k, v in rec["trained_state_dict"].items():  # [A | A0] and [B | -B0] (A0, B0 as saved, in `dtype`)
        if "lora_A" in k:
            assert torch.equal(converted[k], torch.cat([v, init_sd[k]], 0)), k
        elif "lora_B" in k:
            assert torch.equal(converted[k], torch.cat([v, -init_sd[k]], 1)), k
    missing = sorted(k for k in rec["trained_state_dict"] if k not in converted)
    rec["dropped_by_conversion"] = missing
    try:
        PeftModel.from_pretrained(pissa_load_base(base_dir, dtype), str(work / "adapter_converted"))
        rec["peft_output_loads"] = "yes"
    except KeyError as e:
        rec["peft_output_loads"] = f"no: PeftModel.from_pretrained raises KeyError({e})"
    if missing:  # completed: the trained head, as save_pretrained writes it without conversion
        converted.update({k: rec["trained_state_dict"][k] for k in missing})
        save_file(converted, str(conv_file), metadata={"format": "pt"})
    rec["converted"] = converted

    loaded = PeftModel.from_pretrained(pissa_load_base(base_dir, dtype), str(work / "adapter_converted"))
    loaded.eval()
    conv_layers = pissa_lora_layers(loaded)
    rec["converted_scaling"] = {m: layer.scaling["default"] for m, layer in conv_layers.items()}
    rec["converted_delta"] = {m: pissa_delta(layer) for m, layer in conv_layers.items()}
    rec["converted_logits"] = pissa_logits(loaded, batch)
    merged = loaded.merge_and_unload()
    rec["merged"] = {m: merged.get_submodule(m).weight.detach().clone() for m in conv_layers}
    rec["merged_logits"] = pissa_logits(merged, batch)
    return rec


def make_pissa() -> None:
    name, seed = PISSA_NAME, PISSA_SEED
    out = fresh_dir(FIXTURES / "lora" / name)
    base32 = tiny_model("roberta", 2, seed)
    base32.save_pretrained(str(out / "base"))
    batch = make_batch("roberta", PISSA_BATCH_SEED, **PISSA_BATCH)

    # PEFT refuses a float64 PiSSA init; the replica of pissa_init is PEFT's own on float32 (bit for bit).
    try:
        pissa_build(out / "base", torch.float64, svd_in_weight_dtype=False)
        raise SystemExit("[pissa] PEFT now accepts a float64 PiSSA init: revisit pissa_svd_in_weight_dtype")
    except TypeError as e:
        float64_refusal = str(e)
    shipped, replica = (pissa_build(out / "base", torch.float32, flag) for flag in (False, True))
    assert all(torch.equal(a, b) for a, b in zip(shipped.state_dict().values(), replica.state_dict().values()))
    del shipped, replica

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "f64").mkdir()
        (tmp / "f32").mkdir()
        r64 = pissa_workflow(out / "base", tmp / "f64", torch.float64, True, batch)
        r32 = pissa_workflow(out / "base", tmp / "f32", torch.float32, False, batch)  # PEFT's own float32 SVD
    modules = list(r64["residual"])
    s = LORA_ALPHA / LORA_R
    assert all(v == s for v in r64["scaling"].values()) and all(v == s for v in r64["converted_scaling"].values())

    # float64 checks: the PiSSA model is the original model at init; the converted adapter on the original base
    # (and its merge) is the trained PiSSA model.
    checks = {
        "init_logits_vs_base_logits": max_abs(r64["init_logits"], r64["base_logits"]),
        "residual_plus_delta_vs_W": r64["reconstruction"],
        "converted_on_original_base_vs_trained_pissa_logits": max_abs(r64["converted_logits"], r64["trained_logits"]),
        "merged_vs_trained_pissa_logits": max_abs(r64["merged_logits"], r64["trained_logits"]),
        "converted_delta_vs_trained_minus_original_weight": max(
            max_abs(r64["converted_delta"][m], r64["trained_delta"][m]) for m in modules),
        "padded_batch_logits": max(d[0] for d in r64["padded"]),
        "padded_batch_loss": max(d[1] for d in r64["padded"]),
    }
    W = {n: p.detach().double() for n, p in base32.named_parameters()}
    checks["merged_minus_W_vs_converted_delta"] = max(
        max_abs(r64["merged"][m] - W[m + ".weight"], r64["converted_delta"][m]) for m in modules)
    checks = {k: checks[k] for k in ["init_logits_vs_base_logits", "residual_plus_delta_vs_W",
                                     "converted_on_original_base_vs_trained_pissa_logits",
                                     "merged_vs_trained_pissa_logits",
                                     "converted_delta_vs_trained_minus_original_weight",
                                     "merged_minus_W_vs_converted_delta", "padded_batch_logits", "padded_batch_loss"]}
    assert all(v < 1e-10 for v in checks.values()), checks

    # The committed adapters: PEFT's save_pretrained calls again, on the float64 results rounded to float32.
    init32 = pissa_build(out / "base", torch.float64, True)
    init32.peft_config["default"].init_lora_weights = True
    init32 = init32.to(torch.float32)
    save_adapter(init32, out / "adapter_init", name)
    trained32 = r64["trained_pm"].to(torch.float32)
    save_adapter(trained32, out / "adapter_converted", name,
                 path_initial_model_for_weight_conversion=str(out / "adapter_init"))
    from safetensors.torch import load_file
    conv_path = out / "adapter_converted" / "adapter_model.safetensors"
    conv32 = load_file(str(conv_path))
    assert sorted(conv32) == r64["converted_keys_as_peft_writes"]
    conv32.update({k: r64["converted"][k].to(torch.float32) for k in r64["dropped_by_conversion"]})
    save_file(conv32, str(conv_path), metadata={"format": "pt"})
    assert sorted(conv32) == sorted(r64["converted"])
    assert all(torch.equal(conv32[k], v.to(torch.float32)) for k, v in r64["converted"].items())
    # save_pretrained rewrote adapter_init/adapter_config.json (see PISSA_CONVERSION): normalise it like the others.
    cfg_path = out / "adapter_init" / "adapter_config.json"
    init_cfg_rewritten = json.loads(cfg_path.read_text())
    init_cfg_rewritten["base_model_name_or_path"] = f"Tests/Fixtures/lora/{name}/base"
    for key in ("target_modules", "modules_to_save"):
        if isinstance(init_cfg_rewritten.get(key), list):
            init_cfg_rewritten[key] = sorted(init_cfg_rewritten[key])
    cfg_path.write_text(json.dumps(init_cfg_rewritten, indent=2, sort_keys=True) + "\n")
    init_cfg64 = r64["init_config_as_saved"]
    # target_modules is a set in PEFT: its saved order follows the interpreter's hash seed.
    def as_saved(cfg, k):
        v = cfg.get(k)
        return sorted(v) if k == "target_modules" and isinstance(v, list) else v
    init_cfg_diff = {k: {"first_save": as_saved(init_cfg64, k), "after_conversion": as_saved(r64["init_config_after_conversion"], k)}
                     for k in sorted(set(init_cfg64) | set(r64["init_config_after_conversion"]))
                     if as_saved(init_cfg64, k) != as_saved(r64["init_config_after_conversion"], k)
                     and k != "base_model_name_or_path"}
    conv_cfg = json.loads((out / "adapter_converted" / "adapter_config.json").read_text())
    assert conv_cfg["r"] == 2 * LORA_R and conv_cfg["lora_alpha"] == 2 * LORA_ALPHA and conv_cfg["init_lora_weights"] is True

    steps = range(1, LORA_STEPS + 1)
    tensors = step_tensors([batch] * len(steps), r64, gradients=False)
    tensors["init.logits"] = r64["init_logits"]
    for m in modules:
        tensors[f"singular_values.{m}"] = r64["singular_values"][m]
        tensors[f"residual.{m}.weight"] = r64["residual"][m]
        tensors[f"init.delta.{m}"] = r64["init_delta"][m]
        tensors[f"init.{m}.lora_A.weight"] = r64["init_A"][m]
        tensors[f"init.{m}.lora_B.weight"] = r64["init_B"][m]
    tensors["final.logits"] = r64["trained_logits"]
    for m in modules:
        tensors[f"final.delta.{m}"] = r64["converted_delta"][m]
    for k, v in r64["trained_state_dict"].items():
        tensors[f"final.{k}"] = v
    for m in modules:
        tensors[f"merged.{m}.weight"] = r64["merged"][m]
    write_tensors(out / "expected.safetensors", tensors)
    write_json(out / "batches.json", [
        {"step": step, "input_ids": batch["input_ids"], "token_type_ids": batch["token_type_ids"],
         "labels": batch["labels"], "lengths": batch["lengths"]} for step in steps])

    def sign_aligned(a32, a64, dim):  # max |a32 - sign * a64| with one sign per singular pair, and #flips
        dots = (a32.double() * a64).sum(dim=dim)
        signs = torch.where(dots < 0, -1.0, 1.0).to(torch.float64)
        aligned = a64 * (signs[:, None] if dim == 1 else signs[None, :])
        return max_abs(a32, aligned), int((signs < 0).sum())

    flips = {m: sign_aligned(r32["init_A"][m], r64["init_A"][m], 1)[1] for m in modules}
    assert all(sign_aligned(r32["init_B"][m], r64["init_B"][m], 0)[1] == flips[m] for m in modules)
    final_head = [k for k in r64["trained_state_dict"] if "lora_" not in k]
    f32 = {
        "note": "PEFT's own float32 path (float32 SVD in pissa_init, float32 training, float32 conversion) against "
                "the float64 reference; max |difference| over all elements (and modules)",
        "singular_values_max_abs": max(max_abs(r32["singular_values"][m], r64["singular_values"][m]) for m in modules),
        "residual_max_abs": max(max_abs(r32["residual"][m], r64["residual"][m]) for m in modules),
        "init_delta_max_abs": max(max_abs(r32["init_delta"][m], r64["init_delta"][m]) for m in modules),
        "init_lora_A_max_abs_after_sign_alignment": max(
            sign_aligned(r32["init_A"][m], r64["init_A"][m], 1)[0] for m in modules),
        "init_lora_B_max_abs_after_sign_alignment": max(
            sign_aligned(r32["init_B"][m], r64["init_B"][m], 0)[0] for m in modules),
        "singular_vector_sign_flips_float32_vs_float64": flips,
        "float32_residual_plus_delta_vs_W": r32["reconstruction"],
        "float32_init_logits_vs_its_base_logits": max_abs(r32["init_logits"], r32["base_logits"]),
        "init_logits_max_abs": max_abs(r32["init_logits"], r64["init_logits"]),
        "loss_abs": max(abs(float(a) - float(b)) for a, b in zip(r32["loss"], r64["loss"])),
        "step_logits_max_abs": max(max_abs(a, b) for a, b in zip(r32["logits"], r64["logits"])),
        "final_logits_max_abs": max_abs(r32["trained_logits"], r64["trained_logits"]),
        "final_delta_max_abs": max(max_abs(r32["converted_delta"][m], r64["converted_delta"][m]) for m in modules),
        "final_head_max_abs": max(max_abs(r32["trained_state_dict"][k], r64["trained_state_dict"][k])
                                  for k in final_head),
        "merged_weights_max_abs": max(max_abs(r32["merged"][m], r64["merged"][m]) for m in modules),
        "converted_on_original_base_logits_max_abs": max_abs(r32["converted_logits"], r64["trained_logits"]),
        "float32_converted_vs_its_trained_pissa_logits": max_abs(r32["converted_logits"], r32["trained_logits"]),
    }
    svals = {m: [float(x) for x in r64["singular_values"][m]] for m in modules}
    write_json(out / "meta.json", {
        "generator": GENERATOR,
        "versions": versions(),
        "base_model": f"base/ (RobertaForSequenceClassification, num_labels 2, seed {seed}): the ORIGINAL base, "
                      "not the PiSSA residual",
        "special_token_ids": special_ids("roberta"),
        "lora": {"config": PISSA_CONFIG, "r": LORA_R, "lora_alpha": LORA_ALPHA, "scaling": s,
                 "target_modules": LORA_TARGETS, "modules_to_save": ["classifier"], "init_lora_weights": "pissa",
                 "adapted_modules": modules},
        "pissa_formulas": PISSA_FORMULAS,
        "float64_reference_note": (
            "PEFT's pissa_init raises on a float64 model (" + float64_refusal + "). The float64 reference runs "
            "pissa_init's own lines with the SVD in float64 (make_fixtures.pissa_svd_in_weight_dtype; on the float32 "
            "model that replica gives bit-identical weights to PEFT's pissa_init, asserted); everything else "
            "(saving, training, conversion, loading, merging) is PEFT's code in float64"),
        "conversion": {**PISSA_CONVERSION,
                       "converted_r": conv_cfg["r"], "converted_lora_alpha": conv_cfg["lora_alpha"],
                       "converted_scaling": conv_cfg["lora_alpha"] / conv_cfg["r"],
                       "converted_init_lora_weights": conv_cfg["init_lora_weights"],
                       "keys_peft_writes": r64["converted_keys_as_peft_writes"],
                       "keys_dropped_by_peft": r64["dropped_by_conversion"],
                       "peft_output_loads_on_original_base": r64["peft_output_loads"],
                       "adapter_converted_note": (
                           "adapter_converted/ is PEFT's converted adapter (its lora_A/lora_B tensors as PEFT "
                           "writes them) plus the trained head tensors PEFT drops (base_model.model.classifier.*, "
                           "as save_pretrained writes them without conversion), so that "
                           "PeftModel.from_pretrained(original base, adapter_converted) is the trained model; "
                           "adapter_config.json is PEFT's (r 8, lora_alpha 16, init_lora_weights true)"),
                       "adapter_init_config_rewritten_by_conversion": init_cfg_diff},
        "dropout": "model in train() mode with every dropout probability 0 (asserted): identical to eval mode",
        "optimizer": {
            "type": "torch.optim.AdamW (foreach=False, fused=False, amsgrad=False)",
            "lr": LORA_LR, "betas": list(LORA_BETAS), "eps": LORA_EPS, "schedule": "constant", "grad_clipping": None,
            "weight_decay": LORA_WD,
            "weight_decay_groups": "names ending in .bias get weight_decay 0 (as HF Trainer; no trainable LayerNorm); "
                                   "lora_A, lora_B and the head's weight matrices get weight_decay",
            "decay_params": r64["decay"], "no_decay_params": r64["no_decay"],
        },
        "steps": LORA_STEPS,
        "batch": "one fixed batch (batches.json: the same batch listed for steps 1, 2, 3; expected.safetensors "
                 "step<k>.input_ids etc. identical for every k): full-batch steps",
        "loss_definition": "per step: mean over the 4 sequences of cross-entropy(logits, labels); "
                           "loss and gradient are taken at the parameters before that step's update",
        "losses": [float(x) for x in r64["loss"]],
        "trainable_parameters": sum(p.numel() for p in r64["trained_pm"].parameters() if p.requires_grad),
        "singular_values": svals,
        "singular_value_gap_r": {m: v[LORA_R - 1] - v[LORA_R] for m, v in svals.items()},
        "min_singular_value_gap_top_r": {m: min(v[i] - v[i + 1] for i in range(LORA_R)) for m, v in svals.items()},
        "min_abs_grad_per_step": [float(min(g.abs().min() for g in gs.values())) for gs in r64["grads"]],
        "float64_checks": checks,
        "compute_dtype": "float64 on the float32 base weights (SVD, training, conversion, merge), stored as float32",
        "float32_vs_float64": f32,
        "sign_invariant_tensors": ["init.logits", "singular_values.*", "residual.*", "init.delta.*", "step<k>.loss",
                                   "step<k>.logits", "final.logits", "final.delta.*", "merged.*",
                                   "final.base_model.model.classifier.*"],
        "sign_dependent_tensors": ["init.*.lora_A.weight", "init.*.lora_B.weight", "final.*.lora_A.weight",
                                   "final.*.lora_B.weight", "adapter_init/, adapter_converted/ lora tensors"],
    })


# --------------------------------------------------------------------------------------

GROUPS = {"adamw": make_adamw, "encoders": make_encoders, "minilm": make_minilm, "lora": make_lora,
          "families": make_families, "modernbert": make_modernbert, "loraplus": make_loraplus,
          "pissa": make_pissa}


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
