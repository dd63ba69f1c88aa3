"""The community's glossary: school vocabulary translated the way each language community agreed.

No free translation backend enforces a glossary, so Concord does it around every backend:

    match terms (longest first) -> hold each as a ZQX token (bot/text.Holder) -> translate
      -> restore the approved rendering in place of each token, however mangled
      -> a token the engine dropped: translate without protection, replace the engine's own (or a
         forbidden) rendering of the term by the approved one; still missing: append it in parentheses
      -> sweep forbidden renderings of every term present in the source

Choices worth knowing:
- Enforced renderings: `approved` and `draft` rows (a volunteer's draft beats raw machine translation);
  a `forbidden`-status row is never enforced, its rendering counts as a forbidden one instead.
- Word boundaries come from the script of each character, not from a per-language flag: Han, kana,
  Thai, Lao, Khmer and Myanmar need none (so "IEP" is found in "IEP會議"), Hangul needs one in front
  only (Korean particles attach: "교장이"), every other script on both sides.
- English forms also match simple plurals (s, es, y -> ies). Acronyms and rows marked case-sensitive
  match case-sensitively ("GATE", not "the gate"); everything else ignores case.
- keep-expand: the first mention in a meeting (per language) reads "<expansion> (<ACRONYM>, por sus siglas
  en inglés)" in Spanish, "<expansion> (<ACRONYM>)" elsewhere; later mentions keep the acronym.
- The glossary version is the id of the latest audit row: every write bumps it, matchers are rebuilt for
  the next message, and the translation cache key includes it.
- Matching scales with languages, not pairs: one `SourceIndex` per source language (and server) holds that
  language's surface forms; what a hit becomes in the target language is looked up per hit (`Targets`).
  An index is built in a worker thread (one build per key, shared by whoever waits for it), never on the
  event loop; `Glossary.warm` builds them all in the background at startup.

Nothing here imports discord or talks to a translation backend; `TranslationService` does the calls.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import logging
import re
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot import languages
from bot.text import PLACEHOLDER, Holder

if TYPE_CHECKING:
    from bot.languages import Language
    from bot.store import Store

log = logging.getLogger(__name__)

TYPES = ("acronym", "full", "phrase")
POLICIES = ("keep", "keep-expand", "translate", "dnt")
STATUSES = ("draft", "approved", "forbidden")
ENFORCED = ("approved", "draft")
MAX_TERM = 200  # characters; a longer "term" is a sentence, not a glossary entry
GLOBAL = 0  # guild_id of entries shared by every server
MENTION_WINDOW = 12 * 3600.0  # a meeting re-opened the next day introduces its acronyms again

CONCEPT_COLUMNS = ("id", "term", "type", "policy", "expansion", "en_variants", "definition")
RENDERING_COLUMNS = ("concept", "preferred", "variants", "forbidden", "case_sensitive", "status", "source", "notes")
FORMATS = ("csv", "tsv", "full")


# --- errors: bad input the user can act on; nothing is changed when one is raised ------------------


class GlossaryError(Exception):
    """Bad glossary input. The message says what is wrong and what to do; nothing was changed."""


class BadTerm(GlossaryError):
    """Empty, too long, or containing characters a term cannot have."""


class BadLanguage(GlossaryError):
    """Unknown language code, or English where a target language is needed."""


class UnknownTerm(GlossaryError):
    pass


class DuplicateTerm(GlossaryError):
    pass


class BadFile(GlossaryError):
    """A file that cannot be imported: encoding, columns, values, duplicates."""


class UnknownAudit(GlossaryError):
    pass


class WouldOverwrite(GlossaryError):
    """An import would change approved entries; `summary` says what would change. Retry with force."""

    def __init__(self, message: str, summary: ImportSummary) -> None:
        super().__init__(message)
        self.summary = summary


# --- values --------------------------------------------------------------------------------------


def _interned(row: object, names: tuple[str, ...]) -> None:
    """Share the repeated strings of loaded rows (language codes, keys, statuses, authors): 60,000 renderings
    would otherwise each hold their own copies."""
    for name in names:
        value = getattr(row, name)
        if type(value) is str:
            object.__setattr__(row, name, sys.intern(value))


@dataclass(frozen=True, slots=True)
class Concept:
    key: str  # stable id, e.g. "iep"
    term: str  # the English term, e.g. "IEP"
    type: str = "full"  # acronym | full | phrase
    policy: str = "translate"  # keep | keep-expand | translate | dnt
    expansion: str = ""  # English expansion of an acronym
    en_variants: tuple[str, ...] = ()
    definition: str = ""
    guild_id: int = GLOBAL
    updated_by: str = ""
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        _interned(self, ("key", "type", "policy", "updated_by"))


@dataclass(frozen=True, slots=True)
class Rendering:
    concept_key: str
    language: str
    preferred: str  # for keep-expand concepts: the expansion in this language
    variants: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    case_sensitive: bool = False
    status: str = "draft"  # draft | approved | forbidden
    source: str = ""
    notes: str = ""
    guild_id: int = GLOBAL
    updated_by: str = ""
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        _interned(self, ("concept_key", "language", "status", "source", "updated_by"))


@dataclass(frozen=True, slots=True)
class Change:
    """One row written (after) or removed (after=None); `before` is what it replaces (None: new)."""

    action: str
    before: Concept | Rendering | None
    after: Concept | Rendering | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    by: str
    action: str
    concept_key: str
    language: str  # '' for the concept row
    guild_id: int
    before: Concept | Rendering | None
    after: Concept | Rendering | None


@dataclass(frozen=True, slots=True)
class TermView:
    """What `show` and `search` return: a concept and, for a language, its effective rendering."""

    concept: Concept
    rendering: Rendering | None


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # duplicate | conflict | empty | forbidden-preferred | missing-expansion
    concept: str
    language: str
    message: str


@dataclass
class ImportSummary:
    files: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    overwrites: list[str] = field(default_factory=list)  # approved entries the import changes
    changes: list[Change] = field(default_factory=list)
    version: int = 0

    def render(self) -> str:
        lines = [f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged ({', '.join(self.files)})"]
        lines += [f"  overwrites approved: {line}" for line in self.overwrites]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class TermContext:
    """Where a message is translated: scope for per-server terms, meeting for first mentions."""

    guild_id: int | None = None
    meeting_id: int | None = None
    message_id: int | None = None


@dataclass
class GlossaryStats:
    """Outcome of each term occurrence in a translated message."""

    protected_ok: int = 0  # the token came back intact
    restored_mangled: int = 0  # the token came back mangled (spaces, case, width...) and was restored
    fallback_replaced: int = 0  # the token was lost; the unprotected translation was repaired
    appended: int = 0  # even the repair could not place it: appended in parentheses
    forbidden_replaced: int = 0  # forbidden renderings swept from an output

    def add(self, outcome: str, count: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + count)


@dataclass(frozen=True, slots=True)
class AppliedTerm:
    key: str
    source: str  # the text matched in the message
    rendering: str  # what the reader sees
    outcome: str  # a GlossaryStats field name


# --- validation ----------------------------------------------------------------------------------

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f|]")


def clean_term(value: str, what: str = "term") -> str:
    value = unicodedata.normalize("NFC", value or "").strip()
    if not value:
        raise BadTerm(f"the {what} is empty")
    if len(value) > MAX_TERM:
        raise BadTerm(f"the {what} is {len(value)} characters long; the limit is {MAX_TERM}")
    if _BAD_CHARS.search(value):
        raise BadTerm(f"the {what} {value[:40]!r} contains a line break, tab or '|' (the list separator)")
    if not any(ch.isalnum() for ch in value):
        raise BadTerm(f"the {what} {value[:40]!r} has no letter or digit")
    return value


def clean_list(values: Iterable[str] | str, what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = values.split("|")
    out: dict[str, None] = {}
    for value in values:
        if value.strip():
            out[clean_term(value, what)] = None
    return tuple(out)


def target_language(code: str) -> str:
    try:
        lang = languages.for_translation(languages.get(code))
    except languages.UnknownLanguage as exc:
        raise BadLanguage(str(exc)) from None
    if lang.code == "en":
        raise BadLanguage("English is the glossary's source language; give a target language such as es or vi")
    return lang.code


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    value = (value or "").strip().lower()
    if value not in allowed:
        raise GlossaryError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _is_acronym(term: str) -> bool:
    letters = [c for c in term if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(term) <= 10


def slug(term: str) -> str:
    return re.sub(r"[^\w]+", "-", term.casefold()).strip("-") or "term"


# --- matching ------------------------------------------------------------------------------------

# Scripts written without spaces between words: no word boundary around their characters.
_NOSPACE = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f"
    "\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
)
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_NOSPACE_CHAR = re.compile(f"[{_NOSPACE}]")
_SPACED = rf"[^\W{_NOSPACE}{_HANGUL}]"  # a word character of a script that separates words
_SPACED_CHAR = re.compile(_SPACED)
_SPACED_RUN = re.compile(rf"{_SPACED}+")
# Where a no-space or Hangul term may start: any no-space character; Hangul at the start of a word.
_CLOSE_START = re.compile(rf"[{_NOSPACE}]+|(?<![^\W{_NOSPACE}])[{_HANGUL}]")
_DASHES = "-‐‑‒–—―"
_APOSTROPHES = "'’ʼ"
_KEY_LEN = 2


def _spaced(ch: str) -> bool:
    return _SPACED_CHAR.match(ch) is not None


def _bounded(text: str, start: int, end: int) -> bool:
    """Word boundaries hold around text[start:end] (only where the edge character's script needs one)."""
    if start > 0 and _spaced(text[start]) and _spaced(text[start - 1]):
        return False
    return not (end < len(text) and _spaced(text[end - 1]) and _spaced(text[end]))


def _plural(form: str) -> tuple[str, str] | None:
    """(stem to drop from the end, suffix pattern) for an English form, or None (no plural)."""
    if not form[-1].isascii() or not form[-1].isalpha():
        return None
    if _is_acronym(form):
        return "", "s?"
    lower = form.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return "", "(?:es)?"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return "y", "(?:y|ies)"
    return "", "s?"


def _pattern(form: str, english: bool) -> str:
    """The form as a regex: any whitespace between words, any dash, either apostrophe, English plurals.
    Boundaries are checked by the caller (`_bounded`): big Unicode classes make compiling slow."""
    plural = _plural(form) if english else None
    base = form[: -len(plural[0])] if plural and plural[0] else form
    words = []
    for word in base.split():
        out = []
        for ch in word:
            if ch in _DASHES:
                out.append(f"[{_DASHES}]")
            elif ch in _APOSTROPHES:
                out.append(f"[{_APOSTROPHES}]")
            else:
                out.append(re.escape(ch))
        words.append("".join(out))
    return r"\s+".join(words) + (plural[1] if plural else "")


def _index_key(form: str) -> tuple[bool, str]:
    """(by word, key). Spaced-script forms are indexed by their first word, lower-cased; no-space and Hangul
    forms by their first (up to two) characters, since they may start or end inside a written word."""
    if _spaced(form[0]):
        run = _SPACED_RUN.match(form)
        assert run is not None
        return True, run[0].lower()
    out = []
    for ch in form[:_KEY_LEN]:
        if not (ch.isalnum() or ch == "_"):
            break
        out.append(ch)
    return False, "".join(out).lower()


def _singulars(word: str) -> tuple[str, ...]:
    """Keys an English plural word may be indexed under."""
    if not word.endswith("s"):
        return ()
    keys = [word[:-1]]
    if word.endswith("es"):
        keys.append(word[:-2])
    if word.endswith("ies"):
        keys.append(word[:-3] + "y")
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class Target:
    """What a concept becomes in one target language (resolved per hit, shared by every source language)."""

    key: str
    later: str  # every mention after the first (the acronym, for keep-expand)
    first: str | None  # first mention in a meeting, when it differs (keep-expand)
    expansion: str | None  # what the source's own expansion of the acronym becomes
    full: str | None  # what a source "<expansion> (<ACRONYM>)" becomes
    preferred: str  # the approved rendering (for presence checks and sweeps)
    admitted: tuple[str, ...]  # renderings that count as present: preferred, variants, acronym
    forbidden: tuple[str, ...]
    case_sensitive: bool
    keep_case: bool  # an acronym or case-sensitive rendering: never re-capitalized


@dataclass(slots=True, eq=False)
class Form:
    """One source surface form of a concept. `text` is the loaded row's own string (no copy)."""

    text: str
    key: str  # the concept
    kind: str  # term | expansion | full
    case_sensitive: bool
    english: bool
    _regex: re.Pattern[str] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:  # compiled on first use: a rebuild after an edit stays cheap
            flags = 0 if self.case_sensitive else re.IGNORECASE
            self._regex = re.compile(_pattern(self.text, self.english), flags)
        return self._regex


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    form: Form
    target: Target


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The loaded glossary at one version. Its dicts are never changed once published (a write publishes
    new ones), so a matcher can be built from it in a worker thread."""

    version: int
    concepts: dict[tuple[str, int], Concept]
    renderings: dict[tuple[str, str, int], Rendering]

    def concept(self, key: str, scope: int) -> Concept | None:
        return self.concepts.get((key, scope)) or self.concepts.get((key, GLOBAL))

    def rendering(self, key: str, language: str, scope: int) -> Rendering | None:
        return self.renderings.get((key, language, scope)) or self.renderings.get((key, language, GLOBAL))

    def effective(self, scope: int) -> dict[str, Concept]:
        """Concepts for a server: its own rows override the shared ones."""
        out = {key: c for (key, g), c in self.concepts.items() if g == GLOBAL}
        if scope != GLOBAL:
            out.update({key: c for (key, g), c in self.concepts.items() if g == scope})
        return out


def resolve_target(c: Concept, r: Rendering | None, language: str) -> Target | None:
    """What concept `c` becomes in `language` given its rendering row there (any status); None: left to the
    engine (a translate-policy concept without an enforced rendering)."""
    acronym_like = c.type == "acronym" or _is_acronym(c.term)
    if language == "en":
        expansion = c.expansion or None
        return Target(
            key=c.key, later=c.term, first=None, expansion=expansion or c.term,
            full=f"{c.expansion} ({c.term})" if c.expansion else c.term,
            preferred=c.term, admitted=(c.term, *c.en_variants), forbidden=(),
            case_sensitive=acronym_like, keep_case=acronym_like,
        )  # fmt: skip
    usable = r if r is not None and r.status in ENFORCED else None
    forbidden: tuple[str, ...] = ()
    if r is not None:
        forbidden = r.forbidden + ((r.preferred, *r.variants) if r.status == "forbidden" else ())
    if c.policy == "translate":
        if usable is None:
            return None
        later, first, expansion, full = usable.preferred, None, usable.preferred, usable.preferred
    elif c.policy == "keep-expand":
        later = c.term
        first = _first_mention(language, usable.preferred, c.term, acronym_like) if usable else None
        expansion = usable.preferred if usable else c.term
        full = first or c.term
    else:  # keep, dnt: the English term unless the community wrote its form ("Plan 504")
        later = usable.preferred if usable else c.term
        first, expansion, full = None, later, later
    admitted = tuple(dict.fromkeys(x for x in (later, *(usable.variants if usable else ())) if x))
    if usable:
        admitted = tuple(dict.fromkeys((*admitted, usable.preferred)))
    return Target(
        key=c.key, later=later, first=first if first != later else None, expansion=expansion, full=full,
        preferred=usable.preferred if usable and c.policy != "keep-expand" else later, admitted=admitted,
        forbidden=tuple(f for f in forbidden if f.casefold() not in {a.casefold() for a in admitted}),
        case_sensitive=bool(usable and usable.case_sensitive) or (acronym_like and c.policy != "translate"),
        keep_case=bool(usable and usable.case_sensitive) or acronym_like,
    )  # fmt: skip


def source_forms(c: Concept, source: str, r: Rendering | None) -> list[Form]:
    """The surface forms of concept `c` written in `source`; `r` is its enforced rendering there, if any."""
    forms: list[Form] = []
    english_terms = (c.term, *c.en_variants)
    if source == "en":
        for text in english_terms:
            cs = _is_acronym(text) and (c.type == "acronym" or _is_acronym(c.term))
            forms.append(Form(text, c.key, "term", cs, english=True))
        if c.expansion and c.policy == "keep-expand":
            forms.append(Form(c.expansion, c.key, "expansion", False, english=True))
        return forms
    if r is not None:
        kind = "expansion" if c.policy == "keep-expand" else "term"
        forms += [Form(t, c.key, kind, r.case_sensitive, english=False) for t in (r.preferred, *r.variants)]
        if c.policy == "keep-expand":
            for text in {_first_mention(source, r.preferred, c.term, _is_acronym(c.term)),
                         f"{r.preferred} ({c.term})"}:  # fmt: skip
                if text != r.preferred:
                    forms.append(Form(text, c.key, "full", r.case_sensitive, english=False))
    if c.policy != "translate":  # parents write the English acronym too: "el IEP de mi hijo"
        for text in english_terms:
            forms.append(Form(text, c.key, "term", _is_acronym(text), english=True))
    return forms


# Candidates at one position: (start, ((end, form), ...)) in the order the forms were tried.
_Candidates = list[tuple[int, tuple[tuple[int, Form], ...]]]
_FOUND_CACHE = 16  # texts remembered per index: one message is matched once for all its target languages


class SourceIndex:
    """Every surface form of one source language (and server scope), indexed for a single pass over a message.

    One per source language, not per pair: what a form becomes is looked up per hit in the target language's
    `Targets`. Spaced-script forms are looked up by the message's words (one dict lookup per word, plus
    singular forms of words ending in s); no-space and Hangul forms by the first characters at each position
    where they may start. Each candidate is confirmed by its own small regex. `candidates` finds every
    confirmed form at every position, whatever the target; `Matcher.find` then picks, per target language,
    the longest match among forms that language renders (leftmost-longest, non-overlapping).
    """

    def __init__(self, snapshot: Snapshot, source: str, scope: int = GLOBAL) -> None:
        self.snapshot, self.source, self.scope, self.version = snapshot, source, scope, snapshot.version
        self.words: dict[str, list[Form]] = {}
        self.prefixes: dict[int, dict[str, list[Form]]] = {}
        count = 0
        for concept in snapshot.effective(scope).values():
            rendering = None
            if source != "en":
                r = snapshot.rendering(concept.key, source, scope)
                rendering = r if r is not None and r.status in ENFORCED else None
            for form in source_forms(concept, source, rendering):
                by_word, key = _index_key(form.text)
                if not key:
                    continue
                if by_word:
                    self.words.setdefault(key, []).append(form)
                else:
                    self.prefixes.setdefault(len(key), {}).setdefault(key, []).append(form)
                count += 1
        self.lengths = sorted(self.prefixes)
        self.size = count
        self._found: dict[str, tuple[_Candidates, _Candidates]] = {}

    def candidates(self, text: str) -> tuple[_Candidates, _Candidates]:
        """(word candidates, no-space/Hangul candidates) of `text`, each in text order."""
        found = self._found.get(text)
        if found is None:
            lower = text.lower()
            if len(lower) != len(text):  # a rare character whose lower case is longer (İ)
                lower = "".join(ch.lower()[0] for ch in text)
            found = (
                self._words(text, lower) if self.words else [],
                self._prefixes(text, lower) if self.prefixes else [],
            )
            if len(self._found) >= _FOUND_CACHE:
                self._found.clear()
            self._found[text] = found
        return found

    @staticmethod
    def _confirm(text: str, start: int, forms: list[Form], out: list[tuple[int, Form]]) -> None:
        for form in forms:
            m = form.regex.match(text, start)
            if m and _bounded(text, start, m.end()):
                out.append((m.end(), form))

    def _words(self, text: str, lower: str) -> _Candidates:
        words, confirm, found = self.words, self._confirm, []
        for run in _SPACED_RUN.finditer(lower):
            word, start = run[0], run.start()
            matched: list[tuple[int, Form]] = []
            bucket = words.get(word)
            if bucket is not None:
                confirm(text, start, bucket, matched)
            if word[-1] == "s":
                for key in _singulars(word):
                    bucket = words.get(key)
                    if bucket is not None:
                        confirm(text, start, bucket, matched)
            if matched:
                found.append((start, tuple(matched)))
        return found

    def _prefixes(self, text: str, lower: str) -> _Candidates:
        tables = [(length, self.prefixes[length]) for length in self.lengths]
        confirm, found = self._confirm, []
        for run in _CLOSE_START.finditer(text):  # a run of no-space characters, or a Hangul word start
            for start in range(run.start(), run.end()):
                matched: list[tuple[int, Form]] | None = None
                for length, table in tables:
                    bucket = table.get(lower[start : start + length])
                    if bucket is not None:
                        if matched is None:
                            matched = []
                        confirm(text, start, bucket, matched)
                if matched:
                    found.append((start, tuple(matched)))
        return found


class Targets:
    """concept -> Target in one language (and scope), resolved on first use: only concepts that occur in
    messages are ever resolved, whatever the size of the glossary."""

    __slots__ = ("_resolved", "language", "scope", "snapshot")

    def __init__(self, snapshot: Snapshot, language: str, scope: int = GLOBAL) -> None:
        self.snapshot, self.language, self.scope = snapshot, language, scope
        self._resolved: dict[str, Target | None] = {}

    def get(self, key: str) -> Target | None:
        try:
            return self._resolved[key]
        except KeyError:
            pass
        concept = self.snapshot.concept(key, self.scope)
        target = None
        if concept is not None:
            target = resolve_target(concept, self.snapshot.rendering(key, self.language, self.scope), self.language)
        self._resolved[key] = target
        return target


class Matcher:
    """A language pair: the source language's index and the target language's renderings."""

    __slots__ = ("index", "targets")

    def __init__(self, index: SourceIndex, targets: Targets) -> None:
        assert index.snapshot is targets.snapshot and index.scope == targets.scope
        self.index, self.targets = index, targets

    source = property(lambda self: self.index.source)
    target = property(lambda self: self.targets.language)
    version = property(lambda self: self.index.version)
    size = property(lambda self: self.index.size)

    def find(self, text: str) -> list[Hit]:
        if not self.index.size:
            return []
        words, prefixes = self.index.candidates(text)
        hits = self._pick(words)
        if prefixes:
            hits += self._pick(prefixes)
            hits.sort(key=lambda h: (h.start, -h.end))
        chosen: list[Hit] = []
        taken = 0
        for hit in hits:
            if hit.start >= taken:
                chosen.append(hit)
                taken = hit.end
        return chosen

    def _pick(self, candidates: _Candidates) -> list[Hit]:
        """At each position not inside the previous pick: the longest form this target renders (first wins)."""
        get = self.targets.get
        hits: list[Hit] = []
        taken = 0
        for start, matched in candidates:
            if start < taken:
                continue
            best: Hit | None = None
            for end, form in matched:
                if best is None or end > best.end:
                    target = get(form.key)
                    if target is not None:
                        best = Hit(start, end, form, target)
            if best is not None:
                hits.append(best)
                taken = best.end
        return hits


def _first_mention(language: str, expansion: str, acronym: str, is_acronym: bool) -> str:
    """How a keep-and-expand term reads the first time in a meeting."""
    if acronym.casefold() in expansion.casefold():
        return expansion
    if language == "es":
        return f"{expansion} ({acronym}, {'por sus siglas en inglés' if is_acronym else 'en inglés'})"
    return f"{expansion} ({acronym})"


# --- enforcement of one message --------------------------------------------------------------------


@dataclass
class TermUse:
    index: int  # Holder index of the token
    hit: Hit
    surface: str
    value: str  # what replaces the token
    later: str  # what a repeated mention of the same concept reads as


_TOKEN_LIKE = re.compile(r"[ZzＺｚ]\s*[QqＱｑ]\s*[XxＸｘ]")


@dataclass
class TermPlan:
    """One message's protected terms: built before translation, applied to what comes back."""

    text: str  # shielded text with term tokens: what the engine sees
    base: str  # shielded text with markup tokens only: for the fallback translation
    holder: Holder
    markup_count: int
    uses: list[TermUse]
    language: str

    def restore(self, translated: str) -> tuple[str, list[TermUse], dict[int, str]]:
        """Put markup and renderings back. Returns (text, lost term uses, outcome per token index)."""
        values = {use.index: use.value for use in self.uses}
        restored = self.holder.restore(translated, values)
        text = restored.text
        for index in restored.missing:
            if index < self.markup_count:  # markup the engine dropped goes at the end, as in unshield
                value = self.holder.values[index]
                if text and not text[-1].isspace():
                    text += "\n" if "\n" in value else " "
                text += value
        missing = set(restored.missing)
        lost = [u for u in self.uses if u.index in missing]
        outcomes = {
            u.index: "protected_ok" if PLACEHOLDER.format(u.index) in translated else "restored_mangled"
            for u in self.uses
            if u.index not in missing
        }
        return text, lost, outcomes

    def repair(self, fallback: str, engine_renderings: dict[str, str]) -> tuple[str, dict[int, str]]:
        """Make every term of the message present in an unprotected translation.

        Replaces the engine's own rendering of the term, a forbidden rendering, or the source term left
        untranslated, by the approved rendering; appends it in parentheses when none is found.
        """
        text, outcomes = fallback, {}
        for uses in _by_concept(self.uses).values():
            target = uses[0].hit.target
            if _present(text, target):
                outcomes.update({u.index: "fallback_replaced" for u in uses})
                continue
            values = iter([u.value for u in uses])
            put = lambda _m, values=values, u=uses[0]: next(values, u.later)  # noqa: E731
            # Known traps and the source term left untranslated first; the engine's rendering of the term on
            # its own last, since it may carry more than the term.
            text, count = _replace(text, {*target.forbidden, *(u.surface for u in uses)}, put, target)
            if not count:
                engine = {r for r in (engine_renderings.get(u.surface) for u in uses) if r and len(r) > 1}
                text, count = _replace(text, engine, put, target)
            if count:
                outcomes.update({u.index: "fallback_replaced" for u in uses})
            else:
                text = f"{text.rstrip()} ({uses[0].value})"
                outcomes.update({u.index: "appended" for u in uses})
        return text, outcomes

    def sweep(self, text: str) -> tuple[str, int]:
        """Replace forbidden renderings of every concept present in the source."""
        total = 0
        for uses in _by_concept(self.uses).values():
            target = uses[0].hit.target
            if target.forbidden:
                text, count = _replace(text, target.forbidden, lambda _m, t=target: t.preferred, target)
                total += count
        return text, total

    def applied(self, outcomes: dict[int, str]) -> tuple[AppliedTerm, ...]:
        return tuple(
            AppliedTerm(u.hit.target.key, u.surface, u.value, outcomes.get(u.index, "appended")) for u in self.uses
        )


