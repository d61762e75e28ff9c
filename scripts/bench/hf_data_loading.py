#!/usr/bin/env python3
"""The reference side of scripts/bench/data_loading.sh: Hugging Face `datasets` reads a CSV and
tokenizes it with the model's fast tokenizer, `map(batched=True, num_proc=N)`, with a fresh
cache directory each run (so the CSV-to-Arrow conversion is timed too). Prints rows/s.

    python scripts/bench/hf_data_loading.py MODEL_DIR FILE.csv [NUM_PROC] [MAX_LENGTH]
"""
import os
import shutil
import sys
import tempfile
import time


def main():
    model, path = sys.argv[1], sys.argv[2]
    num_proc = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    max_length = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    cache = tempfile.mkdtemp(prefix="hf-datasets-")
    os.environ["HF_DATASETS_CACHE"] = cache
    import datasets
    from transformers import AutoTokenizer
    datasets.disable_progress_bars()
    tok = AutoTokenizer.from_pretrained(model)
    start = time.perf_counter()
    ds = datasets.load_dataset("csv", data_files=path, cache_dir=cache)["train"]
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=max_length), batched=True, num_proc=num_proc)
    labels = sorted(ds.unique("label"))
    seconds = time.perf_counter() - start
    tokens = sum(len(x) for x in ds["input_ids"])
    print(f"{path}: {len(ds)} rows, {tokens} tokens, {seconds:.2f} s, {len(ds) / seconds:.0f} rows/s, "
          f"{len(labels)} labels (datasets {datasets.__version__}, num_proc {num_proc})")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
