#!/usr/bin/env python3
"""`lora merge` output of every newer family, loaded in transformers, against PEFT.

For each PEFT LoRA fixture of ELECTRA and DistilBERT (Tests/Fixtures/lora/peft-tiny-*), merges
PEFT's trained adapter into its base with our CLI, loads the merged directory with
AutoModelForSequenceClassification, and compares its logits on the fixture's batches with
PeftModel(base, adapter) in PyTorch. Run from the repository root with the reference venv,
after `swift build -c release`:

    ../refenv/bin/python scripts/reference/check_family_merge.py [LORA_BIN]

Prints the largest absolute logit difference per family; exits 1 if one exceeds 1e-4.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification

FAMILIES = {"distilbert": False, "electra": True}  # family -> takes token type ids


def main(argv) -> int:
    lora = argv[0] if argv else ".build/release/lora"
    torch.set_num_threads(1)
    worst_all = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for family, takes_types in FAMILIES.items():
            fixture = Path("Tests/Fixtures/lora") / f"peft-tiny-{family}"
            merged_dir = Path(tmp) / family
            subprocess.run([lora, "merge", "--model", str(fixture / "base"), "--adapter", str(fixture / "adapter_final"),
                            "--out", str(merged_dir)], check=True)
            merged = AutoModelForSequenceClassification.from_pretrained(str(merged_dir), attn_implementation="eager").eval()
            base = AutoModelForSequenceClassification.from_pretrained(str(fixture / "base"), attn_implementation="eager")
            peft = PeftModel.from_pretrained(base, str(fixture / "adapter_final")).eval()
            worst = 0.0
            for batch in json.loads((fixture / "batches.json").read_text()):
                for ids, types in zip(batch["input_ids"], batch["token_type_ids"]):
                    kwargs = {"input_ids": torch.tensor([ids])}
                    if takes_types:
                        kwargs["token_type_ids"] = torch.tensor([types])
                    with torch.no_grad():
                        worst = max(worst, (merged(**kwargs).logits - peft(**kwargs).logits).abs().max().item())
            print(f"{family}: merged by lora ({merged.config.architectures[0]}) vs PEFT: max |logit difference| {worst:.3g}")
            worst_all = max(worst_all, worst)
    return 0 if worst_all <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
