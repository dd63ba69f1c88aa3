"""The compact zh-CN -> zh-TW converter (bot/data/opencc/): build it, and check it against OpenCC's own s2twp.

    .venv/bin/python benchmarks/opencc_s2twp.py check [--cases 300000] [--json]
    .venv/bin/python benchmarks/opencc_s2twp.py build     # after an OpenCC upgrade

Why: OpenCC 1.4's `s2twp` lists STPhrases and STPhrases_GeneratedFromRegionalPhrases as a "union" group twice
(segmentation, first conversion stage), and OpenCC builds an in-memory prefix table for each group: about 43 MB
resident. OpenCC's own history (BYVoid/OpenCC#1349, #1354) says the union is exactly one merged dictionary
(longest key wins, STPhrases first on a tie); STCharacters, short-circuited after it, only has one-character
keys and STPhrases none, so it merges into the first stage too (a phrase still wins). With merged dictionaries
as plain files no group table is built: the same conversion, Taiwan phrases included, in about 13 MB.

`build` dumps the installed OpenCC's dictionaries with its `opencc_dict` tool, merges them, compiles them back
and records the OpenCC version and the sha256 of every input in sources.json. `check` converts every
dictionary key and value and random mixes of them (with punctuation, Latin and digits) with both converters and
counts differences (must be 0), and reports resident memory and load time of each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import opencc

from bot.translation import COMPACT_S2TWP, opencc_share_dir

MERGED = {  # our file -> the OpenCC dictionaries it is made of, first one wins on the same key
    "STPhrases_union.ocd2": ["STPhrases", "STPhrases_GeneratedFromRegionalPhrases"],
    "STPhrases_union_chars.ocd2": ["STPhrases", "STPhrases_GeneratedFromRegionalPhrases", "STCharacters"],
}
COPIED = ["CJK_Compatibility_Ideographs.ocd2", "TWPhrases.ocd2", "TWVariantsPhrases.ocd2", "TWVariants.ocd2"]
INPUTS = ["s2twp.json", *COPIED, "STPhrases.ocd2", "STPhrases_GeneratedFromRegionalPhrases.ocd2",
          "STCharacters.ocd2"]  # fmt: skip
CONFIG = {
    "name": "Simplified Chinese to Traditional Chinese (Taiwan Standard, with Taiwan Phrases); OpenCC's s2twp with "
    "its union groups merged into plain dictionaries (benchmarks/opencc_s2twp.py)",
    "normalization": [{"dict": {"type": "ocd2", "file": "CJK_Compatibility_Ideographs.ocd2"}}],
    "segmentation": {"type": "mmseg", "dict": {"type": "ocd2", "file": "STPhrases_union.ocd2"}},
    "conversion_chain": [
        {"dict": {"type": "ocd2", "file": "STPhrases_union_chars.ocd2"}},
        {
            "dict": {
                "type": "group",
                "match_policy": "short_circuit",
                "dicts": [
                    {"type": "ocd2", "file": "TWPhrases.ocd2"},
                    {"type": "ocd2", "file": "TWVariantsPhrases.ocd2"},
                    {"type": "ocd2", "file": "TWVariants.ocd2"},
                ],
            }
        },
    ],
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def opencc_dict_tool() -> Path:
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    if not tool.is_file():
        sys.exit(f"error: {tool} not found: this OpenCC build has no opencc_dict tool")
    return tool


def entries(tool: Path, dictionary: Path, tmp: Path) -> list[tuple[str, str]]:
    text = tmp / f"{dictionary.stem}.txt"
    subprocess.run([tool, "-i", dictionary, "-o", text, "-f", "ocd2", "-t", "text"], check=True)
    return [tuple(line.split("\t", 1)) for line in text.read_text(encoding="utf-8").splitlines()]  # type: ignore[misc]


def build() -> None:
    share, tool, out = opencc_share_dir(), opencc_dict_tool(), COMPACT_S2TWP
    if share is None:
        sys.exit("error: the installed OpenCC has no dictionary folder")
    if json.loads((share / "s2twp.json").read_text())["segmentation"]["dict"] != {
        "type": "group",
        "match_policy": "union",
        "dicts": [
            {"type": "ocd2", "file": "STPhrases.ocd2"},
            {"type": "ocd2", "file": "STPhrases_GeneratedFromRegionalPhrases.ocd2"},
        ],
    }:
        sys.exit("error: this OpenCC's s2twp.json is not the one this script knows how to merge; look at it first")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, parts in MERGED.items():
            merged: dict[str, str] = {}
            for part in parts:
                for key, value in entries(tool, share / f"{part}.ocd2", Path(tmp)):
                    merged.setdefault(key, value)
            text = Path(tmp) / f"{name}.txt"
            text.write_text("".join(f"{k}\t{merged[k]}\n" for k in sorted(merged)), encoding="utf-8")
            subprocess.run([tool, "-i", text, "-o", out / name, "-f", "text", "-t", "ocd2"], check=True)
    for name in COPIED:
        shutil.copyfile(share / name, out / name)
    (out / "s2twp.json").write_text(json.dumps(CONFIG, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    sources = {"opencc": opencc.__version__, "sha256": {name: sha256(share / name) for name in INPUTS}}
    (out / "sources.json").write_text(json.dumps(sources, indent=1) + "\n", encoding="utf-8")
    print(f"built {out} from OpenCC {opencc.__version__}; now run: {Path(__file__).name} check")


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def load(config: str) -> tuple[opencc.OpenCC, float, float]:
    """A converter, the resident memory its loading added (MB) and the time it took (ms). Measured in this
    process, one after the other: each figure is what that converter added, dictionaries shared by both (none
    here) counted once."""
    before, started = resident_mb(), time.perf_counter()
    converter = opencc.OpenCC(config)
    return converter, resident_mb() - before, (time.perf_counter() - started) * 1000


def cases(count: int, tmp: Path) -> list[str]:
    """Every key and value of the dictionaries s2twp uses, then random mixes of them."""
    share, tool = opencc_share_dir(), opencc_dict_tool()
    assert share is not None
    pool: list[str] = []
    for name in [n for n in INPUTS if n.endswith(".ocd2")]:
        for key, value in entries(tool, share / name, tmp):
            pool += [key, *value.split(" ")]
    pool += [
        *"，。、！？：；「」（）的了是在我有和就不人都一上也很到说要去你会着没有看好自己这 \n",
        "abc",
        "IEP",
        "2024",
    ]
    rng = random.Random(7)
    out = list(pool)
    out += ["".join(rng.choice(pool) for _ in range(rng.randint(2, 8))) for _ in range(count)]
    out += ["".join(rng.choice(pool) for _ in range(200)) for _ in range(count // 150)]
    return out


def check(count: int, as_json: bool) -> int:
    compact, compact_mb, compact_ms = load(str(COMPACT_S2TWP / "s2twp.json"))
    stock, stock_mb, stock_ms = load("s2twp")
    with tempfile.TemporaryDirectory() as tmp:
        texts = cases(count, Path(tmp))
    differ = [t for t in texts if stock.convert(t) != compact.convert(t)]
    report = {
        "opencc": opencc.__version__,
        "texts": len(texts),
        "differences": len(differ),
        "examples": [{"text": t, "s2twp": stock.convert(t), "compact": compact.convert(t)} for t in differ[:5]],
        "resident_mb": {"s2twp": round(stock_mb, 1), "compact": round(compact_mb, 1)},
        "load_ms": {"s2twp": round(stock_ms, 1), "compact": round(compact_ms, 1)},
    }
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"OpenCC {report['opencc']}: {len(texts)} texts, {len(differ)} converted differently")
        for example in report["examples"]:
            print(f"  {example['text']!r}: s2twp {example['s2twp']!r}, compact {example['compact']!r}")
        print(f"resident memory: s2twp {stock_mb:.1f} MB, compact {compact_mb:.1f} MB")
        print(f"load time: s2twp {stock_ms:.0f} ms, compact {compact_ms:.0f} ms")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="rebuild bot/data/opencc from the installed OpenCC")
    checking = sub.add_parser("check", help="compare with OpenCC's s2twp; exit 1 on any difference")
    checking.add_argument("--cases", type=int, default=300_000, help="random texts besides the dictionaries' own")
    checking.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.command == "build":
        build()
        return 0
    return check(args.cases, args.json)


if __name__ == "__main__":
    sys.exit(main())
