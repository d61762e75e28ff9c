#!/usr/bin/env python3
"""Generates the tokenizer parity fixtures under Tests/Fixtures/tokenizers.

Run from the repository root with a Python that has `tokenizers` and `transformers` (no
PyTorch needed), after `scripts/fetch-model.sh`:

    ../venv-light/bin/python scripts/reference/make_tokenizer_fixtures.py

Inputs: models/all-MiniLM-L6-v2 (tokenizer.json, vocab.txt), ../shared/tokenizers/roberta-base
(vocab.json, merges.txt) and the GLUE TSVs in ../shared/glue. The script is deterministic:
re-running it writes identical files.

Reference tokenizers (every one is a Hugging Face *fast* tokenizer, i.e. the Rust library):
  * minilm      – AutoTokenizer.from_pretrained(models/all-MiniLM-L6-v2) (uncased BERT);
  * roberta     – AutoTokenizer.from_pretrained(tmp) where tmp holds roberta-base's vocab.json and
                  merges.txt plus a tokenizer_config.json naming RobertaTokenizer (transformers 5's
                  `vocab_file=` constructor silently yields an empty vocabulary, so it is not used);
  * bert_cased  – minilm's tokenizer.json with BertNormalizer(lowercase=False) (what
                  BertTokenizer(do_lower_case=False) builds); the Swift test loads it from
                  vocab.txt + tokenizer_config.json {"do_lower_case": false};
  * bert_strip  – the same with lowercase=False, strip_accents=True;
  * bert_added  – minilm plus the added tokens listed in edge_cases.json ("ZzTok" normalized,
                  "<ent>" single_word, special "[xx]" with lstrip and rstrip); the Swift test
                  appends the same entries to a copy of minilm's tokenizer.json;
  * tiny_bpe    – a 600-token byte-level BPE trained here on WNLI sentences, saved as
                  tiny-bpe/tokenizer.json (exercises the tokenizer.json BPE path, RobertaProcessing
                  and an lstrip `<mask>`);
  * tiny_gpt2   – a 600-token byte-level BPE trained the same way with GPT-2's only special
                  token `<|endoftext|>`, saved as tiny-gpt2/vocab.json + merges.txt (the GPT-2
                  path of a vocab.json without `<s>`: no special tokens added, a pair's second
                  sequence gets type id 1); the reference loads a copy with a tokenizer_config.json
                  naming GPT2Tokenizer, the Swift test the two files alone.
For each GLUE row and edge case the script checks that transformers' `tok(a, b,
truncation=True, max_length=L)` and the backend `tokenizers.Tokenizer` with
`enable_truncation(L, "longest_first")` give the same ids, and stops on any difference but
one: transformers drops an empty second sequence (`tok("", "")` is `[CLS] [SEP]`) where the
Rust library encodes it (`[CLS] [SEP] [SEP]`). The fixtures (and the Swift port) follow the
Rust library; such cases also record `transformers_ids`.

Outputs:
  * glue_manifest.json + glue_hashes.bin – per GLUE row, the length and a 64-bit hash of the
    ids and type ids (format below), for minilm and roberta at max_length 512 and 64;
  * edge_cases.json – full ids, type ids and decoded text of hand-written edge cases for every
    reference tokenizer;
  * tiny-bpe/tokenizer.json, tiny-gpt2/vocab.json and tiny-gpt2/merges.txt.

Row hash ("FNV-1a over 32-bit words"): h = 0xcbf29ce484222325; for each value w, in order
ids…, 0xFFFFFFFF, type ids…: h = (h XOR w) * 0x100000001b3 mod 2**64, with w the value as an
unsigned 32-bit integer.

glue_hashes.bin: the sections of glue_manifest.json back to back, each at its `offset`. A
section has one record per row, in file order: the token count as an unsigned LEB128 varint,
then the hash as 8 little-endian bytes. In a section with max_length 64 a count of 0 means
"identical to the row at max_length 512" (its 512 encoding has at most 64 tokens, so truncation
cannot change it) and no hash follows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import tempfile
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Tokenizer, normalizers, processors
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import AutoTokenizer

transformers.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "Tests" / "Fixtures" / "tokenizers"
MODEL = REPO / "models" / "all-MiniLM-L6-v2"
SHARED = REPO.parent / "shared"
GLUE = SHARED / "glue"
ROBERTA = SHARED / "tokenizers" / "roberta-base"
GENERATOR = "scripts/reference/make_tokenizer_fixtures.py"

# (file, columns of the text(s), has a header line)
GLUE_FILES = [
    ("CoLA/train.tsv", [3], False),
    ("CoLA/dev.tsv", [3], False),
    ("SST-2/train.tsv", [0], True),
    ("SST-2/dev.tsv", [0], True),
    ("MRPC/train.tsv", [3, 4], True),
    ("MRPC/dev.tsv", [3, 4], True),
    ("RTE/train.tsv", [1, 2], True),
    ("RTE/dev.tsv", [1, 2], True),
    ("STS-B/train.tsv", [7, 8], True),
    ("STS-B/dev.tsv", [7, 8], True),
    ("WNLI/train.tsv", [1, 2], True),
    ("WNLI/dev.tsv", [1, 2], True),
]
MAX_LENGTHS = [512, 64]

MASK64 = (1 << 64) - 1


def row_hash(ids: list[int], type_ids: list[int]) -> int:
    h = 0xCBF29CE484222325
    for w in ids:
        h = ((h ^ (w & 0xFFFFFFFF)) * 0x100000001B3) & MASK64
    h = ((h ^ 0xFFFFFFFF) * 0x100000001B3) & MASK64
    for w in type_ids:
        h = ((h ^ (w & 0xFFFFFFFF)) * 0x100000001B3) & MASK64
    return h


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_rows(relative: str, columns: list[int], header: bool) -> list[tuple[int, str, str | None]]:
    """(1-based line number, text, pair) per data row. Tab-split, no quoting, '\\n' lines."""
    lines = (GLUE / relative).read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for i, line in enumerate(lines):
        if header and i == 0:
            continue
        fields = line.split("\t")
        if len(fields) <= max(columns):
            raise SystemExit(f"{relative}:{i + 1}: {len(fields)} fields")
        texts = [fields[c] for c in columns]
        rows.append((i + 1, texts[0], texts[1] if len(texts) > 1 else None))
    return rows


def backend_copy(tok, max_length: int | None) -> Tokenizer:
    b = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    b.no_padding()
    if max_length is None:
        b.no_truncation()
    else:
        b.enable_truncation(max_length, strategy="longest_first")
    return b


def load_roberta(tmp: Path):
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(ROBERTA / name, tmp / name)
    (tmp / "config.json").write_text(json.dumps({"model_type": "roberta"}))
    (tmp / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "RobertaTokenizer", "model_max_length": 512})
    )
    return AutoTokenizer.from_pretrained(str(tmp))


def with_normalizer(tok, normalizer) -> Tokenizer:
    b = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    b.no_padding()
    b.no_truncation()
    b.normalizer = normalizer
    return b


# Added tokens of the bert_added reference: (content, special, single_word, lstrip, rstrip, normalized).
EXTRA_TOKENS = [
    ("ZzTok", False, False, False, False, True),
    ("<ent>", False, True, False, False, False),
    ("[xx]", True, False, True, True, False),
]


def with_added_tokens(tok) -> tuple[Tokenizer, list[dict]]:
    b = backend_copy(tok, None)
    for content, special, single_word, lstrip, rstrip, normalized in EXTRA_TOKENS:
        t = tokenizers.AddedToken(content, single_word=single_word, lstrip=lstrip, rstrip=rstrip, normalized=normalized)
        (b.add_special_tokens if special else b.add_tokens)([t])
    entries = json.loads(b.to_str())["added_tokens"][-len(EXTRA_TOKENS) :]
    assert [e["content"] for e in entries] == [t[0] for t in EXTRA_TOKENS]
    return b, entries


def train_tiny_bpe() -> Tokenizer:
    rows = read_rows("WNLI/train.tsv", [1, 2], True)
    texts = [t for _, a, b in rows for t in (a, b)]
    t = ByteLevelBPETokenizer()
    t.train_from_iterator(
        texts, vocab_size=600, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    t.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    backend = Tokenizer.from_str(t._tokenizer.to_str())
    backend.post_processor = processors.RobertaProcessing(
        ("</s>", backend.token_to_id("</s>")), ("<s>", backend.token_to_id("<s>")), trim_offsets=True, add_prefix_space=False
    )
    backend.no_padding()
    backend.no_truncation()
    return backend


def train_tiny_gpt2(out: Path):
    """Writes a GPT-2-style vocab.json + merges.txt to `out` and returns transformers' tokenizer for it."""
    rows = read_rows("WNLI/train.tsv", [1, 2], True)
    texts = [t for _, a, b in rows for t in (a, b)]
    t = ByteLevelBPETokenizer()
    t.train_from_iterator(texts, vocab_size=600, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False)
    out.mkdir(exist_ok=True)
    t.save_model(str(out))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(out / name, Path(tmp) / name)
        (Path(tmp) / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
        (Path(tmp) / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024})
        )
        tok = AutoTokenizer.from_pretrained(tmp)
    assert tok.backend_tokenizer.get_vocab_size() == 600, tok.backend_tokenizer.get_vocab_size()
    return tok


