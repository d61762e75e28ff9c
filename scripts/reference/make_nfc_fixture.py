#!/usr/bin/env python3
"""The NFC normalizer of GPT-NeoX-style byte-level BPE tokenizers (ModernBERT's family of
tokenizer.json): a fixture for the Swift port.

Writes Tests/Fixtures/tokenizers/tiny-bpe-nfc/tokenizer.json (the tiny-bpe fixture with
`"normalizer": {"type": "NFC"}`) and Tests/Fixtures/tokenizers/nfc_cases.json: the ids and type
ids the Rust `tokenizers` library gives for hand-written cases (decomposed accents, Hangul jamo,
singletons such as the ohm and angstrom signs, reordered combining marks, compatibility
characters NFC keeps) and for the first 200 RTE dev sentence pairs written in NFD. Deterministic.

    ../refenv/bin/python scripts/reference/make_nfc_fixture.py
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "Fixtures" / "tokenizers"
RTE_DEV = REPO.parent / "shared" / "glue" / "RTE" / "dev.tsv"

CASES = [
    "caf\u0065\u0301", "cafe\u0301 au lait", "A\u030angstr\u00f6m", "\u212bngstr\u00f6m", "\u2126 ohm",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af", "a\u0328\u0301", "a\u0301\u0328", "\u1ebf \u00ea\u0301",
    "\ufb01le \u2460 \uff21", "e\u0301\u0301", "\u0301 starts with a mark", "plain ascii text", "", "   ",
    "Zo\u00eb and Zoe\u0308", "\u0915\u093c \u0928\u093c", "\u00c7a\u0327", "<mask> e\u0301", "\U0001F600\u0301",
]


def main() -> None:
    spec = json.loads((FIXTURES / "tiny-bpe" / "tokenizer.json").read_text(encoding="utf-8"))
    spec["normalizer"] = {"type": "NFC"}
    out_dir = FIXTURES / "tiny-bpe-nfc"
    out_dir.mkdir(exist_ok=True)
    text = json.dumps(spec, ensure_ascii=False, indent=2) + "\n"
    (out_dir / "tokenizer.json").write_text(text, encoding="utf-8")
    tok = Tokenizer.from_str(text)

    rows = []
    for a in CASES:
        e = tok.encode(a)
        rows.append({"a": a, "b": None, "ids": e.ids, "type_ids": e.type_ids})
    with RTE_DEV.open(encoding="utf-8") as f:
        lines = f.read().split("\n")[1:201]
    for line in lines:
        cols = line.split("\t")
        a, b = unicodedata.normalize("NFD", cols[1]), unicodedata.normalize("NFD", cols[2])
        e = tok.encode(a, b)
        rows.append({"a": a, "b": b, "ids": e.ids, "type_ids": e.type_ids})
    meta = {"generator": "scripts/reference/make_nfc_fixture.py", "tokenizers": tokenizers.__version__,
            "tokenizer": "tiny-bpe-nfc/tokenizer.json", "cases": rows}
    (FIXTURES / "nfc_cases.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    changed = sum(1 for r in rows if unicodedata.normalize("NFC", r["a"]) != r["a"])
    print(f"wrote {len(rows)} cases ({changed} change under NFC)")


if __name__ == "__main__":
    main()
