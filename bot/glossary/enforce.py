"""Enforcing the glossary on one message: the engine's words are kept, and only the places of terms change.

Two strategies (`TermPlan.strategy`), compared in benchmarks/glossary_bench.py:

- repair ("translate plain, repair only what is wrong"): the engine translates the message as it is. A term
  whose admitted rendering is there, with no known wrong one beside it, is left alone. A wrong one (forbidden,
  left in the source language, or the engine's own rendering of the term alone) that is there exactly once per
  term, where the term's word has no other sense in the message, is replaced where it is. For the rest the
  message is translated once more with those terms held as placeholders; aligning the two translations word
  by word shows where each term landed in the first one, and only that place is replaced.
- protect ("protect first"): the engine sees placeholders, which come back however mangled. When the engine
  lost one, the plain translation is repaired as above.

Either way the text outside a term's place is exactly what the engine produced: a forbidden rendering is
replaced only where the term stood (never across the message, never inside a longer word), and a term whose
place cannot be found is appended in parentheses, never dropped. A restored term fits its sentence: a capital
only at a sentence start (unless its case policy is "exact"), no space added between characters of scripts
written without spaces, Arabic prefixes (و ف ب ل ك ال) kept attached, Korean particles matched to its last
syllable.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from bot.glossary.matching import NOSPACE, NOSPACE_CHAR, Hit, Target, bounded, pattern
from bot.glossary.models import AppliedTerm
from bot.text import PLACEHOLDER, Holder, tokens

STRATEGIES = ("repair", "protect")

log = logging.getLogger(__name__)


class EngineFailed(Exception):
    """The translation engine could not answer a follow-up call (the caller's own error, wrapped)."""


Engine = Callable[[str], Awaitable[str]]


@dataclass
class TermUse:
    index: int  # the holder index of the term's placeholder
    hit: Hit
    surface: str  # the text matched in the message
    value: str  # what the reader sees at this place
    accepts: tuple[str, ...]  # renderings that are right at this place, as the engine may have written them

    @property
    def target(self) -> Target:
        return self.hit.target


@dataclass
class Finished:
    text: str
    outcomes: dict[int, str]  # holder index -> a GlossaryStats field name


@dataclass
class TermPlan:
    """One message's terms: built before translation, applied to what comes back (`finish`)."""

    shielded: str  # the message with markup held as tokens: what a plain translation sees
    holder: Holder  # markup values first (`markup_count` of them), then one per term use
    markup_count: int
    uses: list[TermUse]
    language: str  # the target language
    strategy: str = "repair"

    @property
    def text(self) -> str:
        """What the engine translates first."""
        return self.protected(self.uses) if self.strategy == "protect" else self.shielded

    def protected(self, uses: Iterable[TermUse]) -> str:
        """The shielded message with these uses held as placeholders."""
        parts, pos = [], 0
        for use in sorted(uses, key=lambda u: u.hit.start):
            parts += [self.shielded[pos : use.hit.start], PLACEHOLDER.format(use.index)]
            pos = use.hit.end
        parts.append(self.shielded[pos:])
        return "".join(parts)

    async def finish(self, first: str, engine: Engine) -> Finished:
        """The final text from the engine's answer to `text`; `engine` translates follow-ups (EngineFailed)."""
        try:
            if self.strategy == "protect":
                return await self._from_protected(first, engine)
            return await self._from_plain(first, engine)
        except Exception:  # a fault here must not cost the reader the message: the engine's text, terms added
            log.exception("glossary enforcement failed (-> %s); delivering the engine's translation", self.language)
            spans = self._token_spans(first, self.uses)
            found = {use.index for _, _, use in spans}
            return self._appended(first, spans, [u for u in self.uses if u.index not in found], {})

    def applied(self, outcomes: dict[int, str]) -> tuple[AppliedTerm, ...]:
        return tuple(
            AppliedTerm(u.target.key, u.surface, u.value, outcomes.get(u.index, "appended")) for u in self.uses
        )

    # --- the two strategies --------------------------------------------------------------------------

    async def _from_plain(self, plain: str, engine: Engine) -> Finished:
        todo = [u for uses in _by_concept(self.uses).values() if not _satisfied(plain, uses) for u in uses]
        outcomes = {u.index: "engine_ok" for u in self.uses if u not in todo}
        if not todo:
            return Finished(self._compose(plain, []), outcomes)
        direct = self._place_directly(plain, todo, {})
        if len(direct) < len(todo):
            alone = await _renderings_alone({u.surface for u in todo if u.index not in direct}, engine)
            direct.update(self._place_directly(plain, [u for u in todo if u.index not in direct], alone, direct))
        outcomes.update({i: "engine_ok" if plain[s:e] == u.value else "repaired" for i, (s, e, u) in direct.items()})
        rest = [u for u in todo if u.index not in direct]
        if not rest:
            return Finished(self._compose(plain, list(direct.values())), outcomes)
        try:
            protected = await engine(self.protected(rest))
        except EngineFailed:
            return self._appended(self._compose(plain, list(direct.values())), [], rest, outcomes, composed=True)
        placed, swaps, cuts = await self._place(plain, protected, rest, engine)
        placed.update(direct)
        # A term whose place in the plain translation is unclear: the region around it is taken from the
        # translation with placeholders (the engine's own words for that region), the rest stays as it was.
        chosen: dict[int, _Swap] = {}
        missing = []
        for use in todo:
            if use.index in placed:
                continue
            swap = swaps.get(use.index)
            if swap is None or any(s < swap.end and swap.start < e for i, (s, e, _) in placed.items()
                                   if i not in swap.indices):  # fmt: skip
                missing.append(use)
            else:
                chosen[swap.start] = swap
        covered = {i for swap in chosen.values() for i in swap.indices}
        spans = [span for i, span in placed.items() if i not in covered]
        outcomes.update({span[2].index: "repaired" for span in spans})
        spans += [(s, e, None) for i, more in cuts.items() if i not in covered for s, e in more]
        for swap in chosen.values():
            outcomes.update(_token_outcomes(protected, self._token_spans(protected, swap.uses, swap)))
        text = self._compose(plain, spans, [(swap, protected) for swap in chosen.values()])
        return self._appended(text, [], missing, outcomes, composed=True)

    async def _from_protected(self, protected: str, engine: Engine) -> Finished:
        spans = self._token_spans(protected, self.uses)
        outcomes = _token_outcomes(protected, spans)
        lost = [u for u in self.uses if u.index not in outcomes]
        if not lost:
            return Finished(self._compose(protected, spans), outcomes)
        try:
            plain = await engine(self.shielded)
        except EngineFailed:
            return self._appended(protected, spans, lost, outcomes)
        placed, _, cuts = await self._place(plain, protected, self.uses, engine)
        if len(placed) == len(self.uses):
            spans = [*placed.values(), *((s, e, None) for more in cuts.values() for s, e in more)]
            return Finished(self._compose(plain, spans), {u.index: "repaired" for u in self.uses})
        return self._appended(protected, spans, lost, outcomes)

    def _appended(
        self,
        text: str,
        spans: list[tuple[int, int, TermUse]],
        missing: list[TermUse],
        outcomes: dict[int, str],
        *,
        composed: bool = False,
    ) -> Finished:
        out = text if composed else self._compose(text, spans)
        for use in missing:
            value = use.value
            if not use.target.keep_case and sentence_start(out) and value[:1].islower():
                value = value[0].upper() + value[1:]  # "... este verano. (Recuperación de créditos)"
            out = f"{out.rstrip()} ({value})"
            outcomes[use.index] = "appended"
        return Finished(out, outcomes)

    # --- where each term landed ----------------------------------------------------------------------

    def _place_directly(
        self,
        plain: str,
        uses: list[TermUse],
        alone: dict[str, str],
        placed: dict[int, tuple[int, int, TermUse]] | None = None,
    ) -> dict[int, tuple[int, int, TermUse]]:
        """Terms whose place needs no second translation: a concept whose word occurs in the message only as the
        term, and whose wrong renderings (forbidden, left in the source language, the engine's own rendering
        alone) occur in `plain` exactly once per use, where no other term's do. Never a rendering in a script
        written without spaces, which may be the start of a longer word (驅逐 in 驅逐出境); "IEP" left in
        Chinese text has its own boundaries."""
        taken = [(s, e) for s, e, _ in (placed or {}).values()]
        found: dict[str, list[tuple[int, int]]] = {}
        for key, mine in _by_concept(uses).items():
            surfaces = {u.surface for u in mine}
            if sum(len(_source_words(self.shielded, surface)) for surface in surfaces) != len(mine):
                continue  # the word also has another sense here ("principal reason", "the main gate")
            admitted = {a.casefold() for u in mine for a in u.accepts}
            target = mine[0].target
            wrong = [f for f in (*target.forbidden, *surfaces, *(alone.get(x, "") for x in surfaces)) if f]
            wrong = [f for f in wrong if f.casefold() not in admitted and not _unbounded(f)]
            found[key] = _find(plain, wrong, loose=False)
            if not found[key]:  # right words, one of them in the wrong form: a first mention ("IEP" -> expansion)
                found[key] = _find(plain, [a for u in mine for a in u.accepts if not _unbounded(a)], loose=False)
        out: dict[int, tuple[int, int, TermUse]] = {}
        for key, spans in found.items():
            mine = [u for u in uses if u.target.key == key]
            others = [span for other, more in found.items() if other != key for span in more] + taken
            if len(spans) == len(mine) and not any(s < b and a < e for s, e in spans for a, b in others):
                out.update(
                    {
                        u.index: (*span, u)
                        for u, span in zip(sorted(mine, key=lambda u: u.hit.start), spans, strict=True)
                    }
                )
        return out

    def _token_spans(
        self, text: str, uses: Iterable[TermUse], within: _Swap | None = None
    ) -> list[tuple[int, int, TermUse]]:
        by_index = {u.index: u for u in uses}
        lo, hi = (within.qstart, within.qend) if within else (0, len(text))
        return [(s, e, by_index[i]) for s, e, i in tokens(text) if i in by_index and lo <= s and e <= hi]

    async def _place(
        self, plain: str, protected: str, uses: list[TermUse], engine: Engine
    ) -> tuple[dict[int, tuple[int, int, TermUse]], dict[int, _Swap], dict[int, list[tuple[int, int]]]]:
        """The span of `plain` where each use's term landed, found by aligning it with `protected` (the same
        message translated with those uses as placeholders); uses not found are left out. Per use, the changed
        region around its placeholder in both translations, and the other pieces of a rendering the engine
        split around a word of its own (cut out, the word kept)."""
        by_index = {u.index: u for u in uses}
        ptoks, qtoks = _tokenize(plain), _tokenize(protected)
        matcher = SequenceMatcher(None, [t[2] for t in ptoks], [t[2] for t in qtoks], autojunk=False)
        placed: dict[int, tuple[int, int, TermUse]] = {}
        swaps: dict[int, _Swap] = {}
        zones: dict[int, list[tuple[int, int]]] = {}  # use -> regions of `plain` where its rendering must be
        changed: list[tuple[int, int]] = []  # every region of `plain` the alignment found different
        gaps: dict[int, int] = {}  # use -> where `protected` has its placeholder and `plain` nothing
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            start = ptoks[i1][0] if i1 < len(ptoks) else len(plain)
            end = ptoks[i2 - 1][1] if i2 > i1 else start
            if i2 > i1:
                changed.append((start, end))
            here = [k for k in range(j1, j2) if qtoks[k][3] in by_index]
            if not here:
                continue
            if i1 == i2:  # nothing of `plain` here: the term moved elsewhere, or was left out
                if here == [j1] and j2 - j1 == 1:
                    gaps[qtoks[j1][3]] = start
                continue
            swap = _Swap(start, end, qtoks[j1][0], qtoks[j2 - 1][1], tuple(by_index[qtoks[k][3]] for k in here))
            swaps.update({use.index: swap for use in swap.uses})
            spans = None
            if len(here) == 1:  # several terms in one region may come in another order: found by their forms
                spans = _by_literal(plain, start, end, protected, qtoks, j1, j2, here[0])
                if spans is None and i2 - i1 == j2 - j1 and ptoks[i1 + here[0] - j1][3] is None:
                    word = ptoks[i1 + here[0] - j1]
                    spans = (word[0], word[1])  # word for word
            if spans is not None:
                placed.setdefault(qtoks[here[0]][3], (*spans, by_index[qtoks[here[0]][3]]))
            else:
                for k in here:
                    zones.setdefault(qtoks[k][3], []).append((start, end))
        unplaced = [u for u in uses if u.index not in placed]
        cuts: dict[int, list[tuple[int, int]]] = {}
        if unplaced:
            await self._place_by_forms(plain, unplaced, zones, changed, placed, cuts, engine)
        if not changed:  # `plain` is the protected text without the terms: each goes back in its place
            for index, at in gaps.items():
                placed.setdefault(index, (at, at, by_index[index]))
        return placed, swaps, cuts

    async def _place_by_forms(
        self,
        plain: str,
        uses: list[TermUse],
        zones: dict[int, list[tuple[int, int]]],
        changed: list[tuple[int, int]],
        placed: dict[int, tuple[int, int, TermUse]],
        cuts: dict[int, list[tuple[int, int]]],
        engine: Engine,
    ) -> None:
        """Inside the regions where a term must be: a known wrong rendering, the source term left untranslated,
        or the engine's own rendering of the term alone."""
        alone = await _renderings_alone({u.surface for u in uses}, engine)
        for use in sorted(uses, key=lambda u: u.hit.start):
            regions = zones.get(use.index) or changed  # a placeholder with nothing beside it: look anywhere changed
            taken = [(s, e) for s, e, _ in placed.values()]
            admitted = {a.casefold() for a in use.accepts}
            wrong = [f for f in (*use.target.forbidden, use.surface, alone.get(use.surface, "")) if f]
            wrong = [f for f in wrong if f.casefold() not in admitted]
            free = lambda s, e, taken=taken: not any(s < b and a < e for a, b in taken)  # noqa: E731
            found = [(s, e) for s, e in _find(plain, wrong, loose=True) if any(a <= s and e <= b for a, b in regions)]
            # In other words around it ("carta del informe"), even an accepted rendering shows where it is.
            near = [*wrong, *use.accepts]
            found += [span for span in _near(plain, changed, near) if span not in found]
            found = [span for span in found if free(*span)]
            split = _split(plain, zones.get(use.index, []), near)
            if found:
                placed[use.index] = (*found[0], use)
            elif split and free(*split[0]) and all(free(*cut) for cut in split[1]):
                # "El ayudante llamadas principales": the rendering goes where its first piece was.
                placed[use.index], cuts[use.index] = (*split[0], use), split[1]
            elif len(changed) == 1 and len(uses) == 1:
                # The one changed region, of one word, for the one lost term: that word is the term's.
                s, e = changed[0]
                if not _has_space(plain[s:e]) and not tokens(plain[s:e]):
                    placed[use.index] = (s, e, use)

    # --- writing the renderings in -------------------------------------------------------------------

    def _compose(
        self, text: str, spans: list[tuple[int, int, TermUse | None]], swaps: list[tuple[_Swap, str]] = ()
    ) -> str:
        """`text` with each span replaced by its use's rendering, fitted to the sentence, each swap's region by
        the protected translation's (its placeholders restored), and markup restored."""
        joined = self._fill(text, 0, len(text), spans, swaps)
        markup = Holder(self.holder.values[: self.markup_count])
        restored = markup.restore(joined)
        out = restored.text
        for index in restored.missing:  # markup the engine dropped goes at the end, as in text.unshield
            value = markup.values[index]
            if out and not out[-1].isspace():
                out += "\n" if "\n" in value else " "
            out += value
        return out

    def _fill(
        self,
        text: str,
        lo: int,
        hi: int,
        spans: list[tuple[int, int, TermUse | None]],
        swaps: Iterable[tuple[_Swap, str]],
    ) -> str:
        """text[lo:hi] with the spans and swaps inside it replaced (the whole text is the context for fitting);
        a span without a use is cut out, with the space before it."""
        items: list[tuple[int, int, TermUse | tuple[_Swap, str] | None]] = [*spans]
        items += [(swap.start, swap.end, (swap, other)) for swap, other in swaps]
        parts, pos = [], lo
        for start, end, what in sorted(items, key=lambda item: item[0]):
            if start < pos or end > hi:
                continue
            eat_before = eat_after = 0
            if what is None:
                value, eat_before = "", len(text[pos:start]) - len(text[pos:start].rstrip(" "))
            elif isinstance(what, TermUse):
                value, eat_before, eat_after = fit(text, start, end, what.value, what.target, self.language)
            else:
                swap, other = what
                value = self._fill(other, swap.qstart, swap.qend, self._token_spans(other, swap.uses, swap), ())
            before = text[pos:start]
            parts += [before[: len(before) - min(eat_before, len(before))], value]
            pos = min(end + eat_after, hi)
        parts.append(text[pos:hi])
        return "".join(parts)


@dataclass(frozen=True)
class _Swap:
    """A changed region around placeholders: plain[start:end] and protected[qstart:qend]."""

    start: int
    end: int
    qstart: int
    qend: int
    uses: tuple[TermUse, ...]

    @property
    def indices(self) -> set[int]:
        return {u.index for u in self.uses}


# --- is the engine's own rendering right? ---------------------------------------------------------------


def _by_concept(uses: list[TermUse]) -> dict[str, list[TermUse]]:
    grouped: dict[str, list[TermUse]] = {}
    for use in uses:
        grouped.setdefault(use.target.key, []).append(use)
    return grouped


def _satisfied(plain: str, uses: list[TermUse]) -> bool:
    """Every use of one concept has its own admitted rendering in `plain`, and no known wrong one is there."""
    target = uses[0].target
    accepted = {a.casefold() for u in uses for a in u.accepts}
    found = [plain[s:e].casefold() for s, e in _find(plain, accepted, loose=False)]
    for use in sorted(uses, key=lambda u: len(u.accepts)):  # the narrowest (a first mention) first
        mine = {a.casefold() for a in use.accepts}
        match = next((f for f in found if _folded_in(f, mine)), None)
        if match is None:
            return False
        found.remove(match)
    suspects = [f for f in (*target.forbidden, *(u.surface for u in uses)) if f.casefold() not in accepted]
    return not _find(plain, suspects, loose=False)


def _folded_in(found: str, forms: set[str]) -> bool:
    return found in forms or re.sub(r"\s+", " ", found) in {re.sub(r"\s+", " ", f) for f in forms}


async def _renderings_alone(surfaces: set[str], engine: Engine) -> dict[str, str]:
    """The engine's rendering of each term on its own (cached by the translator like any text)."""

    async def one(surface: str) -> str:
        try:
            return (await engine(surface)).strip().rstrip(".。!！?？")
        except EngineFailed:
            return ""

    ordered = sorted(surfaces)
    results = await asyncio.gather(*(one(s) for s in ordered))
    return {s: r for s, r in zip(ordered, results, strict=True) if len(r) > 1}


# --- finding text -----------------------------------------------------------------------------------------

_ARABIC = "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_CHAR = re.compile(f"[{_ARABIC}]")
_CLITIC = re.compile(r"(?:و|ف)?(?:ب|ل|ك)?(?:ال)?")  # prefixes written attached to the next word
_LATIN_PLURAL = re.compile(r"(?:es|s)\b")
_WORD_RUN = re.compile(r"[^\W_]+")


def _find(text: str, forms: Iterable[str], *, loose: bool) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of `forms` in `text`, longest first, case-insensitive, at word boundaries
    where the script has them. An Arabic form may carry attached prefixes (returned without them); with
    `loose`, a Latin form may carry a plural ending (which is included)."""
    unique = sorted({f for f in forms if f}, key=len, reverse=True)
    found: list[tuple[int, int]] = []
    for form in unique:
        for m in re.finditer(pattern(form, english=False), text, re.IGNORECASE):
            s, e = m.start(), m.end()
            if loose and e < len(text) and not bounded(text, s, e) and (plural := _LATIN_PLURAL.match(text, e)):
                e = plural.end()
            if not _bounded_or_clitic(text, s, e):
                continue
            if not any(s < b and a < e for a, b in found):
                found.append((s, e))
    return sorted(found)


def _bounded_or_clitic(text: str, start: int, end: int) -> bool:
    if bounded(text, start, end):
        return True
    if not _ARABIC_CHAR.match(text[start]):
        return False
    word = start
    while word > 0 and _ARABIC_CHAR.match(text[word - 1]):
        word -= 1
    prefix = text[word:start]
    return bool(prefix) and _CLITIC.fullmatch(prefix) is not None and bounded(text, word, end)


def _near(plain: str, regions: list[tuple[int, int]], forms: list[str]) -> list[tuple[int, int]]:
    """Shortest runs of words in `regions` that hold most words of a multi-word form, in any inflection
    ("noche de carta del informe" for "Carta de informe"): the engine's rendering in context."""
    found = []
    for form in forms:
        wanted = [w.casefold() for w in _WORD_RUN.findall(form) if len(w) > 2]
        if len(wanted) < 2:
            continue
        need = max(2, -(-len(wanted) * 3 // 5))
        for start, end in regions:
            words = [(m.start(), m.end(), m[0].casefold()) for m in _WORD_RUN.finditer(plain, start, end)]
            best = None
            for a, first in enumerate(words):
                if _alike(first[2], wanted) is None:
                    continue
                covered = set()
                for last in words[a:]:
                    hit = _alike(last[2], wanted)
                    if hit is None and len(last[2]) > 3:
                        break  # a word of its own inside: not the term's rendering (only "de", "del", "la"...)
                    if hit is not None:
                        covered.add(hit)
                        if len(covered) >= need and (best is None or last[1] - first[0] < best[1] - best[0]):
                            best = (first[0], last[1])
                            break
            if best is not None:
                found.append(best)
    return found


def _split(
    plain: str, regions: list[tuple[int, int]], forms: list[str]
) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """A multi-word form whose every word is in one region, but in pieces around other words: the first piece,
    and the others (to cut out)."""
    for form in forms:
        wanted = [w.casefold() for w in _WORD_RUN.findall(form) if len(w) > 2]
        if len(wanted) < 2:
            continue
        for start, end in regions:
            words = [
                (m.start(), m.end(), _alike(m[0].casefold(), wanted)) for m in _WORD_RUN.finditer(plain, start, end)
            ]
            hits = [w for w in words if w[2] is not None]
            if len(hits) != len(wanted) or {w[2] for w in hits} != set(range(len(wanted))):
                continue
            pieces: list[tuple[int, int]] = []
            for s, e, _ in hits:
                between = plain[pieces[-1][1] : s] if pieces else ""
                if pieces and all(len(w) <= 3 for w in _WORD_RUN.findall(between)):
                    pieces[-1] = (pieces[-1][0], e)
                else:
                    pieces.append((s, e))
            if len(pieces) > 1:
                return pieces[0], pieces[1:]
    return None


def _alike(word: str, wanted: list[str]) -> int | None:
    """Which of `wanted` the word is, allowing for an inflected ending (informe / informes / del)."""
    for i, w in enumerate(wanted):
        if word == w or (min(len(word), len(w)) >= 4 and word[:4] == w[:4] and abs(len(word) - len(w)) <= 2):
            return i
    return None


def _unbounded(form: str) -> bool:
    """A form that starts or ends in a script without spaces: where it ends, a longer word may go on."""
    return bool(NOSPACE_CHAR.match(form[:1]) or NOSPACE_CHAR.match(form[-1:]))


def _source_words(text: str, surface: str) -> list[tuple[int, int]]:
    """Where the message has the term's word, in any sense or inflection ("accommodation", "Accommodations")."""
    stem = re.sub(r"(?:es|s)$", "", surface.casefold()) if len(surface) > 3 else surface.casefold()
    return [
        (m.start(), m.end())
        for m in re.finditer(pattern(stem, english=False) + r"\w*", text, re.IGNORECASE)
        if bounded(text, m.start(), m.end())
    ]


def _has_space(text: str) -> bool:
    return any(ch.isspace() for ch in text)


# --- aligning two translations ------------------------------------------------------------------------------

_WORD = re.compile(rf"[{NOSPACE}]|[^\W_{NOSPACE}]+|\S")

# (start, end, comparison key, placeholder index or None)
_Tok = tuple[int, int, str, int | None]


def _tokenize(text: str) -> list[_Tok]:
    """Words (characters, in scripts without spaces), punctuation and placeholders of a translation."""
    out: list[_Tok] = []
    pos = 0
    for start, end, index in tokens(text):
        out += [(m.start(), m.end(), m[0].casefold(), None) for m in _WORD.finditer(text, pos, start)]
        out.append((start, end, f"\x00{index}", index))
        pos = end
    out += [(m.start(), m.end(), m[0].casefold(), None) for m in _WORD.finditer(text, pos)]
    return out


def _by_literal(
    plain: str, start: int, end: int, protected: str, qtoks: list[_Tok], j1: int, j2: int, k: int
) -> tuple[int, int] | None:
    """Where the one placeholder of a changed region falls in plain[start:end]: the region's other text in the
    protected translation, found literally around it ("el ZQX0Z" against "el principal"; "وZQX0Z" against
    "والرئيسي"); None when it does not match."""
    if any(qtoks[i][3] is not None and i != k for i in range(j1, j2)):
        return None  # markup tokens in the region: their mangling may differ between the two answers
    text_before = protected[qtoks[j1][0] : qtoks[k][0]]
    before = _literal(text_before)
    if _ARABIC_APART.search(text_before):  # "و ZQX0Z" against "والرئيسي": the engine's prefix, written attached
        before = before.removesuffix(r"\s+") + r"\s*"
    after = _literal(protected[qtoks[k][1] : qtoks[j2 - 1][1]])
    m = re.compile(rf"\s*{before}(.+?){after}\s*", re.IGNORECASE | re.DOTALL).fullmatch(plain, start, end)
    if m is None:
        return None
    s, e = m.span(1)
    while s < e and plain[s].isspace():
        s += 1
    while e > s and plain[e - 1].isspace():
        e -= 1
    return (s, e) if s < e else None


def _literal(text: str) -> str:
    """Text as a regex; a space stays a space (so "un ZQX0Z" never matches inside "Una escuela")."""
    return "".join(r"\s+" if part.isspace() else re.escape(part) for part in re.split(r"(\s+)", text) if part)


def _token_outcomes(text: str, spans: list[tuple[int, int, TermUse]]) -> dict[int, str]:
    outcomes: dict[int, str] = {}
    for s, e, use in spans:
        intact = text[s:e] == PLACEHOLDER.format(use.index)
        if intact or use.index not in outcomes:
            outcomes[use.index] = "protected_ok" if intact else "restored_mangled"
    return outcomes


# --- fitting a rendering to its sentence ---------------------------------------------------------------------

_OPENERS = "\"'“‘«¿¡([{*_~>"
_CLOSERS = ".,;:!?)]}…。，、！？；：」』）"
_ENDERS = ".!?…。！？؟"
_HSPACE_END = re.compile(r"[^\S\n]+$")
_HSPACE = re.compile(r"[^\S\n]+")
_ARABIC_APART = re.compile(r"(?:^|(?<=\s))(?:و|ف|ب|ل|ك|ال|وال|بال|فال|كال|لل)([^\S\n]+)$")
_ARABIC_RUN = re.compile(f"[{_ARABIC}]+$")
# Korean particles that change with the last syllable: (after a final consonant, after a vowel).
_PARTICLES = (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"))
_PARTICLE = re.compile(r"(으로|로|은|는|이|가|을|를|과|와)(?![\uac00-\ud7af])")


def sentence_start(before: str) -> bool:
    """Whether text following `before` starts a sentence (or the text, or a line)."""
    i = len(before)
    while i and (before[i - 1].isspace() or before[i - 1] in _OPENERS):
        if before[i - 1] == "\n":
            return True
        i -= 1
    return i == 0 or before[i - 1] in _ENDERS


def fit(text: str, start: int, end: int, value: str, target: Target, language: str) -> tuple[str, int, int]:
    """`value` as it should replace text[start:end]: (value, spaces to remove before it, characters to remove
    after it). Nothing outside the span changes but the spaces and particle that belong to the term."""
    before, after = text[:start], text[end:]
    eat_before = eat_after = 0
    if not value:
        return value, 0, 0
    if NOSPACE_CHAR.match(value[0]) and (m := _HSPACE_END.search(before)) and m.start() > 0:
        if NOSPACE_CHAR.match(before[m.start() - 1]):
            eat_before = len(m[0])
    if (m := _HSPACE.match(after)) and m.end() < len(after):
        if after[m.end()] in _CLOSERS or (NOSPACE_CHAR.match(value[-1]) and NOSPACE_CHAR.match(after[m.end()])):
            eat_after = len(m[0])  # "ZQX0Z ." or "ZQX0Z 和": spaces the engine set around a placeholder
    if _ARABIC_CHAR.match(value[0]):
        if not eat_before and (m := _ARABIC_APART.search(before)):
            eat_before = len(m[1])  # "و ZQX0Z": the engine set the prefix apart from the placeholder
        glued = _ARABIC_RUN.search(before[: len(before) - eat_before])
        prefix = glued[0] if glued and _CLITIC.fullmatch(glued[0]) else ""
        if prefix.endswith("ال") and value.startswith("ال"):
            value = value[2:]
        elif prefix.endswith("ل") and value.startswith("ال"):
            value = value[1:]  # ل + ال is written لل
    if start == end:  # put back where the engine left it out: one space on each side, where words are spaced
        if before and not before[-1].isspace() and not NOSPACE_CHAR.match(value[0]):
            value = " " + value
        if after and not after[0].isspace() and after[0].isalnum() and not NOSPACE_CHAR.match(value[-1]):
            value += " "
    if not target.keep_case and sentence_start(before[: len(before) - eat_before]):
        first = value.lstrip()
        if first[:1].islower():
            i = len(value) - len(first)
            value = value[:i] + first[0].upper() + first[1:]
    if "\uac00" <= value[-1] <= "\ud7a3" and (m := _PARTICLE.match(after)):
        particle = _korean_particle(value[-1], m[1])
        if particle != m[1]:
            value, eat_after = value + particle, len(m[1])
    return value, eat_before, eat_after


def _korean_particle(syllable: str, particle: str) -> str:
    final = (ord(syllable) - 0xAC00) % 28  # 0: ends in a vowel; 8: ends in ㄹ
    for consonant, vowel in _PARTICLES:
        if particle in (consonant, vowel):
            if consonant == "으로":
                return vowel if final in (0, 8) else consonant
            return consonant if final else vowel
    return particle