def _by_concept(uses: list[TermUse]) -> dict[str, list[TermUse]]:
    grouped: dict[str, list[TermUse]] = {}
    for use in uses:
        grouped.setdefault(use.hit.target.key, []).append(use)
    return grouped


def _finder(forms: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted({f for f in forms if f}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(f"(?:{_pattern(f, english=False)})" for f in unique), re.IGNORECASE)


def _present(text: str, target: Target) -> bool:
    finder = _finder(target.admitted)
    return finder is not None and any(_bounded(text, m.start(), m.end()) for m in finder.finditer(text))


def _replace(text: str, wrong: Iterable[str], value, target: Target) -> tuple[str, int]:
    """Replace `wrong` forms by value(match) in one pass; admitted renderings (longer, same place) stay."""
    keep = {a.casefold() for a in target.admitted}
    bad = _finder(w for w in wrong if w and w.casefold() not in keep)
    if bad is None:
        return text, 0
    # The admitted renderings are alternatives too, left as they are, so a wrong form inside an approved
    # one ("director" in "director/a") is never replaced.
    ok = _finder(target.admitted)
    pattern = re.compile((f"(?P<ok>{ok.pattern})|" if ok else "") + f"(?P<bad>{bad.pattern})", re.IGNORECASE)
    count = 0

    def swap(m: re.Match[str]) -> str:
        nonlocal count
        if m.lastgroup == "ok" or not _bounded(text, m.start(), m.end()):
            return m[0]
        count += 1
        return value(m)

    return pattern.sub(swap, text), count


# --- import / export formats ----------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again") from None


def _rows(text: str, name: str) -> list[list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if name.lower().endswith(".tsv") or ("\t" in first and "," not in first) else ","
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:
        raise BadFile(f"{name}: {exc}") from None
    rows = [r for r in rows if any(r) and not r[0].startswith("#")]
    if not rows:
        raise BadFile(f"{name} is empty")
    return rows


@dataclass
class _Parsed:
    concepts: list[tuple[int, Concept]] = field(default_factory=list)  # (line, concept)
    renderings: list[tuple[int, Rendering]] = field(default_factory=list)
    pairs: list[tuple[int, str, str, str]] = field(default_factory=list)  # (line, language, english, target)


def _table(rows: list[list[str]], name: str, known: Sequence[str], required: Sequence[str]) -> list[dict[str, str]]:
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in known]
    absent = [h for h in required if h not in header]
    if unknown or absent or len(set(header)) != len(header):
        raise BadFile(
            f"{name}: wrong columns {','.join(rows[0])!r}; expected {','.join(known)} ({', '.join(required)} required)"
        )
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise BadFile(f"{name} line {number}: {len(row)} cells for {len(header)} columns")
        out.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(header)})
    return out


