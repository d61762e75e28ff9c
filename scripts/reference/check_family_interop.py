#!/usr/bin/env python3
"""Interoperability of our release CLI with PEFT and transformers, for every encoder family.

For each family with a PEFT LoRA fixture (Tests/Fixtures/lora/peft-tiny-<family>/{base, adapter_final,
batches.json, meta.json}):

 1. merge:   `lora merge --model base --adapter adapter_final --out TMP` (PEFT's trained adapter), then
             AutoModelForSequenceClassification(TMP) against PeftModel(base, adapter_final) on the
             fixture's batches: max |logit difference| <= 1e-4. transformers must find every weight in
             the merged directory (no missing, unexpected or re-initialised tensor).
 2. adapter: an adapter WE train loads in PEFT. The tiny bases have no tokenizer, so the base is copied
             to a temporary directory with a made-up BERT WordPiece vocab.txt (exactly vocab_size lines,
             the special tokens at the ids of the fixture's meta.json special_token_ids, then lowercase
             words and a few ## pieces); `lora train --train-file train.csv --dev-file dev.csv` (LoRA,
             the family's default targets, 1 epoch, batch 8, fixed seed, one thread) writes OUT/adapter;
             `lora predict --model TMP --adapter OUT/adapter` prints the logits of texts read from stdin.
             In PyTorch: BertTokenizerFast.from_pretrained(TMP) (it reads TMP/vocab.txt) must give the ids
             and type ids `lora tokenize` prints; PEFT must hold every tensor of our adapter file with its
             values; and PeftModel.from_pretrained(AutoModelForSequenceClassification(TMP), OUT/adapter)
             must give our logits within 1e-4 (each text run alone; no token_type_ids for DistilBERT and
             ModernBERT). The LoRA part must matter: zeroing lora_B changes PEFT's logits.
 3. params:  `lora params --model base --method lora --json` (r 8, alpha 8, default targets) against
             PEFT's get_peft_model(base, LoraConfig(SEQ_CLS, r=8, lora_alpha=8, target_modules=<our
             defaults>)) with PEFT's default modules_to_save. They must be equal, except DistilBERT, where
             we also train and save pre_classifier: ours must exceed PEFT's by exactly the parameters of
             the extra modules that PEFT's default does not wrap itself (PEFT 0.21 matches modules_to_save
             by bare suffix, so its "classifier" wraps pre_classifier too and the counts are equal; the
             script prints a note).

Run from the repository root with the reference venv, after `swift build -c release`:

    ../refenv/bin/python scripts/reference/check_family_interop.py [LORA_BIN] [--keep DIR] [--only FAMILY,...]

Prints one table; exits 1 if any check fails (a CLI error counts as a failure and is printed).
Writes nothing to the repository (temporary directories, or DIR with --keep).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file

warnings.filterwarnings("ignore")
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, TaskType, get_peft_model, get_peft_model_state_dict  # noqa: E402
from peft.utils.other import ModulesToSaveWrapper  # noqa: E402
from transformers import AutoModelForSequenceClassification, BertTokenizerFast  # noqa: E402

transformers.logging.set_verbosity_error()

FIXTURES = Path("Tests/Fixtures/lora")
LOGIT_TOL = 1e-4
MIN_LORA_EFFECT = 1e-3  # our trained LoRA must move PEFT's logits by at least this (100 x the tolerance)
LORA_R, LORA_ALPHA = 8, 8

# family -> takes token type ids, our default LoRA targets (README.md "Encoder families",
# Sources/Encoders/Families/*), modules we train and save beyond PEFT's SEQ_CLS default.
FAMILIES = {
    "bert": dict(types=True, targets=["query", "value"], extra=[]),
    "roberta": dict(types=False, targets=["query", "value"], extra=[]),
    "electra": dict(types=True, targets=["query", "value"], extra=[]),
    "distilbert": dict(types=False, targets=["q_lin", "v_lin"], extra=["pre_classifier"]),
    "modernbert": dict(types=False, targets=["Wqkv"], extra=[]),
    "xlm-roberta": dict(types=False, targets=["query", "value"], extra=[]),
    "camembert": dict(types=False, targets=["query", "value"], extra=[]),
}

# meta.json special_token_ids names -> BERT WordPiece tokens.
SPECIAL_TOKEN = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "bos": "[CLS]", "sep": "[SEP]",
                 "eos": "[SEP]", "mask": "[MASK]"}
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PIECES = ["##s", "##er", "##ly"]
TRAIN_ROWS, DEV_ROWS = 24, 8
SEED = 7


class CLIError(Exception):
    pass


def run(cmd, stdin: str | None = None) -> str:
    p = subprocess.run([str(c) for c in cmd], input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        err = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise CLIError(f"`{' '.join(str(c) for c in cmd[:2])} ...` exited {p.returncode}: "
                       + " | ".join(err[-3:]))
    return p.stdout


def load_model(path: Path, loading_info: bool = False):
    return AutoModelForSequenceClassification.from_pretrained(
        str(path), attn_implementation="eager", output_loading_info=loading_info)


def logits_of(model, ids, types, takes_types: bool) -> torch.Tensor:
    kwargs = {"input_ids": torch.tensor([ids])}
    if takes_types:
        kwargs["token_type_ids"] = torch.tensor([types])
    with torch.no_grad():
        return model(**kwargs).logits[0].double()


# ------------------------------------------------------------------------------------------------
# 1. lora merge of PEFT's adapter


def check_merge(lora: str, family: str, spec: dict, fixture: Path, tmp: Path) -> float:
    merged_dir = tmp / "merged"
    run([lora, "merge", "--model", fixture / "base", "--adapter", fixture / "adapter_final", "--out", merged_dir])
    merged, info = load_model(merged_dir, loading_info=True)
    problems = {k: v for k, v in info.items() if v and k != "error_msgs"}
    if problems or info.get("error_msgs"):
        raise AssertionError(f"transformers loading the merged directory: {info}")
    merged.eval()
    peft = PeftModel.from_pretrained(load_model(fixture / "base"), str(fixture / "adapter_final")).eval()
    worst = 0.0
    for batch in json.loads((fixture / "batches.json").read_text()):
        for ids, types in zip(batch["input_ids"], batch["token_type_ids"]):
            a = logits_of(merged, ids, types, spec["types"])
            b = logits_of(peft, ids, types, spec["types"])
            worst = max(worst, float((a - b).abs().max()))
    return worst


# ------------------------------------------------------------------------------------------------
# 2. our adapter in PEFT


def make_words(n: int) -> list[str]:
    """n made-up lowercase words (two syllables), deterministic."""
    cons, vows = "bdfgklmnprstvz", "aeiou"
    syll = [c + v for c in cons for v in vows]
    rng = random.Random(1234)
    words, seen = [], set()
    while len(words) < n:
        w = rng.choice(syll) + rng.choice(syll) + rng.choice(["", "n", "r"])
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def write_vocab(path: Path, vocab_size: int, special_ids: dict) -> list[str]:
    """vocab.txt with exactly vocab_size lines: the special tokens at the fixture's ids, the ones it
    has no id for ([MASK] for RoBERTa) in the first free slots, then ## pieces and words."""
    vocab: list[str | None] = [None] * vocab_size
    for name, i in special_ids.items():
        tok = SPECIAL_TOKEN[name]
        assert vocab[i] in (None, tok), (name, i, vocab[i])
        vocab[i] = tok
    for tok in BERT_SPECIALS:
        if tok not in vocab:
            vocab[vocab.index(None)] = tok
    free = [i for i, t in enumerate(vocab) if t is None]
    fill = PIECES + make_words(len(free) - len(PIECES))
    for i, tok in zip(free, fill):
        vocab[i] = tok
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return [t for t in fill if not t.startswith("##")]


