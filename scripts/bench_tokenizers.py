#!/usr/bin/env python3
"""Times Python `tokenizers` (the Rust fast tokenizers behind `transformers`) on GLUE SST-2.

The Swift side of the comparison is `lora tokenize --benchmark`:

    swift build -c release
    .build/release/lora tokenize --tokenizer models/all-MiniLM-L6-v2 --benchmark ../shared/glue/SST-2/train.tsv
    ../venv-light/bin/python scripts/bench_tokenizers.py --tokenizer models/all-MiniLM-L6-v2

Both read the `sentence` column of SST-2/train.tsv (67,349 sentences), encode every sentence
with special tokens and truncation to `--max-length`, repeat `--repeats` times and report the
best run in sentences per second. `batch` is `Tokenizer.encode_batch` (Rust threads, as
`transformers` uses it); `loop` is one `encode` call per sentence from Python.

`--tokenizer` is a directory as `AutoTokenizer.from_pretrained` reads it. A directory holding
only roberta-base's `vocab.json` and `merges.txt` (such as ../shared/tokenizers/roberta-base)
is copied to a temporary directory with a `tokenizer_config.json` naming RobertaTokenizer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_backend(directory: Path):
    import transformers
    from transformers import AutoTokenizer

    transformers.logging.set_verbosity_error()
    tmp = None
    if not (directory / "tokenizer_config.json").exists() and (directory / "merges.txt").exists():
        tmp = tempfile.mkdtemp()
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(directory / name, tmp)
        (Path(tmp) / "config.json").write_text(json.dumps({"model_type": "roberta"}))
        (Path(tmp) / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "RobertaTokenizer", "model_max_length": 512})
        )
        directory = Path(tmp)
    tok = AutoTokenizer.from_pretrained(str(directory))
    if tmp:
        shutil.rmtree(tmp)
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    backend.no_padding()
    return backend


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", default=str(REPO / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--tsv", default=str(REPO.parent / "shared" / "glue" / "SST-2" / "train.tsv"))
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import tokenizers

    lines = Path(args.tsv).read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sentences = [line.split("\t")[0] for line in lines[1:]]
    backend = load_backend(Path(args.tokenizer))
    backend.enable_truncation(args.max_length, strategy="longest_first")

    def best(fn) -> float:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    batch = best(lambda: backend.encode_batch(sentences))
    loop = best(lambda: [backend.encode(s) for s in sentences])
    tokens = sum(len(e.ids) for e in backend.encode_batch(sentences))
    print(
        f"python tokenizers {tokenizers.__version__} ({os.cpu_count()} CPUs), {Path(args.tokenizer).name}, "
        f"{len(sentences)} sentences, {tokens} tokens, max length {args.max_length}"
    )
    print(f"batch: {len(sentences) / batch:,.0f} sentences/s ({batch * 1e3:.1f} ms)")
    print(f"loop:  {len(sentences) / loop:,.0f} sentences/s ({loop * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
