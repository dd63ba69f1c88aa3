"""The volunteers' review queue: one language's drafts, one at a time, most important first.

- In the queue: concepts whose rendering in this server's view (its own row over the shared one) is `draft`,
  then those marked `doubtful` (a volunteer was unsure: still enforced like a draft, but behind every draft).
- Reviewed = `approved` or `doubtful`, counted over the concepts that have a rendering in the language, in this
  server's view. A skip changes nothing and counts for nothing.
- Order: special education and parents' rights first (a wrong IEP, FAPE or due-process term misleads a family
  about its legal rights), then English-learner programs, then the rest by English term (`FIRST`).
- Every action is `Glossary.edit(..., action="review", seen=version shown)`: one audited write, refused with
  Stale, and nothing written, when someone changed the rendering after it was shown.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.glossary.models import GLOBAL, Concept, Rendering, Snapshot, Stale, target_language

if TYPE_CHECKING:
    from bot.glossary.service import Glossary

WAITING = ("draft", "doubtful")
REVIEWED = ("approved", "doubtful")

# Seed concept ids, most important first; concepts not listed follow, by English term.
FIRST = (
    # special education and parents' rights
    "iep", "iep-meeting", "special-education", "504-plan", "section-504", "fape", "lre", "procedural-safeguards",
    "pwn", "due-process-hearing", "assessment-plan", "accommodations", "modifications", "related-services",
    "annual-iep", "triennial-iep", "idea", "ucp", "sst", "fba", "bip", "esy", "rsp", "sdc", "slp",
    "school-psychologist", "selpa", "ifsp", "general-education", "mtss", "rti", "pbis",
    # English learners
    "el", "elpac", "reclassification", "rfep", "eld", "elac", "delac", "home-language-survey", "ltel", "newcomer",
    "ifep", "initial-elpac", "summative-elpac", "designated-eld", "integrated-eld", "at-risk-ltel",
    "seal-of-biliteracy",
)  # fmt: skip
_RANK = {key: n for n, key in enumerate(FIRST)}


@dataclass(frozen=True, slots=True)
class Item:
    """A draft as shown to a reviewer; `version` is the glossary version it was read at."""

    concept: Concept
    rendering: Rendering
    language: str
    version: int

    @property
    def example(self) -> str | None:
        """A sentence of the definition that uses the term (never invented); None when there is none."""
        return example(self.concept)


@dataclass(frozen=True, slots=True)
class Progress:
    reviewed: int  # approved or doubtful
    total: int  # concepts with a rendering in the language
    drafts: int
    doubtful: int

    @property
    def waiting(self) -> int:
        return self.drafts + self.doubtful


def example(concept: Concept) -> str | None:
    names = [n for n in (concept.term, concept.expansion, *concept.en_variants) if n]
    for sentence in re.split(r"(?<=[.!?])\s+", concept.definition.strip()):
        if any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", sentence, re.IGNORECASE) for n in names):
            return sentence
    return None


def _order(concept: Concept, rendering: Rendering) -> tuple[bool, int, str]:
    return (rendering.status == "doubtful", _RANK.get(concept.key, len(FIRST)), concept.term.casefold())


class ReviewQueue:
    """Reads the Glossary's loaded rows; writes through `Glossary.edit` (audited, one transaction)."""

    def __init__(self, glossary: Glossary) -> None:
        self.glossary = glossary

    async def _rows(self, language: str, guild_id: int | None) -> tuple[Snapshot, list[tuple[Concept, Rendering]]]:
        await self.glossary.current()
        snap = self.glossary.snapshot()
        scope = GLOBAL if guild_id is None else int(guild_id)
        rows = []
        for key, concept in snap.effective(scope).items():
            r = snap.rendering(key, language, scope)
            if r is not None and r.status != "forbidden":
                rows.append((concept, r))
        return snap, rows

    async def next(self, language: str, guild_id: int | None, skip: Collection[str] = ()) -> Item | None:
        """The most important draft not in `skip` (concept ids); doubtful ones only when no draft is left."""
        language = target_language(language)
        snap, rows = await self._rows(language, guild_id)
        waiting = [(c, r) for c, r in rows if r.status in WAITING and c.key not in skip]
        if not waiting:
            return None
        concept, rendering = min(waiting, key=lambda row: _order(*row))
        return Item(concept, rendering, language, snap.version)

    async def progress(self, language: str, guild_id: int | None) -> Progress:
        _, rows = await self._rows(target_language(language), guild_id)
        statuses = [r.status for _, r in rows]
        return Progress(
            reviewed=sum(s in REVIEWED for s in statuses),
            total=len(statuses),
            drafts=statuses.count("draft"),
            doubtful=statuses.count("doubtful"),
        )

    async def languages(self, guild_id: int | None) -> dict[str, int]:
        """Languages with renderings to review in this server's view -> how many wait."""
        await self.glossary.current()
        snap = self.glossary.snapshot()
        scope = GLOBAL if guild_id is None else int(guild_id)
        concepts = snap.effective(scope)
        waiting: dict[str, int] = {}
        for key, language, g in snap.renderings:
            if key not in concepts or g not in (GLOBAL, scope):
                continue
            r = snap.rendering(key, language, scope)
            if r is not None and r.guild_id == g and r.status in WAITING:
                waiting[language] = waiting.get(language, 0) + 1
        return waiting

    # --- actions: each one audited write, Stale when the draft changed after it was shown --------------------

    async def approve(self, item: Item, *, by: str, guild_id: int | None) -> Rendering:
        return await self._edit(item, by, guild_id, status="approved")

    async def doubt(self, item: Item, *, by: str, guild_id: int | None) -> Rendering:
        return await self._edit(item, by, guild_id, status="doubtful")

    async def correct(
        self, item: Item, *, by: str, guild_id: int | None, preferred: str, variants: str, forbidden: str, notes: str
    ) -> Rendering:
        """The reviewer's own rendering: saved and approved."""
        return await self._edit(
            item, by, guild_id, status="approved", preferred=preferred, variants=variants, forbidden=forbidden,
            notes=notes,
        )  # fmt: skip

    async def _edit(self, item: Item, by: str, guild_id: int | None, **fields: str) -> Rendering:
        try:
            return await self.glossary.edit(
                item.concept.key, item.language, by=by, guild_id=guild_id, action="review", seen=item.version, **fields
            )
        except Stale:
            await self.glossary.load()  # the change may come from another process: show the next draft as it is
            raise