def _language_codes(header: list[str]) -> list[str] | None:
    """Language codes of a Google 'equivalent term set' header (en, es, ...), or None."""
    codes = []
    for cell in header:
        if cell.lower() in ("pos", "description"):
            continue
        try:
            codes.append(languages.get(cell).code)
        except languages.UnknownLanguage:
            return None
    return codes if "en" in codes and len(codes) >= 2 else None


def parse_file(data: bytes, name: str, *, language: str | None = None, guild_id: int = GLOBAL) -> _Parsed:
    """Read one file in any supported format. Raises BadFile naming the file and line."""
    rows = _rows(_decode(data, name), name)
    header = [h.strip().lower() for h in rows[0]]
    parsed = _Parsed()
    try:
        if "id" in header or "term" in header:
            for number, row in enumerate(_table(rows, name, CONCEPT_COLUMNS, ("id", "term")), start=2):
                parsed.concepts.append((number, _concept_from(row, guild_id, f"{name} line {number}")))
        elif "concept" in header or "preferred" in header:
            lang = _file_language(name, language)
            for number, row in enumerate(_table(rows, name, RENDERING_COLUMNS, ("concept", "preferred")), start=2):
                parsed.renderings.append((number, _rendering_from(row, lang, guild_id, f"{name} line {number}")))
        elif (codes := _language_codes(rows[0])) is not None:
            columns = [i for i, h in enumerate(header) if h not in ("pos", "description")]
            en = columns[codes.index("en")]
            for number, row in enumerate(rows[1:], start=2):
                for code, i in zip(codes, columns, strict=True):
                    if code != "en" and i < len(row) and row[i] and en < len(row) and row[en]:
                        parsed.pairs.append((number, target_language(code), row[en], row[i]))
        elif all(len(r) == 2 for r in rows):
            lang = _file_language(name, language)
            for number, row in enumerate(rows, start=1):
                parsed.pairs.append((number, lang, row[0], row[1]))
        else:
            raise BadFile(
                f"{name}: unrecognized columns {','.join(rows[0])!r}. Expected concepts "
                f"({','.join(CONCEPT_COLUMNS)}), a language file ({','.join(RENDERING_COLUMNS)}), "
                "two columns (English term, rendering) or a header of language codes"
            )
    except (BadTerm, BadLanguage) as exc:
        raise BadFile(f"{name}: {exc}") from None
    for number, _, english, target in parsed.pairs:
        try:
            clean_term(english)
            clean_term(target, "rendering")
        except BadTerm as exc:
            raise BadFile(f"{name} line {number}: {exc}") from None
    return parsed


