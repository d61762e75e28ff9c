#!/usr/bin/env python3
"""Generates Sources/Tokenizers/GraphemeTables.swift: the Unicode data of extended grapheme clusters
as the Rust `unicode-segmentation` crate uses it.

The Precompiled normalizer of SentencePiece tokenizers works on grapheme clusters (see
PrecompiledCharsMap.swift), which the Rust `tokenizers` library finds with `unicode-segmentation`.
The tokenizers 0.23.3 wheel is built with unicode-segmentation 1.13.3 (its version string is in the
wheel's binary), whose tables are Unicode 17.0.0. Swift's own `Character` segmentation follows the
Unicode version of the Swift runtime, so the Swift port carries the crate's tables instead.

The data is read through the `regex` module's Unicode properties. regex 2026.7.19 carries Unicode
17.0.0 (later releases moved to Unicode 18, which changed InCB), so run this script with exactly that
version, e.g.

    python3 -m venv ../venv-ucd17 && ../venv-ucd17/bin/pip install regex==2026.7.19
    ../venv-ucd17/bin/python scripts/reference/make_grapheme_tables.py [--crate-tables tables.rs]

With `--crate-tables` (the crate's src/tables.rs), the script also checks every code point against
the crate's own tables and stops on any difference (for 1.13.2 it found none); with
`--crate-testdata` (the crate's tests/testdata/mod.rs, Unicode's GraphemeBreakTest.txt), it checks
that regex's `\X` splits every official test string as expected (all 766 do).

It also writes Tests/Fixtures/tokenizers/grapheme_clusters.json: sequences of code points (every
pair and triple of one representative per category, plus random sequences) with their cluster
lengths as regex's `\X` (extended grapheme clusters of Unicode 17.0.0) finds them, for the Swift
unit test of GraphemeClusters.

Tables, as the crate builds them (scripts/unicode.py there):
  * graphemeCategories – sorted (first, last, category) ranges: Grapheme_Cluster_Break values, plus
    InCB=Consonant and Extended_Pictographic as categories of their own (they never overlap the
    others); code points not listed are "Any";
  * incbExtend         – InCB=Extend ranges;
  * incbLinker         – InCB=Linker code points.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import regex

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "Sources" / "Tokenizers" / "GraphemeTables.swift"
FIXTURE = REPO / "Tests" / "Fixtures" / "tokenizers" / "grapheme_clusters.json"
REGEX_VERSION = "2026.7.19"

# Order of the Swift enum (raw values), with the Swift case names: Any first.
CATEGORIES = [
    "Any", "CR", "LF", "Control", "Extend", "ZWJ", "RegionalIndicator", "Prepend", "SpacingMark",
    "L", "V", "T", "LV", "LVT", "ExtendedPictographic", "InCBConsonant",
]
SWIFT_NAMES = [
    "any", "cr", "lf", "control", "extend", "zwj", "regionalIndicator", "prepend", "spacingMark",
    "l", "v", "t", "lv", "lvt", "extendedPictographic", "incbConsonant",
]
GCB = {
    "CR": "CR", "LF": "LF", "Control": "Control", "Extend": "Extend", "ZWJ": "ZWJ",
    "Regional_Indicator": "RegionalIndicator", "Prepend": "Prepend", "SpacingMark": "SpacingMark",
    "L": "L", "V": "V", "T": "T", "LV": "LV", "LVT": "LVT",
}


def scalars():
    for cp in range(0x110000):
        if not 0xD800 <= cp <= 0xDFFF:
            yield cp


def ranges(cps):
    out: list[list[int]] = []
    for cp in sorted(cps):
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def derive() -> tuple[dict[int, str], set[int], set[int]]:
    cats: dict[int, str] = {}
    patterns = {ours: regex.compile(r"\p{Grapheme_Cluster_Break=%s}" % ucd) for ucd, ours in GCB.items()}
    ep = regex.compile(r"\p{Extended_Pictographic}")
    consonant = regex.compile(r"\p{InCB=Consonant}")
    linker = regex.compile(r"\p{InCB=Linker}")
    extend = regex.compile(r"\p{InCB=Extend}")
    linkers, extends = set(), set()
    for cp in scalars():
        c = chr(cp)
        found = [ours for ours, p in patterns.items() if p.match(c)]
        if ep.match(c):
            found.append("ExtendedPictographic")
        if consonant.match(c):
            found.append("InCBConsonant")
        if len(found) > 1:
            sys.exit(f"U+{cp:04X} has several grapheme categories {found}: the crate's table cannot hold that")
        if found:
            cats[cp] = found[0]
        if linker.match(c):
            linkers.add(cp)
        if extend.match(c):
            extends.add(cp)
    return cats, extends, linkers


def crate_tables(path: Path) -> tuple[dict[int, str], set[int], set[int]]:
    src = path.read_text(encoding="utf-8")
    rename = {"Regional_Indicator": "RegionalIndicator", "Extended_Pictographic": "ExtendedPictographic",
              "InCB_Consonant": "InCBConsonant"}
    start = src.index("const grapheme_cat_table")
    table = src[start : src.index("];", start)]
    cats: dict[int, str] = {}
    for lo, hi, cat in re.findall(r"\('\\u\{([0-9a-f]+)\}',\s*'\\u\{([0-9a-f]+)\}',\s*GC_(\w+)\)", table):
        for cp in range(int(lo, 16), int(hi, 16) + 1):
            cats[cp] = rename.get(cat, cat)
    start = src.index("const InCB_Extend_table")
    table = src[start : src.index("];", start)]
    extends = {cp for lo, hi in re.findall(r"\('\\u\{([0-9a-f]+)\}',\s*'\\u\{([0-9a-f]+)\}'\)", table)
               for cp in range(int(lo, 16), int(hi, 16) + 1)}
    start = src.index("pub fn is_incb_linker")
    body = src[start : src.index("\n}", start)]
    linkers: set[int] = set()
    for m in re.finditer(r"'\\u\{([0-9A-Fa-f]+)\}'(?:\.\.'\\u\{([0-9A-Fa-f]+)\}')?", body):
        lo = int(m.group(1), 16)
        linkers |= set(range(lo, int(m.group(2), 16) + 1 if m.group(2) else lo + 1))
    return cats, extends, linkers


def check_official_tests(path: Path) -> int:
    """regex's \\X against the crate's copy of GraphemeBreakTest.txt (extended clusters)."""
    src = path.read_text(encoding="utf-8")

    def unescape(t: str) -> str:
        return re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m.group(1), 16)), t)

    same = src[src.index("pub const TEST_SAME") : src.index("pub const TEST_DIFF")]
    diff = src[src.index("pub const TEST_DIFF") : src.index("pub const TEST_WORD")]
    item = r'"((?:\\u\{[0-9a-f]+\})+)"'
    count = 0
    for pattern, text in [(r"\(" + item + r",\s*&\[([^\]]*)\]\)", same),
                          (r"\(" + item + r",\s*&\[([^\]]*)\],\s*&\[([^\]]*)\]\)", diff)]:
        for m in re.finditer(pattern, text):
            s = unescape(m.group(1))
            want = [unescape(x) for x in re.findall(item, m.group(2))]
            if regex.findall(r"\X", s) != want:
                sys.exit(f"regex \\X splits {[hex(ord(c)) for c in s]} unlike GraphemeBreakTest")
            count += 1
    return count


def fixture_cases(cats: dict[int, str], extends: set[int], linkers: set[int]) -> list:
    """Code point sequences over representatives of every category, with \\X's cluster lengths."""
    import random

    reps = {
        "Any": [0x61, 0xE9, 0x4E2D], "CR": [0x0D], "LF": [0x0A], "Control": [0x07, 0x85, 0x200B],
        "Extend": [0x301, 0xFE0F, 0x1F3FB, 0x93C], "ZWJ": [0x200D], "RegionalIndicator": [0x1F1EB, 0x1F1F7],
        "Prepend": [0x600, 0x110BD], "SpacingMark": [0x903], "L": [0x1100], "V": [0x1161], "T": [0x11A8],
        "LV": [0xAC00], "LVT": [0xAC01], "ExtendedPictographic": [0x1F600, 0x2764], "InCBConsonant": [0x915, 0x937],
        "Linker": [0x94D, 0x9CD],
    }
    for name, cps in reps.items():
        for cp in cps:
            got = "Linker" if cp in linkers else cats.get(cp, "Any")
            if got != name and not (name == "Linker" and cats.get(cp) == "Extend"):
                sys.exit(f"representative U+{cp:04X} is {got}, not {name}")
    one = [cps[0] for cps in reps.values()]
    every = sorted({cp for cps in reps.values() for cp in cps})
    seqs = [[a, b] for a in every for b in every] + [[a, b, c] for a in one for b in one for c in one]
    rng = random.Random(29)
    seqs += [[rng.choice(every) for _ in range(rng.randint(4, 12))] for _ in range(500)]
    cases = []
    for seq in seqs:
        clusters = regex.findall(r"\X", "".join(map(chr, seq)))
        cases.append([seq, [len(c) for c in clusters]])
    return cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crate-tables", type=Path, help="unicode-segmentation's src/tables.rs, to compare with")
    parser.add_argument("--crate-testdata", type=Path, help="unicode-segmentation's tests/testdata/mod.rs")
    args = parser.parse_args()
    if regex.__version__ != REGEX_VERSION:
        sys.exit(f"regex {regex.__version__}: this script needs regex=={REGEX_VERSION} (Unicode 17.0.0)")
    cats, extends, linkers = derive()
    if args.crate_tables:
        c_cats, c_extends, c_linkers = crate_tables(args.crate_tables)
        diff = [cp for cp in scalars() if cats.get(cp) != c_cats.get(cp)]
        if diff or extends != c_extends or linkers != c_linkers:
            sys.exit(f"differs from the crate: {len(diff)} categories (first {diff[:5]}), "
                     f"InCB=Extend {len(extends ^ c_extends)}, InCB=Linker {sorted(linkers ^ c_linkers)}")
        print("identical to", args.crate_tables)
    if args.crate_testdata:
        print(f"regex \\X passes the {check_official_tests(args.crate_testdata)} official test strings")
    cases = fixture_cases(cats, extends, linkers)
    FIXTURE.write_text(
        '{\n "generator": "scripts/reference/make_grapheme_tables.py",\n'
        f' "source": "regex {regex.__version__} \\\\X (extended grapheme clusters, Unicode 17.0.0)",\n'
        ' "cases": [\n' + ",\n".join(json.dumps(c, separators=(",", ":")) for c in cases) + "\n ]\n}\n"
    )
    print(f"wrote {FIXTURE.relative_to(REPO)}: {len(cases)} sequences")

    by_cat: dict[str, list[int]] = {}
    for cp, cat in cats.items():
        by_cat.setdefault(cat, []).append(cp)
    table = sorted((lo, hi, cat) for cat, cps in by_cat.items() for lo, hi in ranges(cps))
    rows = [f"0x{lo:04X}, 0x{hi:04X}, {CATEGORIES.index(cat)}," for lo, hi, cat in table]
    body = "\n".join("        " + " ".join(rows[i : i + 4]) for i in range(0, len(rows), 4))
    ext = ranges(extends)
    ext_body = "\n".join("        " + " ".join(f"0x{lo:04X}, 0x{hi:04X}," for lo, hi in ext[i : i + 6])
                         for i in range(0, len(ext), 6))
    links = [f"0x{cp:04X}," for cp in sorted(linkers)]
    link_body = "\n".join("        " + " ".join(links[i : i + 10]) for i in range(0, len(links), 10))
    cases = "\n".join(f"    case {name} = {i}" for i, name in enumerate(SWIFT_NAMES))
    src = f"""// GENERATED by scripts/reference/make_grapheme_tables.py from Unicode 17.0.0 (regex {regex.__version__}),
// the data of the `unicode-segmentation` crate (1.13.x) that tokenizers 0.23.3 is built with.
// Do not edit: re-run the script.

/// Grapheme_Cluster_Break of the crate, with InCB=Consonant and Extended_Pictographic as values of
/// their own (as the crate's `GraphemeCat`).
enum GraphemeCategory: UInt8, Sendable {{
{cases}
}}

/// Range tables of extended grapheme clusters (Unicode 17.0.0).
enum GraphemeTables {{
    /// Sorted ranges `first, last, category raw value`; code points not listed are `.any`.
    /// {len(table)} ranges.
    static let categories: [UInt32] = [
{body}
    ]

    /// InCB=Extend, flat `[first, last, …]` ({len(ext)} ranges).
    static let incbExtend: [UInt32] = [
{ext_body}
    ]

    /// InCB=Linker code points.
    static let incbLinker: [UInt32] = [
{link_body}
    ]
}}
"""
    OUT.write_text(src, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}: {len(table)} category ranges, {len(ext)} InCB=Extend ranges, "
          f"{len(linkers)} linkers")


if __name__ == "__main__":
    main()
