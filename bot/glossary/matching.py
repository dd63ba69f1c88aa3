"""Finding terms in a message: one index per source language, what each hit becomes per target language, and
senses (a concept's exceptions: "principal reason" is not the school's principal).

- Word boundaries come from the script of each character, not from a per-language flag: Han, kana, Thai,
  Lao, Khmer and Myanmar need none (so "IEP" is found in "IEP會議"), Hangul needs one in front only (Korean
  particles attach: "교장이"), every other script on both sides.
- English forms also match simple plurals (s, es, y -> ies). Acronyms and rows marked case-sensitive match
  case-sensitively ("GATE", not "the gate"); everything else ignores case.
- Matching scales with languages, not pairs: one `SourceIndex` per source language (and server) holds that
  language's surface forms; what a hit becomes in the target language is looked up per hit (`Targets`).
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from bot.glossary.models import ENFORCED, GLOBAL, BadTerm, Concept, Rendering, Snapshot, is_acronym

# Scripts written without spaces between words: no word boundary around their characters.
NOSPACE = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f"
    "\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
)
HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
NOSPACE_CHAR = re.compile(f"[{NOSPACE}]")
_SPACED = rf"[^\W{NOSPACE}{HANGUL}]"  # a word character of a script that separates words
_SPACED_CHAR = re.compile(_SPACED)
_SPACED_RUN = re.compile(rf"{_SPACED}+")
# Where a no-space or Hangul term may start: any no-space character; Hangul at the start of a word.
_CLOSE_START = re.compile(rf"[{NOSPACE}]+|(?<![^\W{NOSPACE}])[{HANGUL}]")
_DASHES = "-‐‑‒–—―"
_APOSTROPHES = "'’ʼ"
_KEY_LEN = 2


def spaced(ch: str) -> bool:
    return _SPACED_CHAR.match(ch) is not None


def bounded(text: str, start: int, end: int) -> bool:
    """Word boundaries hold around text[start:end] (only where the edge character's script needs one)."""
    if start > 0 and spaced(text[start]) and spaced(text[start - 1]):
        return False
    return not (end < len(text) and spaced(text[end - 1]) and spaced(text[end]))


def _plural(form: str) -> tuple[str, str] | None:
    """(stem to drop from the end, suffix pattern) for an English form, or None (no plural)."""
    if not form[-1].isascii() or not form[-1].isalpha():
        return None
    if is_acronym(form):
        return "", "s?"
    lower = form.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return "", "(?:es)?"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return "y", "(?:y|ies)"
    return "", "s?"


def pattern(form: str, english: bool) -> str:
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
    if spaced(form[0]):
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
    keep_case: bool  # the rendering's case policy is "exact": never re-cased, not even at a sentence start


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
            self._regex = re.compile(pattern(self.text, self.english), flags)
        return self._regex


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    form: Form
    target: Target


# --- senses: where an English term word means something else ------------------------------------------

_SENSE_WORDS = 4  # a context exception looks this many words to each side of the term, within its sentence
_CLAUSE_END = re.compile(r"[.!?;:\n]")
_WORDS = re.compile(r"[\w'’-]+")


def sense_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase exception as a regex: words a/b/c are alternatives, * is any one word, plurals match."""
    words = []
    for word in phrase.split():
        if word == "*":
            words.append(r"\S+")
        else:
            words.append("(?:" + "|".join(pattern(alt, english=True) for alt in word.split("/") if alt) + ")")
    return re.compile(r"\s+".join(words), re.IGNORECASE)


def context_words(entry: str) -> frozenset[str]:
    """The words of a context exception ("~hotel/lodging"): any of them near the term means another sense."""
    return frozenset(w.casefold() for w in re.split(r"[/\s]+", entry.lstrip("~")) if w)


def _around(text: str, start: int, end: int) -> tuple[list[str], list[str]]:
    """The words before and after text[start:end] in its sentence (up to 200 characters each side)."""
    left = _CLAUSE_END.split(text[max(0, start - 200) : start])[-1]
    right = _CLAUSE_END.split(text[end : end + 200])[0]
    return _WORDS.findall(left), _WORDS.findall(right)


def near(text: str, start: int, end: int, words: frozenset[str]) -> bool:
    """Whether one of `words` (or its plural) is within a few words of text[start:end], in the same sentence."""
    left, right = _around(text, start, end)
    found = left[-_SENSE_WORDS:] + right[:_SENSE_WORDS]
    for word in found:
        folded = word.casefold()
        if folded in words or folded.rstrip("s") in words or folded.removesuffix("es") in words:
            return True
    return False


def shouting(text: str, start: int, end: int, terms: Container[str]) -> bool:
    """Whether the sentence around text[start:end] is written in capitals ("PLEASE CAST YOUR VOTE"): there an
    acronym that is also a word (a concept with exceptions: IDEA, CAST, GATE) is read as the word. Words that
    start a glossary form (`terms`, lower case) do not count: "ELPAC, CAASPP, CAST" is a list of tests."""
    left, right = _around(text, start, end)
    words = [w for w in left + right if any(ch.isalpha() for ch in w) and w.casefold() not in terms]
    return len(words) >= 2 and all(w.upper() == w for w in words)


def check_senses(concept: Concept) -> None:
    """A phrase exception must contain one of the concept's English forms, with words around it; a context one
    (~word/word) needs words. Raises BadTerm."""
    forms = [f for f in (concept.term, *concept.en_variants, concept.expansion) if f]
    for phrase in concept.exceptions:
        if phrase.startswith("~"):
            if not context_words(phrase):
                raise BadTerm(f"the exception {phrase!r} has no words: write them as ~hotel/lodging")
            continue
        sample = " ".join("x" if w == "*" else w.split("/")[0] for w in phrase.split())
        found = None
        for form in forms:
            for m in re.finditer(pattern(form, english=True), sample, re.IGNORECASE):
                if bounded(sample, m.start(), m.end()):
                    found = m
                    break
            if found:
                break
        if found is None:
            raise BadTerm(
                f"the exception {phrase!r} does not contain the term {concept.term!r}: write the words around "
                f"it (e.g. '{concept.term} reason'), or words that mean another sense nearby as ~hotel/lodging"
            )
        if found.start() == 0 and found.end() == len(sample):
            raise BadTerm(f"the exception {phrase!r} is the term itself: add the words that change its meaning")


def resolve_target(c: Concept, r: Rendering | None, language: str) -> Target | None:
    """What concept `c` becomes in `language` given its rendering row there (any status); None: left to the
    engine (a translate-policy concept without an enforced rendering)."""
    acronym_like = c.type == "acronym" or is_acronym(c.term)
    if language == "en":
        expansion = c.expansion or None
        return Target(
            key=c.key, later=c.term, first=None, expansion=expansion or c.term,
            full=f"{c.expansion} ({c.term})" if c.expansion else c.term,
            preferred=c.term, admitted=(c.term, *c.en_variants), forbidden=(),
            case_sensitive=acronym_like, keep_case=False,
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
        first = first_mention(language, usable.preferred, c.term, acronym_like) if usable else None
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
        keep_case=bool(usable and usable.case == "exact"),
    )  # fmt: skip


def source_forms(c: Concept, source: str, r: Rendering | None) -> list[Form]:
    """The surface forms of concept `c` written in `source`; `r` is its enforced rendering there, if any."""
    forms: list[Form] = []
    english_terms = (c.term, *c.en_variants)
    if source == "en":
        for text in english_terms:
            cs = is_acronym(text) and (c.type == "acronym" or is_acronym(c.term))
            forms.append(Form(text, c.key, "term", cs, english=True))
        if c.expansion and c.policy == "keep-expand":
            forms.append(Form(c.expansion, c.key, "expansion", False, english=True))
        return forms
    if r is not None:
        kind = "expansion" if c.policy == "keep-expand" else "term"
        forms += [Form(t, c.key, kind, r.case_sensitive, english=False) for t in (r.preferred, *r.variants)]
        if c.policy == "keep-expand":
            for text in {first_mention(source, r.preferred, c.term, is_acronym(c.term)),
                         f"{r.preferred} ({c.term})"}:  # fmt: skip
                if text != r.preferred:
                    forms.append(Form(text, c.key, "full", r.case_sensitive, english=False))
    if c.policy != "translate":  # parents write the English acronym too: "el IEP de mi hijo"
        for text in english_terms:
            forms.append(Form(text, c.key, "term", is_acronym(text), english=True))
    return forms


# Candidates at one position: (start, ((end, form), ...)) in the order the forms were tried.
_Candidates = list[tuple[int, tuple[tuple[int, Form], ...]]]
_FOUND_CACHE = 16  # texts remembered per index: one message is matched once for all its target languages
_SENSE_WINDOW = 120  # characters around a hit searched for the phrases of its concept's exceptions


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
        self.senses: dict[str, list[str]] = {}  # concept -> exception phrases, compiled on first use
        self._sense_regexes: dict[str, list[re.Pattern[str] | frozenset[str]]] = {}
        count = 0
        for concept in snapshot.effective(scope).values():
            if concept.exceptions:
                self.senses[concept.key] = list(concept.exceptions)
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

    def excepted(self, text: str, start: int, end: int, key: str) -> bool:
        """Whether the English hit text[start:end] of concept `key` means something else here: it lies in one of
        the concept's exception phrases, or one of its context words is near."""
        senses = self._sense_regexes.get(key)
        if senses is None:
            senses = self._sense_regexes[key] = [
                context_words(p) if p.startswith("~") else sense_pattern(p) for p in self.senses[key]
            ]
        window = (max(0, start - _SENSE_WINDOW), min(len(text), end + _SENSE_WINDOW))
        # Context words judge a bare word ("counselor" near "camp"); a form of several words carries its own
        # sense ("school counselor" stays the school's, whatever camp is mentioned nearby).
        bare = not any(ch.isspace() for ch in text[start:end])
        for sense in senses:
            if isinstance(sense, frozenset):
                if bare and near(text, start, end, sense):
                    return True
                continue
            for m in sense.finditer(text, *window):
                if m.start() <= start and end <= m.end() and bounded(text, m.start(), m.end()):
                    return True
        return False

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
            if m and bounded(text, start, m.end()):
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
        hits = self._pick(text, words)
        if prefixes:
            hits += self._pick(text, prefixes)
            hits.sort(key=lambda h: (h.start, -h.end))
        chosen: list[Hit] = []
        taken = 0
        for hit in hits:
            if hit.start >= taken:
                chosen.append(hit)
                taken = hit.end
        return chosen

    def _pick(self, text: str, candidates: _Candidates) -> list[Hit]:
        """At each position not inside the previous pick: the longest form this target renders (first wins),
        unless the words around it say it means something else (the concept's exceptions)."""
        get, senses, excepted = self.targets.get, self.index.senses, self.index.excepted
        words = self.index.words
        hits: list[Hit] = []
        taken = 0
        for start, matched in candidates:
            if start < taken:
                continue
            best: Hit | None = None
            for end, form in matched:
                if best is None or end > best.end:
                    target = get(form.key)
                    if target is None or (
                        form.english
                        and form.key in senses
                        and (
                            excepted(text, start, end, form.key)
                            or (form.case_sensitive and shouting(text, start, end, words))
                        )
                    ):
                        continue
                    best = Hit(start, end, form, target)
            if best is not None:
                hits.append(best)
                taken = best.end
        return hits


def first_mention(language: str, expansion: str, acronym: str, acronym_like: bool) -> str:
    """How a keep-and-expand term reads the first time in a meeting."""
    if acronym.casefold() in expansion.casefold():
        return expansion
    if language == "es":
        return f"{expansion} ({acronym}, {'por sus siglas en inglés' if acronym_like else 'en inglés'})"
    return f"{expansion} ({acronym})"