def _file_language(name: str, language: str | None) -> str:
    if language:
        return target_language(language)
    stem = Path(name).name.split(".")[0]
    try:
        return target_language(stem)
    except BadLanguage:
        raise BadFile(f"cannot tell the language of {name}: name it like es.csv or pass --language") from None


def _concept_from(row: dict[str, str], guild_id: int, where: str) -> Concept:
    try:
        term = clean_term(row["term"])
        kind = row.get("type") or ("acronym" if _is_acronym(term) else "phrase" if " " in term else "full")
        return Concept(
            key=clean_term(row["id"], "concept id"),
            term=term,
            type=_choice(kind, TYPES, "type"),
            policy=_choice(row.get("policy") or "translate", POLICIES, "policy"),
            expansion=clean_term(row["expansion"], "expansion") if row.get("expansion") else "",
            en_variants=clean_list(row.get("en_variants", ""), "English variant"),
            definition=(row.get("definition") or "").strip(),
            guild_id=guild_id,
        )
    except GlossaryError as exc:
        raise BadFile(f"{where}: {exc}") from None


def _rendering_from(row: dict[str, str], language: str, guild_id: int, where: str) -> Rendering:
    try:
        flag = (row.get("case_sensitive") or "no").strip().lower()
        if flag not in ("yes", "no", "true", "false", "1", "0"):
            raise GlossaryError(f"case_sensitive must be yes or no, not {flag!r}")
        return Rendering(
            concept_key=clean_term(row["concept"], "concept id"),
            language=language,
            preferred=clean_term(row["preferred"], "rendering"),
            variants=clean_list(row.get("variants", ""), "variant"),
            forbidden=clean_list(row.get("forbidden", ""), "forbidden rendering"),
            case_sensitive=flag in ("yes", "true", "1"),
            status=_choice(row.get("status") or "draft", STATUSES, "status"),
            source=(row.get("source") or "").strip(),
            notes=(row.get("notes") or "").strip(),
            guild_id=guild_id,
        )
    except GlossaryError as exc:
        raise BadFile(f"{where}: {exc}") from None


