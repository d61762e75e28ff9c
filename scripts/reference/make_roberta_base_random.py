#!/usr/bin/env python3
"""Builds a randomly initialised roberta-base-shaped RobertaForSequenceClassification
(num_labels 2, transformers' own init after torch.manual_seed(0)) and saves it as a
Hugging Face model directory at models/roberta-base-random/ (git-ignored):

    config.json, model.safetensors (float32, ~500 MB), vocab.json, merges.txt

vocab.json and merges.txt are copied from ../shared/tokenizers/roberta-base (or
$SWIFT_LORA_ROBERTA_TOKENIZER_DIR). Used for roberta-base-sized speed/memory runs where
no pretrained checkpoint can be downloaded; its accuracy is meaningless.

    ../refenv/bin/python scripts/reference/make_roberta_base_random.py [OUT_DIR]
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

import transformers  # noqa: E402
from transformers import RobertaConfig, RobertaForSequenceClassification  # noqa: E402

transformers.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]


def main(argv) -> None:
    out = Path(argv[0]) if argv else REPO / "models" / "roberta-base-random"
    tok_dir = Path(os.environ.get("SWIFT_LORA_ROBERTA_TOKENIZER_DIR")
                   or REPO.parent / "shared" / "tokenizers" / "roberta-base")
    for f in ("vocab.json", "merges.txt"):
        if not (tok_dir / f).exists():
            raise SystemExit(f"missing {tok_dir / f}")

    # The published roberta-base config.json, with a 2-label classification head.
    cfg = RobertaConfig(
        vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, max_position_embeddings=514, type_vocab_size=1,
        initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, num_labels=2, attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = RobertaForSequenceClassification(cfg).eval()
    n_params = sum(p.numel() for p in model.parameters())

    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(tok_dir / f, tmp / f)
    for f in tmp.iterdir():  # safetensors writes 0600 files
        f.chmod(0o644)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    print(f"wrote {out} ({n_params:,} parameters)")


if __name__ == "__main__":
    main(sys.argv[1:])
