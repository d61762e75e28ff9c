#!/usr/bin/env python3
"""Generates the SentencePiece Unigram parity fixtures under Tests/Fixtures/tokenizers.

Run from the repository root with a Python that has `tokenizers`, `transformers`,
`sentencepiece` and `protobuf` (no PyTorch needed):

    ../refenv/bin/pip install sentencepiece protobuf
    ../refenv/bin/python scripts/reference/make_unigram_fixtures.py

Inputs: the GLUE TSVs in ../shared/glue. The script is deterministic (one trainer thread, a
fixed seed, fixed sentence lists): re-running it writes identical files.

Three small SentencePiece Unigram models are trained here on GLUE train sentences (plus a few
multilingual lines, so that the vocabularies hold non-Latin pieces), then converted into
`tokenizer.json` files by transformers itself, each through the path transformers 5.24 takes for
a SentencePiece `.model` file:

  * tiny-xlmr      – `nmt_nfkc`, no byte fallback, 1500 pieces; `XLMRobertaTokenizer.from_pretrained`
                     of a folder holding `sentencepiece.bpe.model` (SentencePieceExtractor, then
                     XLMRobertaConverter.convert_from_spm, then the class's own __init__: Precompiled
                     normalizer, WhitespaceSplit + Metaspace(always), Metaspace decoder, XLM-R's
                     special tokens and template).
  * tiny-camembert – `nmt_nfkc_cf` (a second charsmap, with case folding), trained with
                     `byte_fallback=True`, 1500 pieces; `CamembertTokenizer.from_pretrained` the same
                     way (`<s>NOTUSED` … vocabulary, `<mask>` with lstrip). transformers 5.24's
                     CamembertTokenizer builds `Unigram(byte_fallback=False)` whatever the model says,
                     so the file has the 256 `<0xXX>` pieces as ordinary entries and no byte fallback.
  * tiny-spm       – `identity` normalization (no charsmap), `byte_fallback=True`, 1000 pieces;
                     `TokenizersBackend.from_pretrained` of a folder holding `tokenizer.model`
                     (transformers' generic SentencePiece conversion,
                     SpmConverter.build_tokenizer_from_spm_proto, which honours byte_fallback):
                     Replace normalizers (`\\A +| +\\z`, ` {2,}`, " " → "▁", `\\A▁` → "▁▁"),
                     Metaspace(always, split=false), decoder Replace + ByteFallback + Fuse + Strip,
                     no special tokens in the template.

A synthetic reference, serde_tie (its tokenizer.json is in `unigram_edge_cases.json` under
"synthetic"): four pieces whose scores tie exactly ("a" + "b" == "ab") until serde_json reads them,
which proves that the Swift port reads scores as the Rust library does (see below).

Edge-case variants (each a few edits of one of the files above, listed in
`unigram_edge_cases.json` under "variants" so that the Swift tests apply the same edits):
  * tiny_camembert_bf     – tiny-camembert with `model.byte_fallback` true (CamemBERT's special tokens
                            and pre-tokenizer with byte fallback);
  * tiny_xlmr_first       – tiny-xlmr with Metaspace `prepend_scheme` "first";
  * tiny_xlmr_never       – tiny-xlmr with Metaspace `prepend_scheme` "never";
  * tiny_xlmr_added       – tiny-xlmr plus added tokens: normalized "ZzTok" and "ﬁx" (matched in the
                            normalized text, so "fix" matches too), single_word "<ent>", special "[xx]"
                            with lstrip and rstrip;
  * tiny_xlmr_converter   – tiny-xlmr with the normalizer, pre-tokenizer and decoder that
                            `convert_slow_tokenizer`'s XLMRobertaConverter builds (Precompiled, Strip
                            right, Replace ` {2,}` → "▁"; Metaspace alone); checked equal here;
  * tiny_spm_first        – tiny-spm as `TokenizersBackend.from_pretrained(..., legacy=False)` converts
                            it (no `\\A▁` Replace, Metaspace prepend_scheme "first"); checked equal here.

Outputs:
  * tiny-xlmr/, tiny-camembert/, tiny-spm/ – `tokenizer.json` exactly as transformers saved it;
  * unigram_manifest.json + unigram_hashes.bin – per GLUE row (every train and dev row of CoLA,
    SST-2, MRPC, RTE, STS-B, WNLI for tiny-xlmr and tiny-camembert; all but SST-2 train for
    tiny-spm), the length and 64-bit hash of the ids and type ids at max_length 512, in the
    format of glue_manifest.json / glue_hashes.bin (see make_tokenizer_fixtures.py);
  * unigram_edge_cases.json – full ids, type ids and decoded text of the edge cases of
    make_tokenizer_fixtures.py plus Unigram-specific ones, for every reference and variant;
  * unigram_random.json – 2000 random texts drawn from RANDOM_POOL (grapheme-cluster and charsmap
    stress), each with one hash of the encodings of all nine references.

References: the Rust library (`tokenizers.Tokenizer.from_str` of the committed file's text, or of a
variant's, truncation `longest_first`). For every GLUE row, edge case and random text the script
also encodes with transformers (`<Class>.from_pretrained(<fixture folder>)`, `tok(a, b,
truncation=True, max_length=L)`) and stops on a difference it cannot explain. It accepts three
kinds, each recorded (`transformers_ids` in the edge cases, `known_differences` in the header):
  1. transformers drops an empty second sequence (`tok("", "")`), as for the other tokenizers;
  2. score parsing: the Rust library reads `tokenizer.json` with serde_json's default float parser,
     which is not correctly rounded (about 1 score in 8 comes out 1 ulp off), while transformers'
     XLMRobertaTokenizer/CamembertTokenizer re-read the vocabulary with Python's json and rebuild the
     model from exact floats, so a Viterbi near-tie can fall the other way; accepted only when a
     Rust tokenizer holding the exact scores gives transformers' ids. (No GLUE row or case needed
     it; the synthetic serde_tie model shows it.) The Swift port follows the file-loading Rust
     library: it emulates serde_json's parser, which this script checks on every score;
  3. transformers' tokenizer has added tokens its saved `tokenizer.json` lacks (CamembertTokenizer
     adds `<s>NOTUSED`, `</s>NOTUSED`, `<unk>NOTUSED` as special tokens on loading); accepted only
     when transformers' own backend gives its ids.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import sentencepiece as spm
import tokenizers
import transformers
from tokenizers import Tokenizer
from tokenizers.models import Unigram
from transformers import CamembertTokenizer, XLMRobertaTokenizer
from transformers.convert_slow_tokenizer import XLMRobertaConverter
from transformers.tokenization_utils_tokenizers import TokenizersBackend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tokenizer_fixtures import GLUE, GLUE_FILES, OUT, edge_cases as shared_edge_cases, read_rows, row_hash, varint  # noqa: E402

transformers.logging.set_verbosity_error()

GENERATOR = "scripts/reference/make_unigram_fixtures.py"
MAX_LENGTH = 512
SEED = 1234

# (file, columns, header, rows used) of the training text.
TRAIN_SOURCES = [
    ("CoLA/train.tsv", [3], False, 2000),
    ("SST-2/train.tsv", [0], True, 2000),
    ("MRPC/train.tsv", [3, 4], True, 800),
    ("RTE/train.tsv", [1, 2], True, 400),
    ("STS-B/train.tsv", [7, 8], True, 1000),
    ("WNLI/train.tsv", [1, 2], True, 300),
]
# A few lines in other scripts, repeated so that the trainer keeps pieces of them.
MULTILINGUAL = [
    "Café naïve résumé déjà vu façade Ångström Zürich Ærø",
    "Élève à l'école, où est la forêt ? Ça va très bien.",
    "日本語のテキストと中文字符，我爱北京天安门。",
    "한국어 텍스트 안녕하세요 세계",
    "Привет мир, ёлка и Москва",
    "مرحبا بالعالم والسلام عليكم",
    "नमस्ते दुनिया क्षत्रिय हिन्दी",
    "สวัสดีครับ ประเทศไทย",
    "Γειά σου κόσμε ΣΊΣΥΦΟΣ",
    "I love it 😀👍🏽 ❤️ 🇫🇷",
]

MODELS = {
    # name: (vocab size, normalization rule, byte fallback)
    "xlmr": (1500, "nmt_nfkc", False),
    "camembert": (1500, "nmt_nfkc_cf", True),
    "spm": (1000, "identity", True),
}

# tiny-spm (an extra beside the XLM-R and CamemBERT files) skips SST-2's 67k lowercased ASCII
# training rows, which keeps unigram_hashes.bin under 2 MB.
GLUE_SKIPPED = {("tiny-spm", "SST-2/train.tsv")}

POW10 = [float(f"1e{k}") for k in range(309)]


def serde_json_f64(text: str) -> float:
    """serde_json's default (not `float_roundtrip`) parse of a JSON number: the decimal digits as a
    u64 (digits past u64 range dropped), converted to f64, then one multiplication or division by an
    f64 power of ten."""
    negative = text.startswith("-")
    body = text.lstrip("-")
    mantissa, _, exponent_text = body.replace("E", "e").partition("e")
    integer, _, fraction = mantissa.partition(".")
    digits = integer + fraction
    exponent = int(exponent_text or "0") - len(fraction)
    significand = 0
    for i, d in enumerate(digits):
        if significand * 10 + int(d) > 0xFFFFFFFFFFFFFFFF:
            # As serde_json: further integer digits raise the exponent, fraction digits are dropped.
            exponent += max(0, len(integer) - i)
            break
        significand = significand * 10 + int(d)
    f = float(significand)
    while True:
        if abs(exponent) < len(POW10):
            f = f * POW10[exponent] if exponent >= 0 else f / POW10[-exponent]
            break
        if f == 0.0:
            break
        f /= 1e308
        exponent += 308
    return -f if negative else f


def training_texts() -> list[str]:
    texts: list[str] = []
    for relative, columns, header, count in TRAIN_SOURCES:
        for _, a, b in read_rows(relative, columns, header)[:count]:
            texts.append(a)
            if b is not None:
                texts.append(b)
    return texts + MULTILINGUAL * 5


def train(name: str, texts: list[str]) -> bytes:
    vocab_size, rule, byte_fallback = MODELS[name]
    spm.set_random_generator_seed(SEED)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        normalization_rule_name=rule,
        byte_fallback=byte_fallback,
        character_coverage=1.0,
        num_threads=1,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    return model.getvalue()


def convert(cls, model: bytes, filename: str, **kwargs) -> str:
    """The tokenizer.json text transformers writes for a SentencePiece model file."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as saved:
        (Path(tmp) / filename).write_bytes(model)
        tok = cls.from_pretrained(tmp, **kwargs)
        tok.save_pretrained(saved)
        return (Path(saved) / "tokenizer.json").read_text(encoding="utf-8")