def edge_cases() -> list[dict]:
    long_word = "supercalifragilisticexpialidocious" * 3  # 102 characters
    cases: list[tuple[str, str, str | None, int | None]] = [
        ("empty", "", None, None),
        ("empty_pair", "", "", None),
        ("empty_first", "", "Only the second.", None),
        ("whitespace_only", "   \t \n ", None, None),
        ("whitespace_runs", "  many    spaces\t\ttabs\n\nnewlines   ", None, None),
        ("unicode_spaces", "a\u00a0b\u2003c\u3000d\u202fe\u2028f\u0085g\u000bh\u000ci", None, None),
        ("leading_trailing", " leading and trailing ", " pair ", None),
        ("accents", "Café naïve résumé déjà vu façade coöperate Ångström", None, None),
        ("accents_upper", "ÉCOLE ÀÉÎÕÜ ÇA ÑANDÚ ØRESUND ÆØÅ ß ẞ", None, None),
        ("combining", "e\u0301 n\u0303 a\u0308\u0301 o\u0323\u0302 \u0301start", None, None),
        ("turkish_greek", "İstanbul ıI ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ ǅ ǈ", None, None),
        ("ligatures_fullwidth", "ﬁ ﬂ ﬀ Ａｂｃ１２３ ｶﾀｶﾅ ①②③ ⅻ", None, None),
        ("cjk", "我爱北京天安门。日本語のテキスト、한국어 텍스트", None, None),
        ("cjk_mixed", "abc中文def 漢字kanji ㄅㄆ 𠀀𪜀 丽", None, None),
        ("emoji", "I love it 😀👍🏽 ❤️ 👨\u200d👩\u200d👧\u200d👦 🇺🇸 🥰🤩 ✨", None, None),
        ("controls", "a\u0000b\u0001c\u0008d\u007fe\u0012f\u009fg", None, None),
        ("format_chars", "zero\u200bwidth soft\u00adhyphen \ufeffbom rtl\u200fmark \u2066iso\u2069", None, None),
        ("replacement_char", "bad \ufffd byte \ufffd\ufffd", None, None),
        ("private_use", "x\ue000y \U000f0000z", None, None),
        ("mojibake", "itâ\u0080\u0099s Ã©tÃ© â€™ Ã¼ber Ã\u0083Â©", None, None),
        ("numbers", "3.14159 1,000,000 2023-10-05 -42 +7 1e-9 0x1F 100% $5.99 ½ ² ٣٤٥ ४२", None, None),
        ("apostrophes", "it's don't I'M we'll they've she'd 'quoted' rock 'n' roll ’curly’ '' 's 'S", None, None),
        ("contractions_gpt2", "'s't're've'm'll'd 'RE 'Ve x'sy", None, None),
        ("punctuation", "Hello, world!!! ... ?!? (a) [b] {c} <d> a+b=c ~^`| @#$%&* «»„“ ¿¡ — – ‐ …", None, None),
        ("special_tokens_in_text", "[CLS] x [SEP] [UNK] [PAD][MASK] <s>hi</s> <pad> <unk> <mask> a<mask>b", None, None),
        ("mask_lstrip", "fill the   <mask>  here <mask>", None, None),
        ("long_word_102", long_word, None, None),
        ("word_100", "a" * 100, None, None),
        ("word_101", "b" * 101, None, None),
        ("long_word_in_sentence", "short " + long_word + " words", None, None),
        ("long_bpe_piece", "x" * 300 + " " + "ab" * 120, None, None),
        ("long_digits", "1234567890" * 8, None, None),
        ("unk_pieces", "qzxv ⟁⟁ ᚠᚢᚦ ꙮ", None, None),
        ("hindi_arabic_hebrew", "नमस्ते दुनिया مرحبا بالعالم שלום עולם", None, None),
        ("thai_cyrillic", "สวัสดีครับ Привет МИР ёЁ", None, None),
        ("math_symbols", "∀x∈ℝ: x²≥0 ∑ ∫ √2 ≠ ≈ ∞ → ⇒", None, None),
        ("newer_unicode", "\u0897 \u08ca \u1ac1 \U00011f00 \U0001e4d0 \u2e5d \U0001fae8", None, None),
        ("url_email", "https://example.com/a?b=c&d=e#f user@mail.org", None, None),
        ("added_tokens", "ZzTok zztok ZZTOKs xzztok <ent> a<ent>b <ent>s  [xx]  c [xx]", "[xx]zz\u0301tok", None),
        ("glue_style_pair", "The cat sat on the mat .", "A cat was sitting on a mat .", None),
        ("sst2_style", "it 's a charming and often affecting journey . ", None, None),
    ]
    # Truncation: pairs of known lengths at small maxima (ties, one short side, both long).
    ten = "one two three four five six seven eight nine ten"
    seven = "alpha beta gamma delta epsilon zeta eta"
    three = "red green blue"
    for m in (1, 2, 3, 4, 5, 6, 8, 9, 12, 13, 14, 16, 23, 24, 64):
        cases.append((f"trunc_tie_{m}", ten, ten, m))
        cases.append((f"trunc_10_7_{m}", ten, seven, m))
        cases.append((f"trunc_3_10_{m}", three, ten, m))
        cases.append((f"trunc_single_{m}", ten, None, m))
    cases.append(("trunc_empty_pair", "", ten, 6))
    cases.append(("trunc_long_pair", " ".join([ten] * 20), " ".join([seven] * 30), 64))
    return [{"name": n, "text": t, "pair": p, "max_length": m} for n, t, p, m in cases]


