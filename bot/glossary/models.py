"""The glossary's values, errors and input checks. Imports nothing of the glossary: the store uses this module alone."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot import languages

TYPES = ("acronym", "full", "phrase")
POLICIES = ("keep", "keep-expand", "translate", "dnt")
# doubtful: a volunteer reviewed the draft and was unsure. Enforced like a draft (better than the raw engine),
# counted as reviewed, and at the back of the review queue until someone approves or corrects it.
STATUSES = ("draft", "approved", "forbidden", "doubtful")
ENFORCED = ("approved", "draft", "doubtful")
CASES = ("auto", "exact")  # auto: as written, capitalised at a sentence start; exact: always as written
MAX_TERM = 200  # characters; a longer "term" is a sentence, not a glossary entry
GLOBAL = 0  # guild_id of entries shared by every server

# File columns. The last of each is optional: files without it stay valid, and exports write it only when used.
CONCEPT_COLUMNS = ("id", "term", "type", "policy", "expansion", "en_variants", "definition", "exceptions")
RENDERING_COLUMNS = (
    "concept", "preferred", "variants", "forbidden", "case_sensitive", "status", "source", "notes", "case",
)  # fmt: skip
OPTIONAL_COLUMNS = ("exceptions", "case")
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
    """A file that cannot be imported: encoding, size, columns, values, duplicates."""


class UnknownAudit(GlossaryError):
    pass


class Stale(GlossaryError):
    """A rendering changed after it was shown (someone reviewed it meanwhile); `entry` is that change."""

    def __init__(self, entry: AuditEntry) -> None:
        who = entry.by.split(" (")[0]
        super().__init__(f"{entry.concept_key!r} [{entry.language}] was changed by {who} meanwhile")
        self.entry = entry


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
    # Senses: where the term's English word means something else. A phrase containing it ("principal reason",
    # "camp counselor"; a word a/b/c is any of them, * any one word), or context words ("~hotel/lodging": any
    # of them within four words, in the same sentence).
    exceptions: tuple[str, ...] = ()
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
    status: str = "draft"  # draft | approved | forbidden | doubtful
    source: str = ""
    notes: str = ""
    case: str = "auto"  # auto | exact (see CASES)
    guild_id: int = GLOBAL
    updated_by: str = ""
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        _interned(self, ("concept_key", "language", "status", "source", "case", "updated_by"))


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
    kind: str  # duplicate | conflict | empty | forbidden-preferred | missing-expansion | header-like
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

    engine_ok: int = 0  # the engine's own rendering was an admitted one: left exactly as it was
    protected_ok: int = 0  # the term's placeholder came back intact
    restored_mangled: int = 0  # the placeholder came back mangled (spaces, case, width...) and was restored
    repaired: int = 0  # the engine's wrong rendering was replaced, at the term's place only
    appended: int = 0  # the term's place could not be found: the rendering was added in parentheses

    def add(self, outcome: str, count: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + count)


@dataclass(frozen=True, slots=True)
class AppliedTerm:
    key: str
    source: str  # the text matched in the message
    rendering: str  # what the reader sees
    outcome: str  # a GlossaryStats field name


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


def choice(value: str, allowed: Sequence[str], what: str) -> str:
    value = (value or "").strip().lower()
    if value not in allowed:
        raise GlossaryError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def is_acronym(term: str) -> bool:
    letters = [c for c in term if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(term) <= 10


def slug(term: str) -> str:
    return re.sub(r"[^\w]+", "-", term.casefold()).strip("-") or "term"


def language_names() -> dict[str, str]:
    """Every way a file header or a careless term may name a language (code, English or native name, folded)
    -> the language's code."""
    names: dict[str, str] = {}
    for lang in languages.LANGUAGES.values():
        for name in (lang.code, lang.english, lang.native, lang.english.split(" (")[0]):
            names.setdefault(name.casefold(), lang.code)
    return names