def _merge_forbidden_rows(renderings: list[tuple[int, Rendering]], name: str) -> list[Rendering]:
    """One row per concept: a 'forbidden'-status row next to a usable one adds to its forbidden list."""
    usable: dict[str, Rendering] = {}
    lines: dict[str, int] = {}
    banned: dict[str, list[Rendering]] = {}
    for number, r in renderings:
        if r.status == "forbidden":
            banned.setdefault(r.concept_key, []).append(r)
        elif r.concept_key in usable:
            raise BadFile(
                f"{name} line {number}: duplicate concept {r.concept_key!r} (also line {lines[r.concept_key]})"
            )
        else:
            usable[r.concept_key], lines[r.concept_key] = r, number
    out = dict(usable)
    for key, rows in banned.items():
        base, extra = (out[key], rows) if key in out else (rows[0], rows[1:])
        forms = [f for r in extra for f in (r.preferred, *r.variants, *r.forbidden)]
        out[key] = replace(base, forbidden=tuple(dict.fromkeys((*base.forbidden, *forms))))
    return list(out.values())


def _csv(rows: Iterable[Sequence[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


# --- the service ---------------------------------------------------------------------------------


class Glossary:
    """Reads and writes the glossary through the Store and serves matchers per language pair (each a source
    language's shared index plus the target language's renderings).

    Public API (used by the CLI and the Discord cog); every method raises a GlossaryError subclass for
    bad input and then has changed nothing.
    """

    def __init__(self, store: Store, *, refresh_every: float = 2.0) -> None:
        self.store = store
        self.refresh_every = refresh_every  # how often to look for writes by another process (the CLI)
        self.version = -1
        self.stats = GlossaryStats()
        # Published dicts are never changed in place (a write publishes new ones): see Snapshot.
        self._concepts: dict[tuple[str, int], Concept] = {}
        self._renderings: dict[tuple[str, str, int], Rendering] = {}
        self._indexes: dict[tuple[str, int], SourceIndex] = {}  # (source language, scope)
        self._builds: dict[tuple[str, int, int], asyncio.Future[SourceIndex]] = {}  # (source, scope, version)
        self._targets: dict[tuple[str, int], Targets] = {}  # (target language, scope), current version only
        self._checked = 0.0
        self._mentions: dict[tuple[int, str], dict[str, int]] = {}

    # --- loading ----------------------------------------------------------------------------------

    async def load(self) -> None:
        version = await self.store.glossary_version()
        concepts = {(c.key, c.guild_id): c for c in await self.store.glossary_concepts()}
        renderings = {(r.concept_key, r.language, r.guild_id): r for r in await self.store.glossary_renderings()}
        self._publish(version, concepts, renderings)
        self._checked = time.monotonic()

    def _publish(
        self, version: int, concepts: dict[tuple[str, int], Concept], renderings: dict[tuple[str, str, int], Rendering]
    ) -> None:
        self._indexes.clear()  # rebuilt (in a worker thread) for the next message
        self._targets.clear()
        self._concepts, self._renderings, self.version = concepts, renderings, version

    async def current(self) -> int:
        """The glossary version, reloading when another process wrote since the last look."""
        now = time.monotonic()
        if self.version < 0:
            await self.load()
        elif now - self._checked >= self.refresh_every:
            self._checked = now
            if await self.store.glossary_version() != self.version:
                await self.load()
        return self.version

    @property
    def empty(self) -> bool:
        return not self._concepts

    # --- scope --------------------------------------------------------------------------------------

    def _scope(self, guild_id: int | None) -> int:
        return GLOBAL if guild_id is None else int(guild_id)

    def concepts(self, guild_id: int | None = None) -> dict[str, Concept]:
        """Effective concepts for a server: its own rows override the shared ones."""
        scope = self._scope(guild_id)
        out = {key: c for (key, g), c in self._concepts.items() if g == GLOBAL}
        if scope != GLOBAL:
            out.update({key: c for (key, g), c in self._concepts.items() if g == scope})
        return out

    def rendering(self, key: str, language: str, guild_id: int | None = None) -> Rendering | None:
        scope = self._scope(guild_id)
        return self._renderings.get((key, language, scope)) or self._renderings.get((key, language, GLOBAL))

    def find_concept(self, term: str, guild_id: int | None = None) -> Concept | None:
        """A concept by id, English term, English variant or expansion (case-insensitive)."""
        wanted = unicodedata.normalize("NFC", term.strip()).casefold()
        concepts = self.concepts(guild_id)
        if wanted in concepts:
            return concepts[wanted]
        for concept in concepts.values():
            names = (concept.key, concept.term, concept.expansion, *concept.en_variants)
            if any(n and n.casefold() == wanted for n in names):
                return concept
        return None

    def _require(self, term: str, guild_id: int | None) -> Concept:
        term = clean_term(term)
        concept = self.find_concept(term, guild_id)
        if concept is None:
            raise UnknownTerm(f"no glossary term {term!r}; add it first")
        return concept

    # --- matchers -------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self.version, self._concepts, self._renderings)

    async def matcher(self, source: Language, target: Language, guild_id: int | None = None) -> Matcher:
        """The matcher for a pair. The source language's index is built in a worker thread the first time
        (and after an edit); a message that needs it waits for it, the event loop does not."""
        await self.current()
        scope = self._scope(guild_id)
        index = self._indexes.get((source.code, scope))
        if index is None or index.version != self.version:
            index = await asyncio.shield(self._build(source.code, scope))
        return self._pair(index, target.code)

    def _build(self, source: str, scope: int) -> asyncio.Future[SourceIndex]:
        """The build of this source's index at the current version: started once, shared by every waiter."""
        snapshot = self.snapshot()
        key = (source, scope, snapshot.version)
        future = self._builds.get(key)
        if future is None:
            future = self._builds[key] = asyncio.ensure_future(self._run_build(snapshot, source, scope))
            future.add_done_callback(_log_failure)
        return future

    async def _run_build(self, snapshot: Snapshot, source: str, scope: int) -> SourceIndex:
        try:
            index = await asyncio.to_thread(SourceIndex, snapshot, source, scope)
        finally:
            self._builds.pop((source, scope, snapshot.version), None)
        if index.version == self.version:  # an older build finishing late never replaces a newer one
            self._indexes[(source, scope)] = index
        return index

    def _pair(self, index: SourceIndex, target: str) -> Matcher:
        key = (target, index.scope)
        targets = self._targets.get(key)
        if targets is None or targets.snapshot is not index.snapshot:
            targets = Targets(index.snapshot, target, index.scope)
            if index.version == self.version:
                self._targets[key] = targets
        return Matcher(index, targets)

    async def warm(self, sources: Iterable[str] | None = None, guild_id: int | None = None) -> None:
        """Build the indexes of these source languages (default: English and every language with renderings)
        in worker threads, so no meeting waits for one. Meant to run as a background task at startup."""
        await self.current()
        scope = self._scope(guild_id)
        if sources is None:
            sources = ["en", *sorted({lang for (_, lang, _) in self._renderings})]
        wanted = [
            s for s in sources if (index := self._indexes.get((s, scope))) is None or index.version != self.version
        ]
        for source in wanted:  # one at a time: a worker thread each would only fight over the GIL
            await asyncio.shield(self._build(source, scope))

    def build_matcher(self, source: str, target: str, guild_id: int | None = None) -> Matcher:
        """A matcher built right here (synchronously), from the loaded glossary: for tests and tools."""
        scope = self._scope(guild_id)
        index = self._indexes.get((source, scope))
        if index is None or index.version != self.version:
            index = SourceIndex(self.snapshot(), source, scope)
        return self._pair(index, target)

    def _target(self, c: Concept, language: str, guild_id: int | None) -> Target | None:
        return resolve_target(c, self.rendering(c.key, language, guild_id), language)

    # --- enforcement ------------------------------------------------------------------------------------

    async def plan(
        self, shielded: str, holder: Holder, source: Language, target: Language, context: TermContext | None = None
    ) -> TermPlan | None:
        """Hold every matched term of `shielded` in `holder`; None when the message has no terms."""
        context = context or TermContext()
        matcher = await self.matcher(source, target, context.guild_id)
        hits = matcher.find(shielded)
        if not hits:
            return None
        introduced = await self._introduced(context, target.code)
        markup_count = len(holder.values)
        parts: list[str] = []
        uses: list[TermUse] = []
        seen: set[str] = set()
        pos = 0
        for hit in hits:
            t = hit.target
            surface = shielded[hit.start : hit.end]
            if hit.form.kind == "full":
                value = t.full or t.later
            elif hit.form.kind == "expansion":
                value = t.expansion or t.later
            elif t.first and t.key not in seen and introduced.get(t.key, context.message_id) == context.message_id:
                value = t.first
            else:
                value = t.later
            if hit.form.kind != "term" or value == t.first:
                seen.add(t.key)
                if t.first and t.key not in introduced:
                    introduced[t.key] = context.message_id or 0
                    await self._remember_mention(context, target.code, t.key)
            if not t.keep_case and surface[:1].isupper() and value[:1].islower():
                value = value[0].upper() + value[1:]
            parts.append(shielded[pos : hit.start])
            parts.append(holder.hold(surface))
            uses.append(TermUse(len(holder.values) - 1, hit, surface, value, t.later))
            pos = hit.end
        parts.append(shielded[pos:])
        return TermPlan("".join(parts), shielded, holder, markup_count, uses, target.code)

    async def _introduced(self, context: TermContext, language: str) -> dict[str, int]:
        if context.meeting_id is None:
            return {}  # no meeting: every message introduces its own acronyms
        key = (context.meeting_id, language)
        if key not in self._mentions:
            since = time.time() - MENTION_WINDOW
            self._mentions[key] = await self.store.glossary_mentions(context.meeting_id, language, since)
        return self._mentions[key]

    async def _remember_mention(self, context: TermContext, language: str, key: str) -> None:
        if context.meeting_id is not None and context.message_id is not None:
            await self.store.add_glossary_mention(context.meeting_id, language, key, context.message_id)

    # --- writes ---------------------------------------------------------------------------------------

    async def _write(self, changes: list[Change], by: str) -> int:
        by = (by or "").strip()
        if not by:
            raise GlossaryError("say who makes the change (by=...)")
        if not changes:
            return self.version
        before = self.version
        version = await self.store.apply_glossary(changes, by)
        written = await self.store.glossary_audit_entry(version) if version - len(changes) == before else None
        if written is None:  # another process wrote in between (or the store wrote differently): read it all
            await self.load()
            return version
        # Only our changes were written: apply them to the loaded rows (off the event loop) instead of
        # reading 60,000 rows back. The store stamped every row with the audit entry's author and time.
        concepts, renderings = await asyncio.to_thread(
            _applied, self._concepts, self._renderings, changes, written.by, written.at
        )
        if self.version != before:  # another write of ours was published meanwhile: it may be newer
            await self.load()
        else:
            self._publish(version, concepts, renderings)
        return version

    async def add_term(
        self,
        language: str,
        term: str,
        rendering: str,
        *,
        by: str,
        guild_id: int | None = None,
        status: str = "draft",
        variants: Iterable[str] = (),
        forbidden: Iterable[str] = (),
        case_sensitive: bool = False,
        notes: str = "",
        source: str = "",
        type: str | None = None,
        policy: str | None = None,
        expansion: str = "",
        definition: str = "",
    ) -> Rendering:
        """Add a rendering of `term` in `language`, creating the concept when the term is new."""
        await self.current()
        language = target_language(language)
        term = clean_term(term)
        new = Rendering(
            concept_key="",
            language=language,
            preferred=clean_term(rendering, "rendering"),
            variants=clean_list(variants, "variant"),
            forbidden=clean_list(forbidden, "forbidden rendering"),
            case_sensitive=bool(case_sensitive),
            status=_choice(status, STATUSES, "status"),
            source=source.strip(),
            notes=notes.strip(),
            guild_id=self._scope(guild_id),
        )
        changes: list[Change] = []
        concept = self.find_concept(term, guild_id)
        if concept is None:
            kind = type or ("acronym" if _is_acronym(term) else "phrase" if " " in term else "full")
            concept = Concept(
                key=self._new_key(term),
                term=term,
                type=_choice(kind, TYPES, "type"),
                policy=_choice(policy or ("keep-expand" if kind == "acronym" else "translate"), POLICIES, "policy"),
                expansion=clean_term(expansion, "expansion") if expansion else "",
                definition=definition.strip(),
                guild_id=self._scope(guild_id),
            )
            changes.append(Change("add", None, concept))
        existing = self._renderings.get((concept.key, language, new.guild_id))
        if existing is not None:
            raise DuplicateTerm(
                f"{concept.term!r} already has a {languages.get(language).english} rendering "
                f"({existing.preferred!r}); edit it instead"
            )
        new = replace(new, concept_key=concept.key)
        _check_rendering(new)
        changes.append(Change("add", None, new))
        await self._write(changes, by)
        return self._renderings[(concept.key, language, new.guild_id)]

    def _new_key(self, term: str) -> str:
        base = slug(term)
        key, n = base, 2
        while any(k == key for k, _ in self._concepts):
            key, n = f"{base}-{n}", n + 1
        return key

    async def edit(
        self,
        term: str,
        language: str,
        *,
        by: str,
        guild_id: int | None = None,
        preferred: str | None = None,
        variants: Iterable[str] | None = None,
        forbidden: Iterable[str] | None = None,
        case_sensitive: bool | None = None,
        status: str | None = None,
        notes: str | None = None,
        source: str | None = None,
    ) -> Rendering:
        """Change a rendering. With a guild_id and only a shared rendering, the server gets its own copy."""
        await self.current()
        language = target_language(language)
        concept = self._require(term, guild_id)
        scope = self._scope(guild_id)
        before = self._renderings.get((concept.key, language, scope))
        base = before or self.rendering(concept.key, language, guild_id)
        if base is None:
            raise UnknownTerm(f"{concept.term!r} has no {languages.get(language).english} rendering; add one first")
        after = replace(base, guild_id=scope)
        if preferred is not None:
            after = replace(after, preferred=clean_term(preferred, "rendering"))
        if variants is not None:
            after = replace(after, variants=clean_list(variants, "variant"))
        if forbidden is not None:
            after = replace(after, forbidden=clean_list(forbidden, "forbidden rendering"))
        if case_sensitive is not None:
            after = replace(after, case_sensitive=bool(case_sensitive))
        if status is not None:
            after = replace(after, status=_choice(status, STATUSES, "status"))
        if notes is not None:
            after = replace(after, notes=notes.strip())
        if source is not None:
            after = replace(after, source=source.strip())
        _check_rendering(after)
        if before is not None and _same(before, after):
            return before
        await self._write([Change("edit", before, after)], by)
        return self._renderings[(concept.key, language, scope)]

    async def approve(self, term: str, language: str, *, by: str, guild_id: int | None = None) -> Rendering:
        return await self.edit(term, language, by=by, guild_id=guild_id, status="approved")

    async def edit_concept(
        self,
        term: str,
        *,
        by: str,
        guild_id: int | None = None,
        policy: str | None = None,
        type: str | None = None,
        expansion: str | None = None,
        definition: str | None = None,
        en_variants: Iterable[str] | None = None,
    ) -> Concept:
        """Change a concept. With a guild_id, the server gets its own copy (e.g. its own SST expansion)."""
        await self.current()
        concept = self._require(term, guild_id)
        scope = self._scope(guild_id)
        before = self._concepts.get((concept.key, scope))
        after = replace(concept, guild_id=scope)
        if policy is not None:
            after = replace(after, policy=_choice(policy, POLICIES, "policy"))
        if type is not None:
            after = replace(after, type=_choice(type, TYPES, "type"))
        if expansion is not None:
            after = replace(after, expansion=clean_term(expansion, "expansion") if expansion.strip() else "")
        if definition is not None:
            after = replace(after, definition=definition.strip())
        if en_variants is not None:
            after = replace(after, en_variants=clean_list(en_variants, "English variant"))
        if before is not None and _same(before, after):
            return before
        await self._write([Change("edit", before, after)], by)
        return self._concepts[(concept.key, scope)]

    async def remove(self, term: str, language: str, *, by: str, guild_id: int | None = None) -> None:
        await self.current()
        language = target_language(language)
        concept = self._require(term, guild_id)
        before = self._renderings.get((concept.key, language, self._scope(guild_id)))
        if before is None:
            raise UnknownTerm(f"{concept.term!r} has no {languages.get(language).english} rendering here")
        await self._write([Change("remove", before, None)], by)

    # --- reading --------------------------------------------------------------------------------------

    async def show(self, term: str, language: str, guild_id: int | None = None) -> TermView:
        await self.current()
        language = target_language(language)
        concept = self._require(term, guild_id)
        return TermView(concept, self.rendering(concept.key, language, guild_id))

    async def search(self, query: str, language: str | None = None, guild_id: int | None = None) -> list[TermView]:
        """Terms whose English side or rendering contains `query` (case-insensitive), best first, at most 25."""
        await self.current()
        lang = target_language(language) if language else None
        wanted = query.strip().casefold()
        if not wanted:
            raise BadTerm("the search is empty")
        found: list[tuple[int, TermView]] = []
        for concept in self.concepts(guild_id).values():
            rendering = self.rendering(concept.key, lang, guild_id) if lang else None
            english = [concept.key, concept.term, concept.expansion, *concept.en_variants]
            other = [*(t for r in ([rendering] if rendering else []) for t in (r.preferred, *r.variants))]
            names = [n.casefold() for n in (*english, *other) if n]
            if wanted in names:
                found.append((0, TermView(concept, rendering)))
            elif any(n.startswith(wanted) for n in names):
                found.append((1, TermView(concept, rendering)))
            elif any(wanted in n for n in names) or wanted in concept.definition.casefold():
                found.append((2, TermView(concept, rendering)))
        found.sort(key=lambda item: (item[0], item[1].concept.term.casefold()))
        return [view for _, view in found[:25]]

    async def history(self, term: str, language: str | None = None, guild_id: int | None = None) -> list[AuditEntry]:
        """Every change to the term (and its rendering in `language`), newest first."""
        await self.current()
        concept = self._require(term, guild_id)
        return await self.store.glossary_history(concept.key, target_language(language) if language else None, guild_id)

    # --- history --------------------------------------------------------------------------------------

    async def revert(self, audit_id: int, *, by: str) -> AuditEntry:
        """Undo one change: the entry it touched goes back to how it was before that change."""
        entry = await self._entry(audit_id)
        return await self._set_state(entry, entry.before, by, "revert")

    async def restore(self, audit_id: int, *, by: str) -> AuditEntry:
        """Bring back the version a change produced (any version in the history can be restored)."""
        entry = await self._entry(audit_id)
        return await self._set_state(entry, entry.after, by, "restore")

    async def _entry(self, audit_id: int) -> AuditEntry:
        await self.current()
        entry = await self.store.glossary_audit_entry(int(audit_id))
        if entry is None:
            raise UnknownAudit(f"no glossary change #{audit_id}")
        return entry

    async def _set_state(
        self, entry: AuditEntry, state: Concept | Rendering | None, by: str, action: str
    ) -> AuditEntry:
        if entry.language:
            current: Concept | Rendering | None = self._renderings.get(
                (entry.concept_key, entry.language, entry.guild_id)
            )
        else:
            current = self._concepts.get((entry.concept_key, entry.guild_id))
        changes: list[Change] = []
        if isinstance(state, Rendering) and not self._concept_exists(state.concept_key, state.guild_id):
            raise GlossaryError(f"concept {state.concept_key!r} no longer exists; restore the concept first")
        if state is None and isinstance(current, Concept):  # removing a concept removes its renderings
            changes += [
                Change(action, r, None)
                for (key, _, g), r in self._renderings.items()
                if key == current.key and g == current.guild_id
            ]
        if current is None and state is None:
            return entry
        if current is not None and state is not None and _same(current, state):
            return entry
        changes.append(Change(action, current, state))
        version = await self._write(changes, by)
        done = await self.store.glossary_audit_entry(version)
        assert done is not None
        return done

    def _concept_exists(self, key: str, guild_id: int) -> bool:
        return (key, guild_id) in self._concepts or (key, GLOBAL) in self._concepts

    # --- import / export --------------------------------------------------------------------------------

    async def import_file(
        self,
        source: str | Path | bytes,
        *,
        by: str,
        force: bool = False,
        language: str | None = None,
        guild_id: int | None = None,
        status: str = "draft",
        name: str | None = None,
    ) -> ImportSummary:
        """Import a file (or a directory: concepts.csv first, then one file per language) in one transaction.

        Formats: concepts.csv; our per-language file; two columns (English term, rendering: DeepL or Google
        Cloud unidirectional CSV/TSV); a header of language codes (Google equivalent term sets). Identical
        rows change nothing. Changing an approved entry needs force=True; without it WouldOverwrite says what
        would change.
        """
        await self.current()
        status = _choice(status, STATUSES, "status")
        scope = self._scope(guild_id)
        files = await asyncio.to_thread(self._read_files, source, name)
        summary = ImportSummary(files=[f for f, _ in files])
        # Parsed and planned in a worker thread, against the rows loaded now: a big file does not hold up the
        # event loop, and only the changes outlive the planning (60,000 rows are written at once).
        plan = functools.partial(_plan_files, self.snapshot(), files, language, scope, status, summary)
        del files
        changes = await asyncio.to_thread(plan)
        del plan
        summary.changes = changes
        if summary.overwrites and not force:
            raise WouldOverwrite(
                f"the import would change {len(summary.overwrites)} approved entr"
                f"{'y' if len(summary.overwrites) == 1 else 'ies'}; nothing was changed. "
                "Check the list and import again with --force (force=True):\n" + summary.render(),
                summary,
            )
        summary.version = await self._write(changes, by)
        return summary

    def _read_files(self, source: str | Path | bytes, name: str | None) -> list[tuple[str, bytes]]:
        if isinstance(source, bytes):
            return [(name or "upload.csv", source)]
        path = Path(source)
        try:
            if path.is_dir():
                found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".tsv"))
                found.sort(key=lambda p: p.stem != "concepts")
                if not found:
                    raise BadFile(f"{path} has no .csv or .tsv files")
                return [(p.name, p.read_bytes()) for p in found]
            return [(name or path.name, path.read_bytes())]
        except OSError as exc:
            raise BadFile(f"cannot read {path}: {exc.strerror or exc}") from None

    async def seed(self, directory: Path, *, by: str = "seed") -> ImportSummary | None:
        """Import the seed glossaries when the glossary is empty (first run); None when there was nothing to do."""
        await self.current()
        if not self.empty or not (directory / "concepts.csv").is_file():
            return None
        return await self.import_file(directory, by=by)

    async def export(self, language: str, fmt: str = "full", guild_id: int | None = None) -> str:
        """csv / tsv: two columns (English term, rendering), no header, as DeepL and Google Cloud glossaries take.
        full: our per-language format with status and notes (re-importable)."""
        await self.current()
        language = target_language(language)
        fmt = _choice(fmt, FORMATS, "format")
        concepts = self.concepts(guild_id)
        if fmt == "full":
            rows = [list(RENDERING_COLUMNS)]
            for key in sorted(concepts):
                r = self.rendering(key, language, guild_id)
                if r is not None:
                    rows.append([
                        r.concept_key, r.preferred, "|".join(r.variants), "|".join(r.forbidden),
                        "yes" if r.case_sensitive else "no", r.status, r.source, r.notes,
                    ])  # fmt: skip
            return _csv(rows)
        pairs: dict[str, str] = {}
        for key in sorted(concepts):
            target = self._target(concepts[key], language, guild_id)
            if target is None:
                continue
            c = concepts[key]
            for english in (c.term, *c.en_variants):
                pairs.setdefault(english, target.later)
            if c.expansion and target.expansion:
                pairs.setdefault(c.expansion, target.expansion)
        rows = [[source, target] for source, target in pairs.items()]
        return _csv(rows, "\t" if fmt == "tsv" else ",")

    async def export_concepts(self, guild_id: int | None = None) -> str:
        await self.current()
        rows = [list(CONCEPT_COLUMNS)]
        for key, c in sorted(self.concepts(guild_id).items()):
            rows.append([key, c.term, c.type, c.policy, c.expansion, "|".join(c.en_variants), c.definition])
        return _csv(rows)

    async def lint(self) -> list[Problem]:
        """Duplicates, conflicts, empty renderings, forbidden renderings equal to preferred ones."""
        await self.current()
        problems: list[Problem] = []
        scopes = sorted({g for _, g in self._concepts} | {GLOBAL})
        for scope in scopes:
            concepts = self.concepts(scope)
            english: dict[str, str] = {}
            for key, c in sorted(concepts.items()):
                for name in (c.term, *c.en_variants):
                    other = english.setdefault(name.casefold(), key)
                    if other != key:
                        problems.append(Problem("duplicate", key, "en", f"English {name!r} also belongs to {other!r}"))
                if c.policy == "keep-expand" and not c.expansion:
                    problems.append(
                        Problem("missing-expansion", key, "en", f"{c.term!r} is keep-expand but has no expansion")
                    )
            for lang in sorted({lang for (_, lang, g) in self._renderings if g in (GLOBAL, scope)}):
                problems += self._lint_language(concepts, lang, scope)
        unique: dict[tuple[str, str, str], Problem] = {}
        for p in problems:
            unique.setdefault((p.kind, p.concept, p.message), p)
        return list(unique.values())

    def _lint_language(self, concepts: dict[str, Concept], lang: str, scope: int) -> list[Problem]:
        problems: list[Problem] = []
        preferred: dict[str, str] = {}
        forbidden: dict[str, str] = {}
        rows = {k: self.rendering(k, lang, scope) for k in sorted(concepts)}
        for key, r in rows.items():
            if r is None:
                continue
            if not r.preferred.strip():
                problems.append(Problem("empty", key, lang, "the preferred rendering is empty"))
                continue
            banned = {f.casefold() for f in r.forbidden}
            for name in (r.preferred, *r.variants):
                if name.casefold() in banned:
                    problems.append(
                        Problem("forbidden-preferred", key, lang, f"{name!r} is both admitted and forbidden")
                    )
            if r.status == "forbidden":
                continue
            for name in (r.preferred, *r.variants):
                other = preferred.setdefault(name.casefold(), key)
                if other != key:
                    problems.append(Problem("duplicate", key, lang, f"{name!r} also renders {other!r}"))
            for name in r.forbidden:
                forbidden.setdefault(name.casefold(), key)
        for name, key in forbidden.items():
            if name in preferred and preferred[name] != key:
                problems.append(
                    Problem(
                        "conflict", key, lang, f"{name!r} is forbidden here but is the rendering of {preferred[name]!r}"
                    )
                )
        return problems


def _applied(
    concepts: dict[tuple[str, int], Concept],
    renderings: dict[tuple[str, str, int], Rendering],
    changes: Sequence[Change],
    by: str,
    at: float,
) -> tuple[dict[tuple[str, int], Concept], dict[tuple[str, str, int], Rendering]]:
    """New dicts: the loaded rows with `changes` written as the store writes them (removals first)."""
    concepts, renderings = dict(concepts), dict(renderings)
    for change in changes:
        row = change.before if change.after is None else None
        if isinstance(row, Concept):
            concepts.pop((row.key, row.guild_id), None)
        elif isinstance(row, Rendering):
            renderings.pop((row.concept_key, row.language, row.guild_id), None)
    for change in changes:
        after = change.after
        if isinstance(after, Concept):
            concepts[(after.key, after.guild_id)] = replace(after, updated_by=by, updated_at=at)
        elif isinstance(after, Rendering):
            key = (after.concept_key, after.language, after.guild_id)
            renderings[key] = replace(after, updated_by=by, updated_at=at)
    return concepts, renderings


def _log_failure(future: asyncio.Future[SourceIndex]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("building a glossary matcher failed", exc_info=future.exception())


def _plan_files(
    snap: Snapshot,
    files: list[tuple[str, bytes]],
    language: str | None,
    scope: int,
    status: str,
    summary: ImportSummary,
) -> list[Change]:
    """Parse the files of an import and compare them with the loaded rows: the changes to write."""
    concepts: list[Concept] = []
    renderings: list[Rendering] = []
    pairs: list[tuple[str, int, str, str, str]] = []
    for file_name, data in files:
        parsed = parse_file(data, file_name, language=language, guild_id=scope)
        seen: dict[str, int] = {}
        for number, concept in parsed.concepts:
            if concept.key in seen:
                raise BadFile(
                    f"{file_name} line {number}: duplicate id {concept.key!r} (also line {seen[concept.key]})"
                )
            seen[concept.key] = number
            concepts.append(concept)
        renderings += _merge_forbidden_rows(parsed.renderings, file_name)
        pairs += [(file_name, *pair) for pair in parsed.pairs]
        del parsed
    return _plan_import(snap, concepts, renderings, pairs, scope, status, summary)


def _plan_import(
    snap: Snapshot,
    concepts: list[Concept],
    renderings: list[Rendering],
    pairs: list[tuple[str, int, str, str, str]],
    scope: int,
    status: str,
    summary: ImportSummary,
) -> list[Change]:
    changes: list[Change] = []
    known = snap.effective(scope)
    approved = {k for (k, _, g), r in snap.renderings.items() if g == scope and r.status == "approved"}
    for concept in concepts:
        before = snap.concepts.get((concept.key, scope))
        changes += _compare(before, concept, summary, approved=concept.key in approved)
        known[concept.key] = concept
    by_term: dict[str, Concept] = {}
    for c in known.values():
        for name in (c.expansion, *c.en_variants, c.term):  # the term itself wins
            if name:
                by_term[name.casefold()] = c
    seen_pairs: dict[str, dict[str, int]] = {}  # language -> folded English term -> index in pairs
    folded: dict[str, str] = {}  # each English term of an equivalent-set file comes once per language
    for i, (file_name, number, lang, english, target) in enumerate(pairs):
        fold = folded.get(english)
        if fold is None:
            fold = folded[english] = english.casefold()
        seen = seen_pairs.setdefault(lang, {})
        if fold in seen:
            where = pairs[seen[fold]]
            raise BadFile(f"{file_name} line {number}: duplicate term {english!r} (also {where[0]} line {where[1]})")
        seen[fold] = i
        concept = by_term.get(fold)
        if concept is None:
            acronym = _is_acronym(english)
            policy = "keep" if target == english else "keep-expand" if acronym else "translate"
            kind = "acronym" if acronym else "phrase" if " " in english else "full"
            key = slug(english)
            n = 2
            while key in known:  # "A-G" and "A G" slug alike
                key, n = f"{slug(english)}-{n}", n + 1
            concept = Concept(key, english, kind, policy, guild_id=scope)
            changes.append(Change("import", None, concept))
            summary.added += 1
            known[key] = by_term[english.casefold()] = concept
        old = snap.renderings.get((concept.key, lang, scope))
        new = Rendering(concept.key, lang, target, status=status, guild_id=scope)
        if old is not None:  # a two-column file only knows the preferred rendering: keep the rest
            new = replace(old, preferred=target, variants=tuple(v for v in old.variants if v != target))
        renderings.append(new)
    for rendering in renderings:
        if rendering.concept_key not in known:
            raise BadFile(
                f"{languages.get(rendering.language).english} rendering of unknown concept "
                f"{rendering.concept_key!r}: import concepts.csv first (or with it, as a directory)"
            )
        before = snap.renderings.get((rendering.concept_key, rendering.language, rendering.guild_id))
        changes += _compare(before, rendering, summary, approved=bool(before and before.status == "approved"))
    return changes


def _compare(
    before: Concept | Rendering | None, after: Concept | Rendering, summary: ImportSummary, *, approved: bool
) -> list[Change]:
    if before is None:
        summary.added += 1
        return [Change("import", None, after)]
    if _same(before, after):
        summary.unchanged += 1
        return []
    summary.updated += 1
    if approved:
        summary.overwrites.append(_describe(before, after))
    return [Change("import", before, after)]


def _check_rendering(r: Rendering) -> None:
    banned = {f.casefold() for f in r.forbidden}
    if r.status != "forbidden" and r.preferred.casefold() in banned:
        raise GlossaryError(f"{r.preferred!r} cannot be both the preferred and a forbidden rendering")


def _comparable(row: Concept | Rendering) -> Concept | Rendering:
    return replace(row, updated_by="", updated_at=0.0)


def _same(a: Concept | Rendering, b: Concept | Rendering) -> bool:
    return _comparable(a) == _comparable(b)


def _describe(before: Concept | Rendering, after: Concept | Rendering) -> str:
    if isinstance(before, Rendering) and isinstance(after, Rendering):
        what = f"{before.concept_key} [{before.language}]"
        fields = ("preferred", "variants", "forbidden", "case_sensitive", "status", "source", "notes")
    else:
        what = f"concept {before.key}"  # type: ignore[union-attr]
        fields = ("term", "type", "policy", "expansion", "en_variants", "definition")
    diffs = [
        f"{f}: {getattr(before, f)!r} -> {getattr(after, f)!r}"
        for f in fields
        if getattr(before, f) != getattr(after, f)
    ]
    return f"{what}: {'; '.join(diffs)}"