def converter_sections(model: bytes) -> dict:
    """normalizer, pre_tokenizer and decoder of `convert_slow_tokenizer`'s XLMRobertaConverter."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sentencepiece.bpe.model"
        path.write_bytes(model)
        tok = XLMRobertaTokenizer.from_pretrained(tmp)
        tok.vocab_file = str(path)
        converted = json.loads(XLMRobertaConverter(tok).converted().to_str())
    return {k: converted[k] for k in ("normalizer", "pre_tokenizer", "decoder")}


VARIANTS = {
    "tiny_camembert_bf": ("tiny-camembert", {"model.byte_fallback": True}),
    "tiny_xlmr_first": (
        "tiny-xlmr",
        {"pre_tokenizer.pretokenizers.1.prepend_scheme": "first", "decoder.prepend_scheme": "first"},
    ),
    "tiny_xlmr_never": (
        "tiny-xlmr",
        {"pre_tokenizer.pretokenizers.1.prepend_scheme": "never", "decoder.prepend_scheme": "never"},
    ),
    "tiny_xlmr_converter": (
        "tiny-xlmr",
        {
            "normalizer": {
                "type": "Sequence",
                "normalizers": [
                    "@base.normalizer",
                    {"type": "Strip", "strip_left": False, "strip_right": True},
                    {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"},
                ],
            },
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
            "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        },
    ),
    "tiny_xlmr_added": (
        "tiny-xlmr",
        {
            "added_tokens": [f"@base.added_tokens.{i}" for i in range(5)] + [
                {"id": 1502, "content": "ZzTok", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": True, "special": False},
                {"id": 1503, "content": "\ufb01x", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": True, "special": False},
                {"id": 1504, "content": "<ent>", "single_word": True, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": False},
                {"id": 1505, "content": "[xx]", "single_word": False, "lstrip": True, "rstrip": True,
                 "normalized": False, "special": True},
            ],
        },
    ),
    "tiny_spm_first": (
        "tiny-spm",
        {
            "normalizer.normalizers": [
                "@base.normalizer.normalizers.0",
                "@base.normalizer.normalizers.1",
                "@base.normalizer.normalizers.2",
            ],
            "pre_tokenizer.pretokenizers.0.prepend_scheme": "first",
        },
    ),
}


# A synthetic Unigram model whose ids depend on how the scores are parsed: with the exact
# scores, "a" + "b" ties "ab" (A + B == C in f64) and the earlier-starting "ab" wins; serde_json's
# reading makes "a" "b" strictly better, so the Rust library (and the Swift port) split it.
SERDE_TIE = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
    "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None,
    "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": False, "vocab": [
        ["<unk>", 0.0], ["a", -2.478006601333618], ["b", -10.321770668029785], ["ab", -12.799777269363403],
    ]},
}


def _get_path(obj, path: str):
    """The part of a JSON value at a dotted path; numeric keys index lists."""
    node = obj
    for key in path.split("."):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def apply(base: dict, edits: dict) -> dict:
    """A variant: `base` with each dotted path set to its value; the string "@base.<path>"
    stands for that part of the base file."""
    out = copy.deepcopy(base)

    def lookup(value):
        if isinstance(value, str) and value.startswith("@base."):
            return copy.deepcopy(_get_path(base, value[len("@base.") :]))
        if isinstance(value, list):
            return [lookup(v) for v in value]
        if isinstance(value, dict):
            return {k: lookup(v) for k, v in value.items()}
        return value

    for path, value in edits.items():
        keys = path.split(".")
        node = out
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = lookup(value)
        else:
            node[last] = lookup(value)
    return out


def unigram_edge_cases() -> list[dict]:
    cases = [
        ("u_only_spaces", "     ", None, None),
        ("u_space_tab_newline_cr", "a\tb\nc\r\nd\re  \t\n f", None, None),
        ("u_leading_trailing_spaces", "   padded text   ", "  second  ", None),
        ("u_space_runs", "a  b   c    d          e", None, None),
        ("u_nfkc_sensitive", "㍻ № ™ ℌ ½ ¨ ´ ﬀ Ⅻ ㎏ … ‥ ｶﾞ ﾊﾟ ǅ ſ ß ẞ µ Å K", None, None),
        ("u_fullwidth_spaces", "ＨＥＬＬＯ　ＷＯＲＬＤ　１２３　！？", None, None),
        ("u_fullwidth_combining", "Ａ\u0301 Ｗ\u0301\u0301 ａ\u0308\u0304 e\u0301\u0301\u0301 o\u0302\u0323", None, None),
        ("u_combining_only", "\u0301\u0302 x\u0300", None, None),
        ("u_emoji_zwj", "🏳️‍🌈 👩🏾‍💻 👨‍👩‍👧 🧑🏻‍🤝‍🧑🏿 ❤️‍🔥 🐻‍❄️", None, None),
        ("u_emoji_flags_keycaps", "🇫🇷🇩🇪🇯🇵 🇫🇷🇩 🇺 1️⃣ #️⃣ 🏴󠁧󠁢󠁳󠁣󠁴󠁿 ©️ ®", None, None),
        ("u_skin_tones", "👍🏻👍🏼👍🏽👍🏾👍🏿 🏽 👋🏿x", None, None),
        ("u_hangul", "한국어 텍스트 \u1112\u1161\u11ab\u1100\u1173\u11af ᄀᄀ \u1100\u1161\u11a8 각", None, None),
        ("u_devanagari_conjuncts", "क्ष क्‍ष क्षि त्र्य ज्ञ नमस्ते ক্ষ", None, None),
        ("u_thai_lao", "สวัสดีครับ ภาษาไทย ສະບາຍດີ", None, None),
        ("u_arabic_hebrew", "مرحبا بالعالم ﷺ ﻻ שָׁלוֹם", None, None),
        ("u_cjk_ext", "日本語 中文 𠀀 𪜀 丽 ㄅ ｱｲｳ", None, None),
        ("u_controls", "a\u0000b\u0001c\u0007d\u001be\u007ff\u0080g\u009fh", None, None),
        ("u_format_chars", "zero\u200bwidth soft\u00adhyphen \ufeffbom \u200d\u200c rtl\u200fmark \u2066x\u2069", None, None),
        ("u_unicode_spaces", "a\u00a0b\u2003c\u3000d\u202fe\u2028f\u0085g\u000bh\u000ci\u1680j", None, None),
        ("u_metaspace_literal", "▁hello ▁▁ x▁ ▁", "▁", None),
        ("u_byte_tokens_literal", "<0x41> <0xE2><0x98><0x83> <0x4> <0xZZ>", None, None),
        ("u_special_in_text", "<s>x</s> <unk> <pad> <mask> <s>NOTUSED </s>NOTUSED <unk>NOTUSED", None, None),
        ("u_mask_spacing", "<mask>", "  <mask>  x  <mask>", None),
        ("u_mask_start_end", "<mask> start and end <mask>", None, None),
        ("u_special_only", "</s>", "<s>", None),
        ("u_unknown_chars", "⟁ ᚠᚢᚦ ꙮ 𓀀 🜂 \U0010fffd \ue000", None, None),
        ("u_unknown_runs", "⟁⟁⟁ᚠᚢᚦꙮ 𓀀𓀁 xx⟁yy", None, None),
        ("u_mixed_scripts", "Zürich 東京 Москва القاهرة मुंबई กรุงเทพ", None, None),
        ("u_long_word", "antidisestablishmentarianism" * 12, None, None),
        ("u_long_unknown", "⟁" * 200, None, None),
        ("u_long_spaces", "x" + " " * 300 + "y", None, None),
        ("u_grapheme_6_bytes", "ﬀ\u0301 ä\u0301\u0301 \u00e9\u0301 Å\u030a", None, None),
        ("u_case_fold", "HELLO World ÉCOLE STRASSE Straße ǱǲǳİIı ΣΑΣ", None, None),
        ("u_digits_punct", "1,234.56 -7 +8 (9) [10] {11} 12% $13 #14 @15 ~16 ^17", None, None),
        ("u_pair_unicode", "Ça va ? Très bien.", "日本語 テキスト", None),
        ("u_trunc_pair_long", "word " * 80, "other " * 60, 50),
        ("u_trunc_unknown", "⟁ᚠ" * 40, "ꙮ" * 30, 20),
        ("u_trunc_small", "a b c d e f g", "h i j k", 5),
        ("u_serde_tie", "ab", "aab abb", None),
        ("u_added_normalized", "ﬁx fix ﬁxing prefix ZzTok zztok <ent> x<ent> <ent>s  [xx]  y [xx]", "fix[xx]ﬁx", None),
    ]
    return [{"name": n, "text": t, "pair": p, "max_length": m} for n, t, p, m in cases]


# Random texts: pieces chosen to stress grapheme clusters (combining marks, ZWJ sequences,
# regional indicators, Hangul jamo, Indic conjuncts, prepend and spacing marks, CR LF), the
# charsmaps, Metaspace ("▁" in the text), added tokens, byte fallback and unknown characters.
RANDOM_POOL = list("abcxyzAZ019 .,'-") + [
    "  ", "   ", "\t", "\n", "\r", "\r\n", "\u0000", "\u0007", "\u007f", "\u0085",
    "é", "e", "\u0301", "\u0308", "\u0323", "\u0302", "Å", "ß", "ǅ", "ﬁ", "ﬀ", "Ａ", "ｶ", "ﾞ", "１", "①", "™", "½", "¨", "…",
    "한", "각", "\u1100", "\u1161", "\u11a8", "\u1112", "ᄀ", "가",
    "क", "ष", "\u094d", "\u093c", "\u093f", "\u0903", "\u200d", "\u200c", "ক", "\u09cd",
    "😀", "👍", "🏽", "\ufe0f", "❤", "👨", "👩", "🇫", "🇷", "🇩", "🏳", "🌈", "\U000e0067", "\U000e007f",
    "\u0600", "\U000110bd", "ا", "ש", "\u05b8", "ไ", "\u0e31", "ก", "日", "本", "𠀀", "\u3000", "\u00a0", "\u2003",
    "\u200b", "\ufeff", "\u00ad", "▁", "<mask>", "<s>", "</s>", "<unk>", "<pad>", "<0x41>", "⟁", "ꙮ", "\ue000",
    "Σ", "İ", "ı", "Ω", "Ж",
]
RANDOM_CASES = 2000


def random_cases() -> list[tuple[str, str | None]]:
    import random

    rng = random.Random(SEED)
    cases = []
    for _ in range(RANDOM_CASES):
        text = "".join(rng.choice(RANDOM_POOL) for _ in range(rng.randint(1, 25)))
        pair = None
        if rng.random() < 0.1:
            pair = "".join(rng.choice(RANDOM_POOL) for _ in range(rng.randint(0, 8)))
        cases.append((text, pair))
    return cases


def multi_hash(encodings) -> int:
    """FNV-1a over 32-bit words of every reference's encoding in turn: ids, 0xFFFFFFFF, type ids,
    0xFFFFFFFE."""
    h = 0xCBF29CE484222325
    for e in encodings:
        for w in [*e.ids, 0xFFFFFFFF, *e.type_ids, 0xFFFFFFFE]:
            h = ((h ^ (w & 0xFFFFFFFF)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def configured(backend_json: str, max_length: int | None) -> Tokenizer:
    b = Tokenizer.from_str(backend_json)
    b.no_padding()
    if max_length is None:
        b.no_truncation()
    else:
        b.enable_truncation(max_length, strategy="longest_first")
    return b


class Reference:
    """One reference: the Rust tokenizer of a tokenizer.json text, and transformers beside it."""

    def __init__(self, name: str, json_text: str, transformers_tok):
        self.name = name
        self.json_text = json_text
        self.tok = transformers_tok
        self.explained: list[str] = []
        # The same tokenizer with the exact (Python) scores, to explain score-parsing differences.
        data = json.loads(json_text)
        model = data["model"]
        exact = Tokenizer.from_str(json_text)
        exact.model = Unigram([tuple(v) for v in model["vocab"]], model["unk_id"], model.get("byte_fallback", False))
        self.exact_json = exact.to_str()  # (only for encoding below, never re-read for scores)
        self.exact = exact
        # Added tokens transformers has beyond the file's.
        own = {t["content"] for t in data["added_tokens"]}
        theirs = json.loads(transformers_tok.backend_tokenizer.to_str())["added_tokens"]
        self.extra_tokens = sorted(t["content"] for t in theirs if t["content"] not in own)

    def check(self, where: str, text: str, pair, max_length, rust_ids: list[int]) -> list[int] | None:
        """Compares transformers with the Rust ids; returns transformers' ids when they differ."""
        kwargs = {} if max_length is None else {"truncation": True, "max_length": max_length}
        tf = self.tok(text, pair, **kwargs)["input_ids"] if pair is not None else self.tok(text, **kwargs)["input_ids"]
        if tf == rust_ids:
            return None
        if pair == "":
            self.explained.append(f"{where}: empty second sequence")
            return tf
        if max_length is None:
            self.exact.no_truncation()
        else:
            self.exact.enable_truncation(max_length, strategy="longest_first")
        e = self.exact.encode(text, pair) if pair is not None else self.exact.encode(text)
        if e.ids == tf:
            self.explained.append(f"{where}: score parsing (the exact scores give transformers' ids)")
            return tf
        backend = Tokenizer.from_str(self.tok.backend_tokenizer.to_str())
        backend.no_padding()
        if max_length is None:
            backend.no_truncation()
        else:
            backend.enable_truncation(max_length, strategy="longest_first")
        e = backend.encode(text, pair) if pair is not None else backend.encode(text)
        if self.extra_tokens and e.ids == tf:
            self.explained.append(f"{where}: transformers adds special tokens its tokenizer.json lacks: {self.extra_tokens}")
            return tf
        raise SystemExit(f"{self.name} {where}: transformers and tokenizers differ:\n  {tf}\n  {rust_ids}")


