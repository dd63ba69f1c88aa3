"""The community's glossary: school vocabulary translated the way each language community agreed.

No free translation backend enforces a glossary, so Concord does it around every backend, touching only the
places of terms (enforce.py says how). The package, by job:

    models    values, errors, input checks (the store imports this module only)
    matching  one index per source language; what a hit becomes per target; senses (exceptions)
    enforce   one message: the plan, placeholders, alignment, repair, fitting a rendering to its sentence
    files     import (CSV/TSV formats, header rows), export, lint
    service   Glossary: loading, matchers, plans, first mentions per meeting session, writes and history
    stats     per language: concepts approved, draft or missing, and the sources cited
    review    the volunteers' review queue: drafts one at a time, most important first, and progress

Nothing here imports discord, the store or a translation backend; the translator does the calls.
"""

from bot.glossary.enforce import STRATEGIES, EngineFailed, Finished, TermPlan, TermUse
from bot.glossary.files import parse_file
from bot.glossary.matching import Form, Hit, Matcher, SourceIndex, Target, Targets, resolve_target, source_forms
from bot.glossary.models import (
    CASES,
    CONCEPT_COLUMNS,
    ENFORCED,
    FORMATS,
    GLOBAL,
    MAX_TERM,
    POLICIES,
    RENDERING_COLUMNS,
    STATUSES,
    TYPES,
    AppliedTerm,
    AuditEntry,
    BadFile,
    BadLanguage,
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
    Stale,
    TermContext,
    TermView,
    UnknownAudit,
    UnknownTerm,
    WouldOverwrite,
    clean_list,
    clean_term,
    slug,
    target_language,
)
from bot.glossary.service import SESSION_GAP, Glossary, GlossaryStore, freeze_loaded

__all__ = [
    "CASES",
    "CONCEPT_COLUMNS",
    "ENFORCED",
    "FORMATS",
    "GLOBAL",
    "MAX_TERM",
    "POLICIES",
    "RENDERING_COLUMNS",
    "SESSION_GAP",
    "STATUSES",
    "STRATEGIES",
    "TYPES",
    "AppliedTerm",
    "AuditEntry",
    "BadFile",
    "BadLanguage",
    "BadTerm",
    "Change",
    "Concept",
    "DuplicateTerm",
    "EngineFailed",
    "Finished",
    "Form",
    "Glossary",
    "GlossaryError",
    "GlossaryStats",
    "GlossaryStore",
    "Hit",
    "ImportSummary",
    "Matcher",
    "Problem",
    "Rendering",
    "Snapshot",
    "SourceIndex",
    "Stale",
    "Target",
    "Targets",
    "TermContext",
    "TermPlan",
    "TermUse",
    "TermView",
    "UnknownAudit",
    "UnknownTerm",
    "WouldOverwrite",
    "clean_list",
    "clean_term",
    "freeze_loaded",
    "parse_file",
    "resolve_target",
    "slug",
    "source_forms",
    "target_language",
]
