"""Glossary benchmark: matching speed at scale, rebuild after an edit, and what enforcement does to a translation.

    .venv/bin/python benchmarks/glossary_bench.py [--terms 5000] [--json] [--skip-speed]

1. Matching: 5,000 terms for en->es (and zh-TW->en), 1,000-character messages; time per message for
   `Matcher.find` (64 distinct messages in turn, so none is served from the matcher's memory of recent
   messages), for the same message in one more target language (the source language's matches are reused),
   and for the whole protect step (`Glossary.plan`). Target: under 0.5 ms per message per pair.
2. Rebuild: an edit through `Glossary.edit`, then the next message's matching (the source language's index is
   rebuilt in a worker thread; the worst event-loop delay meanwhile is reported).
3. Enforcement, measured on an engine nobody here designed: Apertium (en->es, `apt-get install apertium
   apertium-eng-spa`) behind the LibreTranslate-compatible test server, and on the fake engine with school-
   vocabulary traps that also mangles placeholders (spaces, case, dropped). The corpus (glossary_corpus.csv)
   has sentences with terms, sentences where a term's word or a forbidden rendering is used in another sense,
   and sentences without terms, labelled by hand; the glossary is the shipped seed. For the raw engine and each
   strategy (protect first; translate plain and repair):
   - term accuracy: each labelled occurrence has an admitted rendering in the output (a keep-expand term's
     first mention in the sentence its expansion);
   - collateral damage: sentences whose words outside term places differ from the raw engine output (a word
     may only leave if it renders a labelled term: its English, a forbidden rendering, the engine's own
     rendering of the term alone; and only come if it belongs to an admitted rendering). Target 0;
   - spacing / casing defects the glossary added: double, leading or trailing spaces, a space before
     punctuation or between characters of scripts without spaces; a word whose case changed, a rendering
     lower-case at a sentence start or capitalised mid-sentence. Target 0;
   - backend calls per sentence (the cost of each strategy).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import random
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import languages
from bot.glossary import STRATEGIES, Glossary
from bot.store import Store
from bot.testing import apertium
from bot.testing.libre import FakeLibre, ServerThread, chain, mangle_tokens
from bot.text import shield
from bot.translation import Backend, Retrying, TranslationService

EN, ES, VI, ZH = (languages.get(c) for c in ("en", "es", "vi", "zh-TW"))

# --- 1 and 2: speed ----------------------------------------------------------------------------------

_SYLLABLES = (
    "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro".split()
)
_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def synthetic_glossary(n: int, seed: int = 7) -> tuple[bytes, bytes, list[str], list[str]]:
    """(concepts.csv, es.csv+zh rows as Google equivalent set, English terms, Chinese terms)."""
    rng = random.Random(seed)
    english: dict[str, None] = {}
    while len(english) < n:
        if rng.random() < 0.2:
            english["".join(rng.choice("ABCDEFGHIJKLMNOPRSTUVW") for _ in range(rng.randint(2, 5)))] = None
        else:
            english[" ".join(_word(rng) for _ in range(rng.randint(1, 3)))] = None
    chinese = ["".join(rng.choice(_HAN) for _ in range(rng.randint(2, 6))) for _ in english]
    rows = ["en,es,zh-TW"] + [f"{t},{t.lower()} es,{z}" for t, z in zip(english, chinese, strict=True)]
    return b"", "\n".join(rows).encode(), list(english), chinese


def message(terms: list[str], filler: list[str], rng: random.Random, length: int = 1000, sep: str = " ") -> str:
    words: list[str] = []
    while len(sep.join(words)) < length:
        words.append(rng.choice(terms) if rng.random() < 0.08 else rng.choice(filler))
    return sep.join(words)[:length]


def timed(fn, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "mean_ms": round(statistics.fmean(samples), 4),
        "p50_ms": round(samples[len(samples) // 2], 4),
        "p95_ms": round(samples[int(len(samples) * 0.95)], 4),
    }


async def loop_lag(work) -> tuple[object, float]:
    """Run `work` (a coroutine) while a 1 ms ticker runs on the event loop: (result, worst tick delay in ms).
    Matchers are built in a worker thread, so other channels keep being served while one is built."""
    delays: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            delays.append((time.perf_counter() - started) * 1000 - 1)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        result = await work
    finally:
        done.set()
        await ticker
    return result, round(max(delays, default=0.0), 2)


async def speed(n: int, repeat: int) -> dict:
    _, equivalents, english, chinese = synthetic_glossary(n)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "bench.db") as store:
            glossary = Glossary(store)
            started = time.perf_counter()
            await glossary.import_file(equivalents, name="terms.csv", by="bench")
            import_ms = (time.perf_counter() - started) * 1000
            filler = [_word(rng) for _ in range(300)] + ["the", "and", "meeting", "parents", "school", "budget"]
            zh_filler = ["的", "我們", "學校", "家長", "會議", "預算", "孩子", "老師"]
            # More distinct messages than a matcher remembers (one message is matched once for all its target
            # languages), so every timed call below does the full matching work.
            texts_en = [message(english, filler, rng) for _ in range(64)]
            texts_zh = [message(chinese, zh_filler, rng, sep="") for _ in range(64)]
            out: dict = {"terms": n, "message_chars": len(texts_en[0]), "import_ms": round(import_ms, 1)}
            pairs = (("en->es", EN, ES, ZH, texts_en), ("zh-TW->en", ZH, EN, ES, texts_zh))
            for label, src, dst, other, texts in pairs:
                started = time.perf_counter()
                matcher = await glossary.matcher(src, dst)  # the source language's index: built in a thread
                build_ms = (time.perf_counter() - started) * 1000
                text = texts[0]
                started = time.perf_counter()
                hits = matcher.find(text)  # first message: compiles the candidate forms it meets
                first_ms = (time.perf_counter() - started) * 1000
                for t in texts:
                    matcher.find(t)  # compile every form the timed messages meet, as a running meeting has
                cycle = iter(texts * (repeat // len(texts) + 1))
                find = timed(lambda matcher=matcher, cycle=cycle: matcher.find(next(cycle)), repeat)
                # The same message for one more target language: the source's matches are reused.
                also = await glossary.matcher(src, other)
                next_target = timed(lambda also=also, text=text: also.find(text), repeat)
                shielded, _ = shield(text)
                plan_samples = []
                for i in range(max(repeat // 10, 50)):
                    shielded, holder = shield(texts[i % len(texts)])
                    t0 = time.perf_counter()
                    await glossary.plan(shielded, holder, src, dst)
                    plan_samples.append((time.perf_counter() - t0) * 1000)
                out[label] = {
                    "forms": matcher.size,
                    "hits": len(hits),
                    "build_ms": round(build_ms, 2),
                    "first_find_ms": round(first_ms, 3),
                    "find": find,
                    "next_target_find": next_target,
                    "protect_mean_ms": round(statistics.fmean(plan_samples), 4),
                }
            # Rebuild after an edit: the write, then the next message's matcher (built in a worker thread while
            # the event loop keeps ticking) and matching.
            term = english[10]
            started = time.perf_counter()
            await glossary.edit(term, "es", preferred="nuevo término", by="bench")
            edit_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            matcher, lag_ms = await loop_lag(glossary.matcher(EN, ES))
            rebuild_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            rebuilt = matcher.find(texts_en[0])
            next_find_ms = (time.perf_counter() - started) * 1000
            out["rebuild"] = {
                "edit_ms": round(edit_ms, 1),
                "matcher_rebuild_ms": round(rebuild_ms, 1),
                "event_loop_max_lag_ms": lag_ms,
                "next_message_find_ms": round(next_find_ms, 3),
                "edit_applied": any(h.target.later == "nuevo término" for h in rebuilt) or term not in texts_en[0],
            }
            return out


# --- 3: enforcement ------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).with_name("glossary_corpus.csv")
# What a free engine does with school words (the research notes' "known MT pitfall" column), for the fake engine.
TRAPS = {
    "es": {"principal": "principal", "IEP": "PEI", "accommodations": "alojamiento", "accommodation": "alojamiento",
           "GATE": "PUERTA", "gate": "puerta", "Title I": "Encabezado I", "counselor": "abogado",
           "transcript": "transcripción", "report card": "tarjeta de informe",
           "credit recovery": "reparación de crédito",
           "charter school": "escuela de carta", "field trip": "viaje de campo", "school board": "tablero escolar",
           "permission slip": "resbalón de permiso", "magnet school": "escuela imán", "expulsion": "expulsión"},
}  # fmt: skip
_WORD = re.compile(r"[^\W_]+")
_SPACING = (r"  ", r"^\s|\s$", r"\s[,.;:!?)\]]", r"[(¿¡\[]\s")


@dataclass(frozen=True)
class Sentence:
    kind: str  # term | legit | plain
    text: str
    terms: tuple[str, ...]  # concept ids, labelled by hand


@dataclass(frozen=True)
class Spec:
    """What is right for one concept in Spanish, read from the glossary's rows (not from the matcher)."""

    forms: tuple[str, ...]  # admitted renderings
    first: tuple[str, ...]  # what a keep-expand acronym's first mention must be (empty: any form)
    acronym: str  # the keep-expand term as written in English ("IEP"); its expansion needs no first form
    english: tuple[str, ...]
    forbidden: tuple[str, ...]