def check_score_emulation(name: str, json_text: str) -> int:
    """Checks serde_json_f64 on every score of the file against the Rust library; returns how many
    scores the Rust library reads differently from Python's correctly rounded parse."""
    scores = [s for _, s in json.loads(json_text)["model"]["vocab"]]
    parsed = [s for _, s in json.loads(Tokenizer.from_str(json_text).to_str())["model"]["vocab"]]
    off = 0
    for exact, rust in zip(scores, parsed):
        if serde_json_f64(repr(exact)) != rust:
            raise SystemExit(f"{name}: serde_json emulation of {exact!r} gives {serde_json_f64(repr(exact))!r}, Rust {rust!r}")
        off += exact != rust
    return off


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    texts = training_texts()
    models = {name: train(name, texts) for name in MODELS}

    files = {
        "tiny-xlmr": (convert(XLMRobertaTokenizer, models["xlmr"], "sentencepiece.bpe.model"), XLMRobertaTokenizer),
        "tiny-camembert": (convert(CamembertTokenizer, models["camembert"], "sentencepiece.bpe.model"), CamembertTokenizer),
        "tiny-spm": (convert(TokenizersBackend, models["spm"], "tokenizer.model"), TokenizersBackend),
    }
    score_notes = {}
    for folder, (text, _) in files.items():
        (OUT / folder).mkdir(exist_ok=True)
        (OUT / folder / "tokenizer.json").write_text(text, encoding="utf-8")
        score_notes[folder] = check_score_emulation(folder, text)

    # Variants: the edits, checked against transformers' own output where one exists.
    bases = {folder: json.loads(text) for folder, (text, _) in files.items()}
    variant_json = {name: apply(bases[base], edits) for name, (base, edits) in VARIANTS.items()}
    want = converter_sections(models["xlmr"])
    got = {k: variant_json["tiny_xlmr_converter"][k] for k in want}
    if got != want:
        raise SystemExit(f"tiny_xlmr_converter differs from XLMRobertaConverter:\n{got}\n{want}")
    legacy_false = json.loads(convert(TokenizersBackend, models["spm"], "tokenizer.model", legacy=False))
    for key in ("normalizer", "pre_tokenizer", "decoder", "model", "post_processor", "added_tokens"):
        if legacy_false[key] != variant_json["tiny_spm_first"][key]:
            raise SystemExit(f"tiny_spm_first.{key} differs from legacy=False conversion")

    # References.
    references: dict[str, Reference] = {}
    for folder, (text, cls) in files.items():
        name = folder.replace("-", "_")
        tok = cls.from_pretrained(str(OUT / folder))
        # transformers' backend after loading (exact scores for the classes that rebuild the model).
        # The committed file's text itself: the Rust library parses its scores once, as the Swift port does.
        references[name] = Reference(name, (OUT / folder / "tokenizer.json").read_text(encoding="utf-8"), tok)
    for name, data in variant_json.items():
        text = json.dumps(data, ensure_ascii=False)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "tokenizer.json").write_text(text, encoding="utf-8")
            tok = TokenizersBackend.from_pretrained(tmp)
        references[name] = Reference(name, text, tok)

    tie_text = json.dumps(SERDE_TIE)
    a, b, ab = 1, 2, 3
    tie = Reference("serde_tie", tie_text, TokenizersBackend(tokenizer_object=Tokenizer.from_str(tie_text)))
    if Tokenizer.from_str(tie_text).encode("ab").ids != [a, b] or tie.exact.encode("ab").ids != [ab]:
        raise SystemExit("serde_tie: the scores no longer decide the tie as documented")
    references["serde_tie"] = tie

    # --- GLUE row hashes (the three committed files) ------------------------------------------
    sections = []
    blob = bytearray()
    for folder in files:
        ref = references[folder.replace("-", "_")]
        backend = configured(ref.json_text, MAX_LENGTH)
        for relative, columns, header in GLUE_FILES:
            if (folder, relative) in GLUE_SKIPPED:
                continue
            rows = read_rows(relative, columns, header)
            firsts = [r[1] for r in rows]
            pairs = [r[2] for r in rows] if len(columns) == 2 else None
            encs = backend.encode_batch(firsts if pairs is None else list(zip(firsts, pairs)))
            tf = (ref.tok(firsts, truncation=True, max_length=MAX_LENGTH) if pairs is None
                  else ref.tok(firsts, pairs, truncation=True, max_length=MAX_LENGTH))["input_ids"]
            offset = len(blob)
            for i, e in enumerate(encs):
                if tf[i] != e.ids:
                    ref.check(f"{relative}:{rows[i][0]}", firsts[i], None if pairs is None else pairs[i], MAX_LENGTH, e.ids)
                blob += varint(len(e.ids)) + struct.pack("<Q", row_hash(e.ids, e.type_ids))
            sections.append(
                {
                    "tokenizer": ref.name,
                    "file": relative,
                    "columns": columns,
                    "header": header,
                    "max_length": MAX_LENGTH,
                    "rows": len(rows),
                    "offset": offset,
                    "bytes": len(blob) - offset,
                    "sha256": hashlib.sha256((GLUE / relative).read_bytes()).hexdigest(),
                }
            )
            print(f"{ref.name} {relative}: {len(rows)} rows, {len(blob) - offset} bytes")
    (OUT / "unigram_hashes.bin").write_bytes(bytes(blob))
    versions = {
        "tokenizers": tokenizers.__version__,
        "transformers": transformers.__version__,
        "sentencepiece": spm.__version__,
    }
    manifest = {
        "generator": GENERATOR,
        "versions": versions,
        "hash": "fnv1a64 over uint32 words: ids, 0xFFFFFFFF, type ids",
        "record": "LEB128 token count, then u64 LE hash",
        "tokenizers": {f.replace("-", "_"): f"Tests/Fixtures/tokenizers/{f}/tokenizer.json" for f in files},
        "scores_read_differently_by_serde_json": score_notes,
        "sections": sections,
    }
    (OUT / "unigram_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    # --- Edge cases -------------------------------------------------------------------------
    cases = shared_edge_cases() + unigram_edge_cases()
    for case in cases:
        expected = {}
        for name, ref in references.items():
            b = configured(ref.json_text, case["max_length"])
            e = b.encode(case["text"], case["pair"]) if case["pair"] is not None else b.encode(case["text"])
            tf = ref.check(f"edge case {case['name']}", case["text"], case["pair"], case["max_length"], e.ids)
            expected[name] = {
                **({"transformers_ids": tf} if tf is not None else {}),
                "ids": e.ids,
                "type_ids": e.type_ids,
                "decoded": b.decode(e.ids, skip_special_tokens=False),
                "decoded_skip_special": b.decode(e.ids, skip_special_tokens=True),
            }
        case["expected"] = expected
    header = {
        "generator": GENERATOR,
        "versions": versions,
        "tokenizers": {
            **{f.replace("-", "_"): f"Tests/Fixtures/tokenizers/{f}/tokenizer.json" for f in files},
            **{name: f"{base} with the edits under variants" for name, (base, _) in VARIANTS.items()},
            "serde_tie": "the tokenizer.json under synthetic (a tie that serde_json's float parsing decides)",
        },
        "variants": {name: {"base": base, "set": edits} for name, (base, edits) in VARIANTS.items()},
        "synthetic": {"serde_tie": SERDE_TIE},
        "known_differences": sorted({n for r in references.values() for n in r.explained}),
    }
    text = json.dumps(header, ensure_ascii=True, indent=1)[:-2] + ',\n "cases": [\n'
    text += ",\n".join(json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases)
    (OUT / "unigram_edge_cases.json").write_text(text + "\n ]\n}\n")
    # --- Random texts ----------------------------------------------------------------------
    order = [name for name in references if name != "serde_tie"]
    backends = {name: configured(ref.json_text, None) for name, ref in references.items()}
    rows = []
    for text, pair in random_cases():
        encs = []
        for name in order:
            e = backends[name].encode(text, pair) if pair is not None else backends[name].encode(text)
            references[name].check(f"random text {text!r}", text, pair, None, e.ids)
            encs.append(e)
        rows.append(json.dumps([text, pair, f"{multi_hash(encs):016x}"], ensure_ascii=False))
    random_header = {
        "generator": GENERATOR,
        "versions": versions,
        "references": order,
        "hash": "fnv1a64 over uint32 words, for each reference in order: ids, 0xFFFFFFFF, type ids, 0xFFFFFFFE",
        "cases": "[text, pair or null, hash as 16 hex digits]; no truncation",
    }
    text_out = json.dumps(random_header, ensure_ascii=False, indent=1)[:-2] + ',\n "rows": [\n' + ",\n".join(rows) + "\n ]\n}\n"
    (OUT / "unigram_random.json").write_text(text_out, encoding="utf-8")

    for r in references.values():
        for note in r.explained:
            print(f"known difference, {r.name}: {note}")
    print(f"{len(cases)} edge cases; unigram_hashes.bin {len(blob)} bytes; scores off by serde_json: {score_notes}")


if __name__ == "__main__":
    main()
