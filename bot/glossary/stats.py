"""How far each language's glossary is reviewed: concepts approved, draft or missing, and the sources cited.

Read-only: computed from the store's glossary rows (`glossary_concepts()`, `glossary_renderings()`), so it
shows the database as the bot uses it, volunteers' changes included. A concept counts once per language:
approved if an approved rendering exists, draft if only other usable ones do, missing if none does (a
`forbidden`-status row alone is no rendering). `doubtful` (a reviewer was unsure) is a kind of draft: the table
shows how many of the drafts are doubtful; the JSON keeps its four keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import languages
from bot.glossary.models import GLOBAL

if TYPE_CHECKING:
    from bot.store import Store


# Approved share each language's seed aims at (issue 12: the languages most California families speak).
TARGETS = {"es": 70, "vi": 50, "zh-TW": 50, "zh-CN": 50, "ko": 50, "ru": 50, "ar": 50, "tl": 50}


@dataclass
class LanguageStats:
    code: str
    approved: int = 0
    draft: int = 0
    missing: int = 0
    doubtful: int = 0  # of the drafts
    sources: list[str] = field(default_factory=list)

    @property
    def concepts(self) -> int:
        return self.approved + self.draft + self.missing


def glossary_languages() -> list[str]:
    """Languages a glossary can target: every registry language but English and those read as another."""
    return [lang.code for lang in languages.LANGUAGES.values() if lang.code != "en" and not lang.translate_as]


async def compute(store: Store, guild_id: int | None = None) -> dict[str, LanguageStats]:
    """Per language, in registry order; `guild_id` gives that server's view (its rows over the shared ones)."""
    scopes = (GLOBAL,) if guild_id in (None, GLOBAL) else (GLOBAL, guild_id)
    concepts = {c.key for c in await store.glossary_concepts() if c.guild_id in scopes}
    # (concept, language) -> rows of the most specific scope that has any
    best: dict[tuple[str, str], tuple[int, list]] = {}
    for r in await store.glossary_renderings():
        if r.guild_id not in scopes or r.concept_key not in concepts:
            continue
        rank = scopes.index(r.guild_id)
        held = best.get((r.concept_key, r.language))
        if held is None or rank > held[0]:
            best[(r.concept_key, r.language)] = (rank, [r])
        elif rank == held[0]:
            held[1].append(r)
    codes = glossary_languages()
    codes += sorted({language for _, language in best} - set(codes))  # rows for languages the registry lost
    stats = {code: LanguageStats(code) for code in codes}
    for code, entry in stats.items():
        cited: set[str] = set()
        for key in concepts:
            rows = [r for r in best.get((key, code), (0, []))[1] if r.status != "forbidden"]
            if any(r.status == "approved" for r in rows):
                entry.approved += 1
            elif rows:
                entry.draft += 1
                entry.doubtful += any(r.status == "doubtful" for r in rows)
            else:
                entry.missing += 1
            cited.update(s.strip() for r in rows for s in r.source.split(";") if s.strip())
        entry.sources = sorted(cited)
    return stats


def as_json(stats: dict[str, LanguageStats]) -> str:
    return json.dumps(
        {
            code: {"approved": s.approved, "draft": s.draft, "missing": s.missing, "sources": s.sources}
            for code, s in stats.items()
        },
        ensure_ascii=False,
    )


def as_table(stats: dict[str, LanguageStats]) -> str:
    header = (
        f"{'language':<10} {'name':<28} {'approved':>8} {'draft':>6} {'doubtful':>8} {'missing':>7} {'approved%':>9}"
        "  sources"
    )
    lines = [header, "-" * len(header)]
    for code, s in stats.items():
        name = languages.LANGUAGES[code].english if code in languages.LANGUAGES else "(not in the registry)"
        share = f"{100 * s.approved / s.concepts:.0f}%" if s.concepts else "-"
        lines.append(
            f"{code:<10} {name[:28]:<28} {s.approved:>8} {s.draft:>6} {s.doubtful:>8} {s.missing:>7} {share:>9}  "
            + (", ".join(s.sources) or "-")
        )
    return "\n".join(lines) + "\n" + targets(stats)


def targets(stats: dict[str, LanguageStats]) -> str:
    """Which review targets are met; for the others, where the missing sources are listed."""
    met, short = [], []
    for code, goal in TARGETS.items():
        s = stats.get(code)
        if s is None or not s.concepts:
            continue
        share = 100 * s.approved / s.concepts
        (met if share >= goal else short).append(f"{code} {share:.0f}% of {goal}%")
    lines = ["", "Targets (approved share): met: " + (", ".join(met) or "none")]
    if short:
        lines.append("  not met: " + ", ".join(short))
        lines.append("  the sources still missing are listed in glossaries/SOURCES.md, 'What is missing'")
    return "\n".join(lines) + "\n"
