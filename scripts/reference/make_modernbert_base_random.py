#!/usr/bin/env python3
"""Builds a randomly initialised ModernBERT-base-shaped ModernBertForSequenceClassification
(num_labels 2, transformers' own init after torch.manual_seed(0)) and saves it as a Hugging Face
model directory at models/modernbert-base-random/ (git-ignored):

    config.json (the published answerdotai/ModernBERT-base settings in their published spelling:
    global_attn_every_n_layers, global_rope_theta, local_rope_theta), model.safetensors (float32,
    ~600 MB), tokenizer.json (+ tokenizer_config.json, vocab.json, merges.txt)

No ModernBERT tokenizer can be downloaded here, so the tokenizer is roberta-base's byte-level BPE
(../shared/tokenizers/roberta-base or $SWIFT_LORA_ROBERTA_TOKENIZER_DIR), written as a
tokenizer.json by transformers' fast tokenizer: its 50265 ids fit ModernBERT's 50368-row table,
and both sides of a benchmark read the same file. Used for ModernBERT-base-sized speed and memory
runs; its accuracy is meaningless.

    ../refenv/bin/python scripts/reference/make_modernbert_base_random.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

import transformers  # noqa: E402
from transformers import AutoTokenizer, ModernBertConfig, ModernBertForSequenceClassification  # noqa: E402

transformers.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]

# answerdotai/ModernBERT-base's config.json (as published, with a 2-label classification head).
PUBLISHED = {
    "architectures": ["ModernBertForSequenceClassification"],
    "model_type": "modernbert",
    "vocab_size": 50368, "hidden_size": 768, "intermediate_size": 1152, "num_hidden_layers": 22,
    "num_attention_heads": 12, "hidden_activation": "gelu", "max_position_embeddings": 8192,
    "initializer_range": 0.02, "initializer_cutoff_factor": 2.0, "norm_eps": 1e-05, "norm_bias": False,
    "pad_token_id": 50283, "eos_token_id": 50282, "bos_token_id": 50281, "cls_token_id": 50281,
    "sep_token_id": 50282, "global_rope_theta": 160000.0, "attention_bias": False, "attention_dropout": 0.0,
    "global_attn_every_n_layers": 3, "local_attention": 128, "local_rope_theta": 10000.0,
    "embedding_dropout": 0.0, "mlp_bias": False, "mlp_dropout": 0.0, "decoder_bias": True,
    "classifier_pooling": "mean", "classifier_dropout": 0.0, "classifier_bias": False,
    "classifier_activation": "gelu", "deterministic_flash_attn": False, "sparse_prediction": False,
    "sparse_pred_ignore_index": -100, "reference_compile": True, "num_labels": 2,
}


def main(argv) -> None:
    out = Path(argv[0]) if argv else REPO / "models" / "modernbert-base-random"
    tok_dir = Path(os.environ.get("SWIFT_LORA_ROBERTA_TOKENIZER_DIR")
                   or REPO.parent / "shared" / "tokenizers" / "roberta-base")
    for f in ("vocab.json", "merges.txt"):
        if not (tok_dir / f).exists():
            raise SystemExit(f"missing {tok_dir / f}")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(PUBLISHED, indent=2) + "\n")
    cfg = ModernBertConfig.from_pretrained(str(tmp), attn_implementation="eager")
    torch.manual_seed(0)
    model = ModernBertForSequenceClassification(cfg).eval()
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(tmp))
    # Keep the published spelling of config.json (save_pretrained writes transformers 5's).
    published = dict(PUBLISHED)
    published["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
    published["label2id"] = {"LABEL_0": 0, "LABEL_1": 1}
    published.pop("num_labels")
    (tmp / "config.json").write_text(json.dumps(published, indent=2) + "\n")
    # (transformers 5's RobertaTokenizerFast(vocab_file=...) silently builds an empty vocabulary:
    # load the files through a directory whose tokenizer_config.json names the class instead.)
    src = tmp / "tokenizer-source"
    src.mkdir()
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(tok_dir / f, src / f)
    (src / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer"}))
    tok = AutoTokenizer.from_pretrained(str(src))
    assert len(tok) == 50265, len(tok)
    shutil.rmtree(src)
    tok.save_pretrained(str(tmp))
    for f in tmp.iterdir():  # safetensors writes 0600 files
        f.chmod(0o644)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    print(f"wrote {out} ({n_params:,} parameters)")


if __name__ == "__main__":
    main(sys.argv[1:])
