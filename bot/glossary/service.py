"""The glossary service: the loaded glossary, matchers per language pair, per-message plans, writes with
their audit history, imports and exports. The Store is handed in (anything with its glossary methods): this
package never imports it.

- Enforced renderings: `approved` and `draft` rows (a volunteer's draft beats raw machine translation); a
  `forbidden`-status row is never enforced, its rendering counts as a forbidden one instead.
- keep-expand: the first mention in a meeting's session (per language) reads "<expansion> (<ACRONYM>, por sus
  siglas en inglés)" in Spanish, "<expansion> (<ACRONYM>)" elsewhere; later mentions keep the acronym. A
  session ends after `session_gap` without messages in the meeting (default 6 hours).
- The glossary version is the id of the latest audit row: every write bumps it, matchers are rebuilt for the
  next message, and the translation cache key includes it.
- An index is built in a worker thread (one build per key, shared by whoever waits for it), never on the
  event loop; `Glossary.warm` builds them all in the background at startup.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot import languages
from bot.glossary import files
from bot.glossary.enforce import STRATEGIES, TermPlan, TermUse
from bot.glossary.matching import Matcher, SourceIndex, Targets, check_senses
from bot.glossary.models import (
    CASES,
    FORMATS,
    GLOBAL,
    POLICIES,
    STATUSES,
    TYPES,
    AuditEntry,
    BadFile,
    BadTerm,
    Change,
    Concept,
    DuplicateTerm,
    GlossaryError,
    GlossaryStats,
    ImportSummary,
    Problem,
    Rendering,
    Snapshot,
    TermContext,
    TermView,
    UnknownAudit,
    UnknownTerm,
    WouldOverwrite,
    choice,
    clean_list,
    clean_term,
    slug,
    target_language,
)
from bot.text import Holder

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.languages import Language

log = logging.getLogger(__name__)

SESSION_GAP = 6 * 3600.0  # seconds without a message after which a meeting is a new session
_SESSION_SAVE_EVERY = 60.0  # seconds: a running session's last activity is written at most this often


class GlossaryStore(Protocol):
    """What the glossary needs from bot.store.Store."""

    async def glossary_version(self) -> int: ...
    async def glossary_concepts(self) -> list[Concept]: ...
    async def glossary_renderings(self) -> list[Rendering]: ...
    async def apply_glossary(
        self, changes: Sequence[Change], by: str, *, unchanged_since: int | None = None
    ) -> int: ...
    async def glossary_history(
        self, concept_key: str, language: str | None = None, guild_id: int | None = None
    ) -> list[AuditEntry]: ...
    async def glossary_audit_entry(self, audit_id: int) -> AuditEntry | None: ...
    async def glossary_session(self, meeting_id: int) -> tuple[float, float] | None: ...
    async def save_glossary_session(self, meeting_id: int, started_at: float, last_at: float) -> None: ...
    async def claim_glossary_mention(
        self, meeting_id: int, language: str, concept_key: str, message_id: int, session_start: float
    ) -> int: ...


@dataclass
class _Session:
    started: float
    last: float
    saved: float  # the `last` written to the store


class Glossary:
    """Reads and writes the glossary through the Store and serves matchers per language pair (each a source
    language's shared index plus the target language's renderings).

    Public API (used by the CLI and the Discord cog); every method raises a GlossaryError subclass for
    bad input and then has changed nothing.
    """

    def __init__(
        self,
        store: GlossaryStore,
        *,
        refresh_every: float = 2.0,
        strategy: str = "repair",
        session_gap: float = SESSION_GAP,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"glossary strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        self.store = store
        self.refresh_every = refresh_every  # how often to look for writes by another process (the CLI)
        self.strategy = strategy  # repair: translate plain, repair what is wrong; protect: placeholders first
        self.session_gap = session_gap  # seconds without a message after which a meeting introduces acronyms again
        self.version = -1
        self.stats = GlossaryStats()
        # Published dicts are never changed in place (a write publishes new ones): see Snapshot.
        self._concepts: dict[tuple[str, int], Concept] = {}
        self._renderings: dict[tuple[str, str, int], Rendering] = {}
        self._indexes: dict[tuple[str, int], SourceIndex] = {}  # (source language, scope)
        self._builds: dict[tuple[str, int, int], asyncio.Future[SourceIndex]] = {}  # (source, scope, version)
        self._targets: dict[tuple[str, int], Targets] = {}  # (target language, scope), current version only
        self._checked = 0.0
        self._sessions: dict[int, _Session] = {}  # meeting -> its current session
        self._session_lock = asyncio.Lock()
        # (meeting, language, concept) -> (session start, the message that introduced it then), as claimed in the
        # store: within a session the first mention never changes hands, so later messages need not ask again.
        self._mentions: dict[tuple[int, str, str], tuple[float, int]] = {}

    @classmethod
    def configured(cls, store: GlossaryStore, settings: Settings) -> Glossary:
        """The glossary as the settings describe it: what the wiring (run, simulate, bench, the CLI) builds."""
        return cls(
            store,
            strategy=settings.glossary_strategy,
            session_gap=settings.glossary_session_gap_hours * 3600,
        )

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

    # --- enforcement ------------------------------------------------------------------------------------

    async def plan(
        self, shielded: str, holder: Holder, source: Language, target: Language, context: TermContext | None = None
    ) -> TermPlan | None:
        """The terms of `shielded` (markup already held in `holder`) and what each becomes; None when the
        message has none. The plan's `text` is what the engine translates first, its `finish` the rest."""
        context = context or TermContext()
        session = await self._touch_session(context.meeting_id)
        matcher = await self.matcher(source, target, context.guild_id)
        hits = matcher.find(shielded)
        if not hits:
            return None
        markup_count = len(holder.values)
        uses: list[TermUse] = []
        seen: set[str] = set()
        for hit in hits:
            t = hit.target
            surface = shielded[hit.start : hit.end]
            if hit.form.kind == "full":
                value, accepts = t.full or t.later, (t.full or t.later,)
            elif hit.form.kind == "expansion":
                value = t.expansion or t.later
                accepts = tuple(dict.fromkeys((value, *(a for a in t.admitted if a != t.later))))
            elif t.first and t.key not in seen and await self._first_mention(context, session, target.code, t.key):
                value, accepts = t.first, (t.first,)
            else:
                value, accepts = t.later, t.admitted
            seen.add(t.key)
            holder.hold(surface)
            uses.append(TermUse(len(holder.values) - 1, hit, surface, value, accepts))
        return TermPlan(shielded, holder, markup_count, uses, target.code, self.strategy)

    def record(self, outcomes: dict[int, str]) -> None:
        for outcome in outcomes.values():
            self.stats.add(outcome)

    async def _touch_session(self, meeting_id: int | None) -> float | None:
        """When the meeting's current session started (a message after `session_gap` of silence starts a new
        one); kept in the store, so a restart continues the session."""
        if meeting_id is None:
            return None
        now = time.time()
        async with self._session_lock:
            session = self._sessions.get(meeting_id)
            if session is None:
                stored = await self.store.glossary_session(meeting_id)
                started, last = stored or (now, now)
                session = self._sessions[meeting_id] = _Session(started, last, last if stored else -1.0)
            if now - session.last > self.session_gap:
                session.started = now
                session.saved = -1.0  # a new session is written at once
            session.last = max(session.last, now)
            started, save = session.started, session.last - session.saved >= _SESSION_SAVE_EVERY
            if save:
                session.saved = session.last
        if save:  # outside the lock: the meeting's other translations need not wait for the write
            await self.store.save_glossary_session(meeting_id, started, session.saved)
        return started

    def forget_mentions(self) -> None:
        """Forget who introduced which term (a meeting's messages were purged, their first mentions with them)."""
        self._mentions.clear()

    async def _first_mention(self, context: TermContext, session: float | None, language: str, key: str) -> bool:
        """Whether this message introduces the acronym `key` in its meeting's session (and language). The claim
        is one atomic write: of two messages translated at the same moment, one gets the expansion."""
        if context.meeting_id is None or session is None or context.message_id is None:
            return True  # not a meeting's message: it introduces its own acronyms
        mention = (context.meeting_id, language, key)
        known = self._mentions.get(mention)
        if known is not None and known[0] == session:
            owner = known[1]
        else:
            owner = await self.store.claim_glossary_mention(
                context.meeting_id, language, key, context.message_id, session
            )
            self._mentions[mention] = (session, owner)
        return owner == context.message_id  # an edit of the introducing message keeps its expansion

    # --- writes ---------------------------------------------------------------------------------------

    async def _write(self, changes: list[Change], by: str, unchanged_since: int | None = None) -> int:
        by = (by or "").strip()
        if not by:
            raise GlossaryError("say who makes the change (by=...)")
        if not changes:
            return self.version
        before = self.version
        version = await self.store.apply_glossary(changes, by, unchanged_since=unchanged_since)
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
        case: str = "auto",
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
            status=choice(status, STATUSES, "status"),
            source=source.strip(),
            notes=notes.strip(),
            case=choice(case, CASES, "case"),
            guild_id=self._scope(guild_id),
        )
        changes: list[Change] = []
        concept = self.find_concept(term, guild_id)
        if concept is None:
            concept = files.new_concept(
                self._new_key(term),
                term,
                kind=type,
                policy=policy,
                guild_id=self._scope(guild_id),
                expansion=clean_term(expansion, "expansion") if expansion else "",
                definition=definition.strip(),
            )
            changes.append(Change("add", None, concept))
        existing = self._renderings.get((concept.key, language, new.guild_id))
        if existing is not None:
            raise DuplicateTerm(
                f"{concept.term!r} already has a {languages.get(language).english} rendering "
                f"({existing.preferred!r}); edit it instead"
            )
        new = replace(new, concept_key=concept.key)
        files.check_rendering(new)
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
        case: str | None = None,
        action: str = "edit",
        seen: int | None = None,
    ) -> Rendering:
        """Change a rendering. With a guild_id and only a shared rendering, the server gets its own copy.
        `seen`: the glossary version the rendering was shown at; if it changed since, Stale and nothing written
        (the review queue: a second reviewer of the same draft learns who was first)."""
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
            after = replace(after, status=choice(status, STATUSES, "status"))
        if notes is not None:
            after = replace(after, notes=notes.strip())
        if source is not None:
            after = replace(after, source=source.strip())
        if case is not None:
            after = replace(after, case=choice(case, CASES, "case"))
        files.check_rendering(after)
        if seen is None and before is not None and files.same(before, after):
            return before
        await self._write([Change(action, before, after)], by, seen)
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
        exceptions: Iterable[str] | None = None,
    ) -> Concept:
        """Change a concept. With a guild_id, the server gets its own copy (e.g. its own SST expansion).
        `exceptions`: the phrases in which its English word means something else ("principal reason")."""
        await self.current()
        concept = self._require(term, guild_id)
        scope = self._scope(guild_id)
        before = self._concepts.get((concept.key, scope))
        after = replace(concept, guild_id=scope)
        if policy is not None:
            after = replace(after, policy=choice(policy, POLICIES, "policy"))
        if type is not None:
            after = replace(after, type=choice(type, TYPES, "type"))
        if expansion is not None:
            after = replace(after, expansion=clean_term(expansion, "expansion") if expansion.strip() else "")
        if definition is not None:
            after = replace(after, definition=definition.strip())
        if en_variants is not None:
            after = replace(after, en_variants=clean_list(en_variants, "English variant"))
        if exceptions is not None:
            after = replace(after, exceptions=clean_list(exceptions, "exception"))
        check_senses(after)
        if before is not None and files.same(before, after):
            return before
        await self._write([Change("edit", before, after)], by)
        return self._concepts[(concept.key, scope)]

    async def add_exception(self, term: str, phrase: str, *, by: str, guild_id: int | None = None) -> Concept:
        """Say that in `phrase` ("principal reason", "camp counselor") the term's word is not the term."""
        await self.current()
        concept = self._require(term, guild_id)
        phrase = clean_term(phrase, "exception")
        if phrase.casefold() in {e.casefold() for e in concept.exceptions}:
            return concept
        return await self.edit_concept(term, by=by, guild_id=guild_id, exceptions=[*concept.exceptions, phrase])

    async def remove_exception(self, term: str, phrase: str, *, by: str, guild_id: int | None = None) -> Concept:
        await self.current()
        concept = self._require(term, guild_id)
        kept = [e for e in concept.exceptions if e.casefold() != phrase.strip().casefold()]
        if len(kept) == len(concept.exceptions):
            raise UnknownTerm(f"{concept.term!r} has no exception {phrase.strip()!r}")
        return await self.edit_concept(term, by=by, guild_id=guild_id, exceptions=kept)

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
        if current is not None and state is not None and files.same(current, state):
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
        max_bytes: int | None = None,
    ) -> ImportSummary:
        """Import a file (or a directory: concepts.csv first, then one file per language) in one transaction.

        Formats: concepts.csv; our per-language file; two columns (English term, rendering: DeepL or Google
        Cloud unidirectional CSV/TSV); a header of language codes (Google equivalent term sets). Identical
        rows change nothing. Changing an approved entry needs force=True; without it WouldOverwrite says what
        would change. `max_bytes`: the largest file a person may import (the CLI and /glossary import pass
        CONCORD_GLOSSARY_IMPORT_MAX_KB), checked before a file is read.
        """
        await self.current()
        status = choice(status, STATUSES, "status")
        scope = self._scope(guild_id)
        read = await asyncio.to_thread(self._read_files, source, name, max_bytes)
        summary = ImportSummary(files=[f for f, _ in read])
        # Parsed and planned in a worker thread, against the rows loaded now: a big file does not hold up the
        # event loop, and only the changes outlive the planning (60,000 rows are written at once).
        plan = functools.partial(files.plan_files, self.snapshot(), read, language, scope, status, summary)
        del read
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

    def _read_files(
        self, source: str | Path | bytes, name: str | None, max_bytes: int | None
    ) -> list[tuple[str, bytes]]:
        if isinstance(source, bytes):
            _check_size(name or "upload.csv", len(source), max_bytes)
            return [(name or "upload.csv", source)]
        path = Path(source)
        try:
            if path.is_dir():
                found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".tsv"))
                found.sort(key=lambda p: p.stem != "concepts")
                if not found:
                    raise BadFile(f"{path} has no .csv or .tsv files")
            else:
                found = [path]
            for p in found:  # checked before anything is read: a huge file never reaches memory
                _check_size(p.name, p.stat().st_size, max_bytes)
            return [(p.name if p != path else name or path.name, p.read_bytes()) for p in found]
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
        fmt = choice(fmt, FORMATS, "format")
        return files.export_language(self.snapshot(), language, fmt, self._scope(guild_id))

    async def export_concepts(self, guild_id: int | None = None) -> str:
        await self.current()
        return files.export_concepts(self.snapshot(), self._scope(guild_id))

    async def lint(self) -> list[Problem]:
        """Duplicates, conflicts, empty renderings, forbidden == preferred, terms that look like a header."""
        await self.current()
        return files.lint(self.snapshot())