def load_corpus(path: Path = CORPUS) -> list[Sentence]:
    rows = csv.DictReader(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return [Sentence(r["kind"], r["sentence"], tuple(t for t in r["terms"].split("|") if t)) for r in rows]


def specs(glossary: Glossary, keys: set[str]) -> dict[str, Spec]:
    out = {}
    for key in sorted(keys):
        concept = glossary.concepts()[key]
        r = glossary.rendering(key, "es")
        assert r is not None and r.status != "forbidden", f"the seed has no Spanish rendering for {key}"
        english = tuple(f for f in (concept.term, *concept.en_variants, concept.expansion) if f)
        forms = [r.preferred, *r.variants]
        first: tuple[str, ...] = ()
        if concept.policy != "translate":
            forms += [concept.term, *concept.en_variants]
        if concept.policy == "keep-expand":  # "(IEP, por sus siglas en inglés)", "(Title I, en inglés)"
            first = tuple(
                f"{e} ({concept.term}, {how} en inglés)"
                for e in (r.preferred, *r.variants)
                for how in ("por sus siglas", "")
            )
            first = tuple(f.replace(",  en", ", en") for f in first)
            forms += first
        out[key] = Spec(tuple(forms), first, concept.term if first else "", english, r.forbidden)
    return out


def _count(text: str, forms: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """Non-overlapping occurrences of `forms` (longest first, any case, at word boundaries)."""
    found: list[tuple[int, int, str]] = []
    for form in sorted(set(forms), key=len, reverse=True):
        for m in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text, re.IGNORECASE):
            if not any(m.start() < e and s < m.end() for s, e, _ in found):
                found.append((m.start(), m.end(), form))
    return sorted(found)


def _words(text: str) -> list[str]:
    """Words, case and accents folded (reunión / reuniones are one word to `_consume`)."""
    plain = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return [w.casefold() for w in _WORD.findall(plain)]


def _pool(texts: list[str]) -> Counter[str]:
    """Words any one of `texts` has (the most of each): what one occurrence of a term may bring or take away."""
    pool: Counter[str] = Counter()
    for text in texts:
        pool |= Counter(_words(text))
    return pool


def judge(sentence: Sentence, out: str, raw: str, spec: dict[str, Spec], alone: dict[str, str]) -> dict[str, int]:
    """One output against the raw engine output: right terms, collateral damage, spacing and casing defects."""
    right = 0
    for key, count in Counter(sentence.terms).items():
        found = _count(out, spec[key].forms)
        written = spec[key].acronym and re.search(rf"\b{re.escape(spec[key].acronym)}\b", sentence.text)
        has_first = not (spec[key].first and written) or any(form in spec[key].first for _, _, form in found)
        right += min(count, len(found)) - (0 if has_first else 1)
    bring: Counter[str] = Counter()
    take: Counter[str] = Counter()
    for key in sentence.terms:
        s = spec[key]
        bring += _pool(list(s.forms))
        take += _pool([*s.english, *s.forbidden, *(alone.get(e, "") for e in s.english)])
    a, b = _words(raw), _words(out)
    collateral = False
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        gone = a[i1:i2]
        if any(_consume(take.copy(), [w]) for w in gone):  # the term's rendering in context: "de", "la" with it
            gone = [w for w in gone if len(w) > 3 or _consume(take.copy(), [w])]
        if not (_consume(take, gone) & _consume(bring, b[j1:j2])):
            collateral = True
    spacing = any(len(re.findall(p, out)) > len(re.findall(p, raw)) for p in _SPACING)
    casing = _casing_defect(out, raw, spec, sentence)
    return {"right": max(right, 0), "terms": len(sentence.terms), "collateral": int(collateral),
            "spacing": int(spacing), "casing": int(casing)}  # fmt: skip


def _consume(pool: Counter[str], words: list[str]) -> bool:
    """Take each word (or its singular / plural) from `pool`; False when one is not there."""
    ok = True
    for word in words:
        for variant in (word, word[:-1], word[:-2], word + "s", word + "es"):
            if pool[variant] > 0:
                pool[variant] -= 1
                break
        else:
            ok = False
    return ok


def _casing_defect(out: str, raw: str, spec: dict[str, Spec], sentence: Sentence) -> bool:
    a, b = _WORD.findall(raw), _WORD.findall(out)
    matcher = SequenceMatcher(None, [w.casefold() for w in a], [w.casefold() for w in b], autojunk=False)
    rendered = [(s, e) for key in sentence.terms for s, e, _ in _count(out, spec[key].forms)]
    offsets = [m.start() for m in _WORD.finditer(out)]
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            start = offsets[block.b + k]
            if a[block.a + k] != b[block.b + k] and not any(s <= start < e for s, e in rendered):
                return True  # a word outside the terms changed case
    for key in sentence.terms:
        for start, _, form in _count(out, spec[key].forms):
            written, shown = form[:1], out[start]
            head = out[:start].rstrip(" \"'“«¿¡(")
            at_start = not head or head[-1] in ".!?…\n"
            mid_capital = not at_start and written.islower() and shown.isupper()  # a capital the glossary added
            if shown.isalpha() and ((at_start and shown.islower()) or mid_capital):
                return True
    return False


def _service(url: str, glossary: Glossary | None) -> TranslationService:
    from deep_translator import LibreTranslator

    backend = Backend("libre", lambda: LibreTranslator(source="en", target="es", api_key="x", custom_url=url))
    return TranslationService([Retrying(backend, retries=0)], glossary=glossary)


def engines() -> dict[str, FakeLibre]:
    """The engines measured: Apertium when installed, and the fake engine with traps that mangles placeholders."""
    rng = random.Random(3)

    def mangle(out: str, q: str, target: str) -> str:
        spaced = mangle_tokens(spaces=rng.random() < 0.5, lower=rng.random() < 0.5)
        return chain(spaced, mangle_tokens(drop=lambda _i: rng.random() < 0.25))(out, q, target)

    found = {}
    if apertium.available():
        found["apertium"] = FakeLibre(engine=apertium.Apertium(), tag=False)
    # Tagged "[es] ...": an answer equal to the source would be refused by the chain's answer checks.
    found["fake engine, mangling placeholders"] = FakeLibre(dictionary=TRAPS, transform=mangle)
    return found


async def enforcement(path: Path = CORPUS) -> dict:
    corpus = load_corpus(path)
    results: dict = {"sentences": Counter(s.kind for s in corpus), "apertium_installed": apertium.available()}
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "seed.db") as store:
            seeded = Glossary(store)
            await seeded.seed(ROOT / "glossaries")
            spec = specs(seeded, {k for s in corpus for k in s.terms})
            english = sorted({e for s in spec.values() for e in s.english})
            for name, fake in engines().items():
                with ServerThread(fake) as server:
                    raw_service = _service(server.url, None)
                    raw = [(await raw_service.translate(s.text, EN, ES)).text for s in corpus]
                    alone = {e: (await raw_service.translate(e, EN, ES)).text for e in english}
                    raw_service.close()
                    modes: dict = {"raw engine": _score(corpus, raw, raw, spec, alone, calls=1.0)}
                    for strategy in STRATEGIES:
                        glossary = Glossary(store, strategy=strategy)
                        service = _service(server.url, glossary)
                        before = len(fake.calls)
                        outs = [(await service.translate(s.text, EN, ES)).text for s in corpus]
                        calls = (len(fake.calls) - before) / len(corpus)
                        service.close()
                        modes[strategy] = _score(corpus, outs, raw, spec, alone, calls=calls)
                        modes[strategy]["outcomes"] = vars(glossary.stats).copy()
                        modes[strategy]["examples"] = [
                            {"sentence": s.text, "raw": r, "out": o, **judged}
                            for s, r, o in zip(corpus, raw, outs, strict=True)
                            if (judged := judge(s, o, r, spec, alone))["collateral"]
                            or judged["right"] < judged["terms"]
                            or judged["spacing"] + judged["casing"]
                        ]
                    results[name] = modes
    return results