def make_texts(words: list[str], n: int, rng: random.Random) -> list[str]:
    texts = []
    for _ in range(n):
        toks = []
        for _ in range(rng.randint(3, 10)):
            w = rng.choice(words)
            if rng.random() < 0.15:
                w += rng.choice(PIECES)[2:]  # a word WordPiece splits into word + ##piece
            toks.append(w)
        texts.append(" ".join(toks))
    return texts


def write_csv(path: Path, texts: list[str], labels: list[int]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, labels))


def check_our_adapter(lora: str, family: str, spec: dict, fixture: Path, tmp: Path) -> tuple[float, float]:
    """Returns (max |our logits - PEFT's|, the LoRA part's effect: max |PEFT's logits - PEFT's with every
    lora_B zeroed| (the same head), so that the comparison is not one of a no-op adapter)."""
    meta = json.loads((fixture / "meta.json").read_text())
    model_dir = tmp / "model"
    shutil.copytree(fixture / "base", model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    num_labels = len(config.get("id2label") or {}) or 2
    words = write_vocab(model_dir / "vocab.txt", config["vocab_size"], meta["special_token_ids"])

    rng = random.Random(SEED)
    train_texts = make_texts(words, TRAIN_ROWS, rng)
    dev_texts = make_texts(words, DEV_ROWS, rng)
    write_csv(tmp / "train.csv", train_texts, [i % num_labels for i in range(TRAIN_ROWS)])
    write_csv(tmp / "dev.csv", dev_texts, [i % num_labels for i in range(DEV_ROWS)])
    out = tmp / "out"
    run([lora, "train", "--model", model_dir, "--train-file", tmp / "train.csv", "--dev-file", tmp / "dev.csv",
         "--method", "lora", "--rank", LORA_R, "--alpha", LORA_ALPHA, "--epochs", 1, "--batch-size", 8,
         "--lr", "2e-2", "--warmup-ratio", 0, "--max-length", 32, "--seed", SEED, "--threads", 1, "--out", out]
        + EXTRA_TRAIN_ARGS)
    adapter = out / "adapter"

    # Texts to compare on: the dev texts, a training text, one with an out-of-vocabulary word ([UNK]).
    texts = dev_texts + train_texts[:1] + [f"{words[0]} qqxq {words[1]}{PIECES[0][2:]}"]
    stdin = "\n".join(texts) + "\n"
    # transformers 5.24's BertTokenizerFast(vocab_file=...) ignores the file (a 5-token vocabulary, every
    # word [UNK]); from_pretrained on the directory reads vocab.txt.
    tok = BertTokenizerFast.from_pretrained(str(model_dir))
    vocab_lines = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if len(tok) != config["vocab_size"] or any(tok.convert_tokens_to_ids(t) != i for i, t in enumerate(vocab_lines)):
        raise AssertionError(f"BertTokenizerFast did not read vocab.txt ({len(tok)} tokens)")
    ours_tok = [line.split("\t") for line in run([lora, "tokenize", "--tokenizer", model_dir, "--type-ids"],
                                                 stdin).splitlines()]
    if len(ours_tok) != len(texts):
        raise AssertionError(f"lora tokenize printed {len(ours_tok)} lines for {len(texts)} texts")
    encoded = []
    for text, (ids_s, types_s) in zip(texts, ours_tok):
        enc = tok(text)
        ours_ids, ours_types = [int(x) for x in ids_s.split()], [int(x) for x in types_s.split()]
        if enc["input_ids"] != ours_ids or enc["token_type_ids"] != ours_types:
            raise AssertionError(f"token ids differ on {text!r}: BertTokenizerFast {enc['input_ids']} "
                                 f"{enc['token_type_ids']}, lora tokenize {ours_ids} {ours_types}")
        encoded.append((enc["input_ids"], enc["token_type_ids"]))

    ours = [json.loads(line)["logits"] for line in
            run([lora, "predict", "--model", model_dir, "--adapter", adapter, "--max-length", 32], stdin).splitlines()]
    if len(ours) != len(texts):
        raise AssertionError(f"lora predict printed {len(ours)} lines for {len(texts)} texts")

    peft = PeftModel.from_pretrained(load_model(model_dir), str(adapter)).eval()
    no_lora = PeftModel.from_pretrained(load_model(model_dir), str(adapter)).eval()
    with torch.no_grad():
        for n, p in no_lora.named_parameters():
            if "lora_B" in n:
                p.zero_()
    no_lora_logits = [logits_of(no_lora, i, t, spec["types"]) for i, t in encoded]
    # PEFT must hold every tensor of our file, with its values, and nothing of its own that the file lacks.
    ours_sd = load_file(str(adapter / "adapter_model.safetensors"))
    peft_sd = get_peft_model_state_dict(peft)
    if set(ours_sd) != set(peft_sd):
        raise AssertionError(f"adapter tensors: only in our file {sorted(set(ours_sd) - set(peft_sd))}, "
                             f"only in PEFT {sorted(set(peft_sd) - set(ours_sd))}")
    for k, v in ours_sd.items():
        if not torch.equal(v, peft_sd[k]):
            raise AssertionError(f"PEFT's {k} differs from our file")
    if not any(float(v.abs().max()) > 0 for k, v in ours_sd.items() if "lora_B" in k):
        raise AssertionError("every lora_B of our adapter is 0: training did not move it")
    worst = effect = 0.0
    for (ids, types), mine, b in zip(encoded, ours, no_lora_logits):
        theirs = logits_of(peft, ids, types, spec["types"])
        worst = max(worst, float((torch.tensor(mine, dtype=torch.float64) - theirs).abs().max()))
        effect = max(effect, float((theirs - b).abs().max()))
    return worst, effect


# ------------------------------------------------------------------------------------------------
# 3. trainable parameter counts


def check_params(lora: str, family: str, spec: dict, fixture: Path) -> tuple[int, int, int, list[str]]:
    """Returns (ours, PEFT's, expected ours - PEFT's, the modules PEFT's default modules_to_save wraps).
    The expected difference is the size of the modules we train beyond PEFT's default (spec["extra"])
    that PEFT does not wrap itself (PEFT 0.21 matches modules_to_save by bare suffix, so its default
    "classifier" also wraps DistilBERT's pre_classifier)."""
    ours = json.loads(run([lora, "params", "--model", fixture / "base", "--method", "lora", "--rank", LORA_R,
                           "--alpha", LORA_ALPHA, "--json"]))["trainable"]
    base = load_model(fixture / "base")
    pm = get_peft_model(base, LoraConfig(task_type=TaskType.SEQ_CLS, r=LORA_R, lora_alpha=LORA_ALPHA,
                                         target_modules=list(spec["targets"])))
    wrapped = sorted(n.removeprefix("base_model.model.") for n, m in pm.named_modules()
                     if isinstance(m, ModulesToSaveWrapper))
    inner = pm.base_model.model
    extra = sum(p.numel() for m in spec["extra"] if m not in wrapped for p in inner.get_submodule(m).parameters())
    peft = sum(p.numel() for p in pm.parameters() if p.requires_grad)
    return ours, peft, extra, wrapped


# ------------------------------------------------------------------------------------------------


EXTRA_TRAIN_ARGS: list = []


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lora", nargs="?", default=".build/release/lora", help="the CLI (default .build/release/lora)")
    ap.add_argument("--keep", help="work in this directory (kept) instead of a temporary one")
    ap.add_argument("--only", help="comma-separated families (default: all)")
    ap.add_argument("--train-args", default="", help="extra `lora train` options for the our-adapter check, e.g. \"--init pissa\" "
                    "(a PiSSA adapter is saved converted for the original base, rank 2r)")
    args = ap.parse_args(argv)
    EXTRA_TRAIN_ARGS.extend(args.train_args.split())
    torch.set_num_threads(1)
    lora = str(Path(args.lora).resolve())
    families = args.only.split(",") if args.only else list(FAMILIES)
    for f in families:
        if f not in FAMILIES:
            raise SystemExit(f"unknown family {f!r}; choose from {', '.join(FAMILIES)}")

    rows, failures = [], []
    with tempfile.TemporaryDirectory() as tmp_root:
        root = Path(args.keep) if args.keep else Path(tmp_root)
        for family in families:
            spec, fixture = FAMILIES[family], FIXTURES / f"peft-tiny-{family}"
            work = root / family
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            row = {"family": family}
            steps = [("merge", lambda: check_merge(lora, family, spec, fixture, work)),
                     ("adapter", lambda: check_our_adapter(lora, family, spec, fixture, work)),
                     ("params", lambda: check_params(lora, family, spec, fixture))]
            for name, fn in steps:
                try:
                    row[name] = fn()
                except (CLIError, AssertionError, Exception) as e:  # noqa: BLE001 -- report and go on
                    row[name] = None
                    failures.append(f"{family} {name}: {type(e).__name__}: {e}")
            if row["merge"] is not None and row["merge"] > LOGIT_TOL:
                failures.append(f"{family} merge: max |logit difference| {row['merge']:.3g} > {LOGIT_TOL:g}")
            if row["adapter"] is not None and row["adapter"][0] > LOGIT_TOL:
                failures.append(f"{family} adapter: max |logit difference| {row['adapter'][0]:.3g} > {LOGIT_TOL:g}")
            if row["adapter"] is not None and row["adapter"][1] < MIN_LORA_EFFECT:
                failures.append(f"{family} adapter: its LoRA changes PEFT's logits by only {row['adapter'][1]:.3g} "
                                f"(< {MIN_LORA_EFFECT:g}): the comparison would not test it")
            if row["params"] is not None:
                ours, peft, extra, _ = row["params"]
                if ours - peft != extra:
                    failures.append(f"{family} params: ours {ours}, PEFT {peft}, expected difference {extra}")
            rows.append(row)
            print(f"[check_family_interop] {family} done", file=sys.stderr, flush=True)

    def fmt(x, i=None):
        if x is None:
            return "FAILED"
        return f"{(x if i is None else x[i]):.2e}"

    header = ["family", "merge max |Δlogit|", "our adapter in PEFT max |Δlogit|", "its LoRA's effect",
              "trainable ours / PEFT"]
    table = []
    for r in rows:
        if r["params"] is None:
            params = "FAILED"
        else:
            ours, peft, extra, _ = r["params"]
            params = f"{ours} / {peft}" + (f" (+{extra} {'+'.join(FAMILIES[r['family']]['extra'])})" if extra else "")
        table.append([r["family"], fmt(r["merge"]), fmt(r["adapter"], 0), fmt(r["adapter"], 1), params])
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for t in table:
        print(line(t))
    print(f"tolerance: |Δlogit| <= {LOGIT_TOL:g}; LoRA's effect = max |logit change| in PEFT when our "
          f"adapter's lora_B are zeroed (the comparison is not of a no-op adapter); LoRA r {LORA_R}, alpha {LORA_ALPHA}")
    for r in rows:
        if r["params"] is not None:
            _, _, _, wrapped = r["params"]
            also = [m for m in FAMILIES[r["family"]]["extra"] if m in wrapped]
            if also:
                print(f"note: {r['family']}: PEFT's default modules_to_save (SEQ_CLS: classifier, score) wraps "
                      f"{', '.join(wrapped)}, so it also trains {', '.join(also)}, as we do")
    for f in failures:
        print("FAIL " + f)
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