def encode_case(backend: Tokenizer, case: dict, tok=None) -> dict:
    b = Tokenizer.from_str(backend.to_str())
    b.no_padding()
    if case["max_length"] is None:
        b.no_truncation()
    else:
        b.enable_truncation(case["max_length"], strategy="longest_first")
    e = b.encode(case["text"], case["pair"]) if case["pair"] is not None else b.encode(case["text"])
    transformers_ids = None
    if tok is not None:
        kwargs = {} if case["max_length"] is None else {"truncation": True, "max_length": case["max_length"]}
        tf = tok(case["text"], case["pair"], **kwargs) if case["pair"] is not None else tok(case["text"], **kwargs)
        if tf["input_ids"] != e.ids:
            # transformers drops an empty second sequence (`if text_pair:`); the Rust library,
            # and the Swift port, encode it as an empty sequence. Any other difference is a bug.
            if case["pair"] != "":
                raise SystemExit(f"transformers and tokenizers differ on edge case {case['name']}")
            transformers_ids = tf["input_ids"]
    return {
        **({"transformers_ids": transformers_ids} if transformers_ids is not None else {}),
        "ids": e.ids,
        "type_ids": e.type_ids,
        "decoded": b.decode(e.ids, skip_special_tokens=False),
        "decoded_skip_special": b.decode(e.ids, skip_special_tokens=True),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    minilm = AutoTokenizer.from_pretrained(str(MODEL))
    with tempfile.TemporaryDirectory() as tmp:
        roberta = load_roberta(Path(tmp))
    references = {"minilm": minilm, "roberta": roberta}

    # --- GLUE row hashes -------------------------------------------------------------------
    sections = []
    blob = bytearray()
    for name, tok in references.items():
        for relative, columns, header in GLUE_FILES:
            rows = read_rows(relative, columns, header)
            texts = [r[1] for r in rows]
            pairs = [r[2] for r in rows] if len(columns) == 2 else None
            lengths_512: list[int] = []
            for max_length in MAX_LENGTHS:
                if pairs is None:
                    tf = tok(texts, truncation=True, max_length=max_length)["input_ids"]
                    encs = backend_copy(tok, max_length).encode_batch(texts)
                else:
                    tf = tok(texts, pairs, truncation=True, max_length=max_length)["input_ids"]
                    encs = backend_copy(tok, max_length).encode_batch(list(zip(texts, pairs)))
                offset = len(blob)
                for i, (ids, e) in enumerate(zip(tf, encs)):
                    if ids != e.ids:
                        raise SystemExit(f"{name} {relative}:{rows[i][0]}: transformers and tokenizers differ")
                    if max_length == 512:
                        lengths_512.append(len(ids))
                    if max_length != 512 and lengths_512[i] <= max_length:
                        blob += varint(0)
                        continue
                    blob += varint(len(e.ids)) + struct.pack("<Q", row_hash(e.ids, e.type_ids))
                sections.append(
                    {
                        "tokenizer": name,
                        "file": relative,
                        "columns": columns,
                        "header": header,
                        "max_length": max_length,
                        "rows": len(rows),
                        "offset": offset,
                        "bytes": len(blob) - offset,
                        "sha256": hashlib.sha256((GLUE / relative).read_bytes()).hexdigest(),
                    }
                )
                print(f"{name} {relative} max {max_length}: {len(rows)} rows, {len(blob) - offset} bytes")
    (OUT / "glue_hashes.bin").write_bytes(bytes(blob))
    manifest = {
        "generator": GENERATOR,
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "hash": "fnv1a64 over uint32 words: ids, 0xFFFFFFFF, type ids",
        "record": "LEB128 token count, then u64 LE hash; count 0 in a max_length-64 section = same as 512",
        "sections": sections,
    }
    (OUT / "glue_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    # --- Edge cases ------------------------------------------------------------------------
    tiny = train_tiny_bpe()
    (OUT / "tiny-bpe").mkdir(exist_ok=True)
    tiny_json = json.loads(tiny.to_str())
    (OUT / "tiny-bpe" / "tokenizer.json").write_text(json.dumps(tiny_json, ensure_ascii=True, indent=None) + "\n")
    tiny = Tokenizer.from_file(str(OUT / "tiny-bpe" / "tokenizer.json"))
    backends = {
        "minilm": (backend_copy(minilm, None), minilm),
        "roberta": (backend_copy(roberta, None), roberta),
        "bert_cased": (with_normalizer(minilm, normalizers.BertNormalizer(lowercase=False)), None),
        "bert_strip": (with_normalizer(minilm, normalizers.BertNormalizer(lowercase=False, strip_accents=True)), None),
        "tiny_bpe": (tiny, None),
    }
    gpt2 = train_tiny_gpt2(OUT / "tiny-gpt2")
    backends["tiny_gpt2"] = (backend_copy(gpt2, None), gpt2)
    added_backend, extra_entries = with_added_tokens(minilm)
    backends["bert_added"] = (added_backend, None)
    cases = edge_cases()
    for case in cases:
        case["expected"] = {name: encode_case(b, case, tok) for name, (b, tok) in backends.items()}
    header = {
        "generator": GENERATOR,
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "tokenizers": {
            "minilm": "models/all-MiniLM-L6-v2 (tokenizer.json)",
            "roberta": "../shared/tokenizers/roberta-base (vocab.json + merges.txt)",
            "bert_cased": "minilm vocab.txt with do_lower_case false",
            "bert_strip": "minilm vocab.txt with do_lower_case false, strip_accents true",
            "tiny_bpe": "Tests/Fixtures/tokenizers/tiny-bpe/tokenizer.json",
            "tiny_gpt2": "Tests/Fixtures/tokenizers/tiny-gpt2/vocab.json + merges.txt (GPT2Tokenizer)",
            "bert_added": "minilm tokenizer.json plus bert_added_tokens",
        },
        "bert_added_tokens": extra_entries,
    }
    # One case per line: compact, yet a diff shows which case changed.
    text = json.dumps(header, ensure_ascii=True, indent=1)[:-2] + ',\n "cases": [\n'
    text += ",\n".join(json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases)
    (OUT / "edge_cases.json").write_text(text + "\n ]\n}\n")
    print(f"{len(cases)} edge cases; glue_hashes.bin {len(blob)} bytes")


if __name__ == "__main__":
    main()