def _score(
    corpus: list[Sentence], outs: list[str], raw: list[str], spec: dict[str, Spec], alone: dict[str, str], calls: float
) -> dict:
    total: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    for sentence, out, r in zip(corpus, outs, raw, strict=True):
        judged = judge(sentence, out, r, spec, alone)
        total.update(judged)
        by_kind.setdefault(sentence.kind, Counter()).update(judged)
    return {
        "term_accuracy": round(total["right"] / total["terms"], 3),
        "right": total["right"],
        "terms": total["terms"],
        "collateral_sentences": total["collateral"],
        "collateral_by_kind": {k: v["collateral"] for k, v in by_kind.items()},
        "spacing_defects": total["spacing"],
        "casing_defects": total["casing"],
        "backend_calls_per_sentence": round(calls, 2),
    }


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # refused answers (an acronym alone comes back as is) are expected
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--skip-speed", action="store_true", help="only the enforcement figures")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="another labelled corpus, same columns")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"enforcement": await enforcement(args.corpus)}
    if not args.skip_speed:
        report["speed"] = await speed(args.terms, args.repeat)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if "speed" in report:
        print_speed(report["speed"])
    e = report["enforcement"]
    kinds = ", ".join(f"{n} {k}" for k, n in e["sentences"].items())
    print(
        f"Enforcement on {sum(e['sentences'].values())} sentences ({kinds}) of {args.corpus.name}, "
        "English -> Spanish, shipped seed glossary:"
    )
    if not e["apertium_installed"]:
        print("  (Apertium is not installed: apt-get install apertium apertium-eng-spa)")
    for engine, modes in e.items():
        if not isinstance(modes, dict) or "raw engine" not in modes:
            continue
        print(f"  {engine}:")
        for mode, r in modes.items():
            print(
                f"    {mode:11} terms {r['term_accuracy']:6.1%} ({r['right']}/{r['terms']}), collateral "
                f"{r['collateral_sentences']} {r['collateral_by_kind']}, spacing {r['spacing_defects']}, casing "
                f"{r['casing_defects']}, backend calls/sentence {r['backend_calls_per_sentence']}"
            )
            for example in r.get("examples", [])[:3]:
                print(
                    f"        {example['sentence']}\n          raw: {example['raw']}\n          out: {example['out']}"
                )


def print_speed(s: dict) -> None:
    print(f"Glossary of {s['terms']} terms, {s['message_chars']}-character message (import: {s['import_ms']} ms)")
    for label in ("en->es", "zh-TW->en"):
        r = s[label]
        f = r["find"]
        print(
            f"  {label:10} match: mean {f['mean_ms']:.3f} ms, p50 {f['p50_ms']:.3f}, p95 {f['p95_ms']:.3f} "
            f"({r['hits']} hits, {r['forms']} forms); same message, one more target: "
            f"{r['next_target_find']['mean_ms']:.3f} ms; protect: {r['protect_mean_ms']:.3f} ms; "
            f"index build {r['build_ms']} ms (worker thread), first message {r['first_find_ms']} ms"
        )
    rb = s["rebuild"]
    print(
        f"  after an edit: write {rb['edit_ms']} ms, index rebuild {rb['matcher_rebuild_ms']} ms "
        f"(event loop lag at most {rb['event_loop_max_lag_ms']} ms), next message matched in "
        f"{rb['next_message_find_ms']} ms, edit applied: {rb['edit_applied']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
