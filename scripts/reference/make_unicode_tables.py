#!/usr/bin/env python3
"""Generates Sources/Tokenizers/UnicodeTables.swift from the Rust `tokenizers` library itself.

The Rust library classifies characters with tables of its own Unicode version (the
`unicode_categories` crate is older than the Unicode data of Swift's standard library), so
Swift's `Unicode.Scalar.Properties` disagree with it on a few hundred recently assigned code
points. To get identical ids we do not re-derive the classes: we ask the library, one code
point at a time, what its normalizers and pre-tokenizers do, and write the answers as sorted
range tables.

Run from the repository root with any Python that has `tokenizers` (about 20 s):

    ../venv-light/bin/python scripts/reference/make_unicode_tables.py

Tables (every one is a list of inclusive [first, last] code point ranges):
  * bertRemoved      – deleted by BertNormalizer(clean_text): NUL, U+FFFD and the library's
                       "other" classes (Cc, Cf, Co, ...) except tab, LF and CR;
  * bertWhitespace   – split on by BertPreTokenizer (and turned into ' ' by clean_text);
  * bertPunctuation  – isolated by BertPreTokenizer (ASCII punctuation + Unicode P*);
  * bertCJK          – padded with spaces by handle_chinese_chars;
  * nonspacingMarks  – removed after NFD by strip_accents (the library's Mn);
  * byteLevelLetters / byteLevelNumbers / byteLevelSpaces – \\p{L}, \\p{N} and \\s of the
    GPT-2 pre-tokenisation regex (Oniguruma's tables, as the library was built with).
  * lowercase        – the non-ASCII code points whose lowercase (Rust `char::to_lowercase`,
                       as BertNormalizer uses) is a single different code point, as
                       (code point, lowercase) pairs; `lowercaseExpanding` for the few whose
                       lowercase is longer than one code point.

The script also checks that the tables reproduce the library on every code point: that
strip_accents equals "canonical decomposition, then drop nonspacingMarks" (decomposition
taken from the library's own NFD normalizer) and that each pre-tokenizer class is one of the
listed ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tokenizers
from tokenizers import normalizers, pre_tokenizers

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "Sources" / "Tokenizers" / "UnicodeTables.swift"


def ranges(codepoints: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in sorted(codepoints):
        if out and out[-1][1] + 1 == cp:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def is_surrogate_gap(lo: int, hi: int) -> bool:
    return lo <= 0xD7FF and hi >= 0xE000


def merge_over_surrogates(rs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # Surrogates are no scalars: a range may bridge them.
    out: list[tuple[int, int]] = []
    for lo, hi in rs:
        if out and out[-1][1] == 0xD7FF and lo == 0xE000:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def main() -> None:
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    nfd = normalizers.NFD()
    bert_pre = pre_tokenizers.BertPreTokenizer()
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)

    removed, whitespace, punctuation, cjk, letters, numbers, spaces = [], [], [], [], [], [], []
    lowercase: list[tuple[int, int]] = []
    lowercase_expanding: list[tuple[int, list[int]]] = []
    decompositions: dict[int, str] = {}
    stripped: dict[int, str] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        cleaned = clean.normalize_str(c)
        if cleaned == "":
            removed.append(cp)
        elif cleaned != c and cleaned != " ":
            sys.exit(f"clean_text maps U+{cp:04X} to {cleaned!r}: not a class this table models")
        if chinese.normalize_str(c) != c:
            cjk.append(cp)
        parts = [t for t, _ in bert_pre.pre_tokenize_str("a" + c + "a")]
        if parts == ["a", "a"]:
            whitespace.append(cp)
        elif parts == ["a", c, "a"]:
            punctuation.append(cp)
        elif parts != ["a" + c + "a"]:
            sys.exit(f"BertPreTokenizer splits a U+{cp:04X} a as {parts!r}")
        if len(byte_level.pre_tokenize_str("a" + c)) == 1:
            letters.append(cp)
        elif len(byte_level.pre_tokenize_str("1" + c)) == 1:
            numbers.append(cp)
        elif len(byte_level.pre_tokenize_str("!" + c)) != 1:
            spaces.append(cp)
        lo = lower.normalize_str(c)
        if lo != c and cp >= 0x80:
            if len(lo) == 1:
                lowercase.append((cp, ord(lo)))
            else:
                lowercase_expanding.append((cp, [ord(x) for x in lo]))
        elif lo != c and lo != c.lower():
            sys.exit(f"ASCII lowercase of U+{cp:04X} is {lo!r}")
        d = nfd.normalize_str(c)
        if d != c:
            decompositions[cp] = d
        stripped[cp] = strip.normalize_str(c)

    # Nonspacing marks: code points that decompose to themselves and vanish when stripped.
    marks = [cp for cp, s in stripped.items() if s == "" and cp not in decompositions]
    mark_set = set(marks)
    for cp, s in stripped.items():
        d = decompositions.get(cp, chr(cp))
        expect = "".join(x for x in d if ord(x) not in mark_set)
        if expect != s:
            sys.exit(f"strip_accents(U+{cp:04X}) = {s!r}, tables give {expect!r}")
    # BertPreTokenizer's whitespace must be what clean_text turns into ' ' (plus ' ' itself
    # and the controls clean_text removes first); check the overlap the Swift code relies on.
    ws_set = set(whitespace)
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if cp in ws_set and cp != 0x20 and cp not in set(removed):
            if clean.normalize_str(chr(cp)) != " ":
                sys.exit(f"U+{cp:04X} is BERT whitespace but clean_text keeps it")

    def table(name: str, doc: str, cps: list[int]) -> str:
        rs = merge_over_surrogates(ranges(cps))
        body = ",\n".join(
            "        " + ", ".join(f"0x{lo:04X}, 0x{hi:04X}" for lo, hi in rs[i : i + 6]) for i in range(0, len(rs), 6)
        )
        return (
            f"    /// {doc}\n"
            f"    /// {len(rs)} ranges, {len(cps)} code points; flat `[first, last, first, last, …]`.\n"
            f"    static let {name}: [UInt32] = [\n{body},\n    ]\n"
        )

    lower_body = ",\n".join(
        "        " + ", ".join(f"0x{a:04X}, 0x{b:04X}" for a, b in lowercase[i : i + 6]) for i in range(0, len(lowercase), 6)
    )
    expanding_body = "\n".join(
        f"        0x{a:04X}: [" + ", ".join(f"0x{x:04X}" for x in bs) + "]," for a, bs in lowercase_expanding
    )
    letters_doc = "`\\p{L}` of the GPT-2 pre-tokenisation regex."
    numbers_doc = "`\\p{N}` of the GPT-2 pre-tokenisation regex."
    spaces_doc = "`\\s` of the GPT-2 pre-tokenisation regex."
    src = f"""// GENERATED by scripts/reference/make_unicode_tables.py from tokenizers {tokenizers.__version__}.