def _applied(
    concepts: dict[tuple[str, int], Concept],
    renderings: dict[tuple[str, str, int], Rendering],
    changes: list[Change],
    by: str,
    at: float,
) -> tuple[dict[tuple[str, int], Concept], dict[tuple[str, str, int], Rendering]]:
    """New dicts: the loaded rows with `changes` written as the store writes them (removals first).

    Each change in the list is replaced by the row as written (stamped with its author and time), so an import
    of 60,000 rows never holds an unstamped and a stamped copy of each at once."""
    concepts, renderings = dict(concepts), dict(renderings)
    for change in changes:
        row = change.before if change.after is None else None
        if isinstance(row, Concept):
            concepts.pop((row.key, row.guild_id), None)
        elif isinstance(row, Rendering):
            renderings.pop((row.concept_key, row.language, row.guild_id), None)
    for index, change in enumerate(changes):
        if change.after is None:
            continue
        after = replace(change.after, updated_by=by, updated_at=at)
        changes[index] = Change(change.action, change.before, after)
        if isinstance(after, Concept):
            concepts[(after.key, after.guild_id)] = after
        else:
            renderings[(after.concept_key, after.language, after.guild_id)] = after
    return concepts, renderings


def freeze_loaded() -> None:
    """Once the glossary is loaded and its indexes built (startup): collect, then move every object alive out of
    the cyclic garbage collector's sight (gc.freeze). 5,000 terms in 12 languages are 130,000 objects that live
    as long as the process; each full collection during a meeting would walk them, about 50 ms with the event
    loop stopped. Frozen objects are still freed by reference counting when a glossary edit replaces them."""
    gc.collect()
    gc.freeze()


def _check_size(name: str, size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise BadFile(
            f"{name} is {_kb(size)} KB; the import limit is {_kb(max_bytes)} KB per file "
            "(CONCORD_GLOSSARY_IMPORT_MAX_KB). A school glossary is a few hundred lines: split the file"
        )


def _kb(size: int) -> int:
    return max(1, round(size / 1024))


def _log_failure(future: asyncio.Future[SourceIndex]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("building a glossary matcher failed", exc_info=future.exception())