// Do not edit: re-run the script. The tables reproduce the Rust `tokenizers` library's
// character classes exactly (its Unicode version, not Swift's).

/// Character classes of the Hugging Face `tokenizers` library, as range tables.
enum UnicodeTables {{
{table("bertRemoved", "Deleted by BertNormalizer's clean_text (NUL, U+FFFD, control/format/private-use).", removed)}
{table("bertWhitespace", "BertPreTokenizer's whitespace (clean_text maps the non-removed ones to ' ').", whitespace)}
{table("bertPunctuation", "BertPreTokenizer's punctuation: ASCII punctuation and Unicode P* categories.", punctuation)}
{table("bertCJK", "CJK ideographs that handle_chinese_chars surrounds with spaces.", cjk)}
{table("nonspacingMarks", "Nonspacing marks (Mn) removed by strip_accents after NFD.", marks)}
{table("byteLevelLetters", letters_doc, letters)}
{table("byteLevelNumbers", numbers_doc, numbers)}
{table("byteLevelSpaces", spaces_doc, spaces)}
    /// Non-ASCII code points with a one-code-point lowercase: flat `[code point, lowercase, …]`,
    /// sorted by code point ({len(lowercase)} pairs).
    static let lowercase: [UInt32] = [
{lower_body},
    ]

    /// Code points whose lowercase is longer than one code point.
    static let lowercaseExpanding: [UInt32: [UInt32]] = [
{expanding_body}
    ]
}}
"""
    OUT.write_text(src, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}: removed {len(removed)}, whitespace {len(whitespace)}, "
          f"punctuation {len(punctuation)}, cjk {len(cjk)}, marks {len(marks)}, letters {len(letters)}, "
          f"numbers {len(numbers)}, spaces {len(spaces)}, lowercase {len(lowercase)}+{len(lowercase_expanding)}")


if __name__ == "__main__":
    main()
