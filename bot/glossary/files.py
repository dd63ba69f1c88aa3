"""Glossary files: reading every supported format, planning an import, exporting, and lint.

Formats: concepts.csv; our per-language file (es.csv); two columns (English term, rendering: DeepL or Google
Cloud unidirectional CSV/TSV), with or without a header row; a header of language codes or names (Google
equivalent term sets). Cells a spreadsheet would run as a formula (=, +, -, @) are exported with a leading
apostrophe, which the importer takes off again.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot import languages
from bot.glossary.matching import check_senses, resolve_target
from bot.glossary.models import (
    CASES,
    CONCEPT_COLUMNS,
    GLOBAL,
    OPTIONAL_COLUMNS,
    POLICIES,
    RENDERING_COLUMNS,
    STATUSES,
    TYPES,
    BadFile,
    BadLanguage,
    BadTerm,
    Change,
    Concept,
    GlossaryError,
    ImportSummary,
    Problem,
    Rendering,
    Snapshot,
    choice,
    clean_list,
    clean_term,
    is_acronym,
    language_names,
    slug,
    target_language,
)

# Words a header row of a two-column file is made of ("English term", "Translation", "source", "es"...).
HEADER_WORDS = frozenset(
    "term terms word words phrase phrases source target translation translations rendering renderings "
    "preferred original text language glossary entry entries english definition meaning in".split()
)
_FORMULA = "=+-@\t\r"  # a cell starting with one of these is run by spreadsheets


# --- reading ----------------------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again") from None


def _cell(value: str) -> str:
    value = value.strip()
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA and len(value) > 1 else value


def _rows(text: str, name: str) -> list[list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if name.lower().endswith(".tsv") or ("\t" in first and "," not in first) else ","
    try:
        rows = [[_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:
        raise BadFile(f"{name}: {exc}") from None
    rows = [r for r in rows if any(r) and not r[0].startswith("#")]
    if not rows:
        raise BadFile(f"{name} is empty")
    return rows


@dataclass
class Parsed:
    concepts: list[tuple[int, Concept]] = field(default_factory=list)  # (line, concept)
    renderings: list[tuple[int, Rendering]] = field(default_factory=list)
    pairs: list[tuple[int, str, str, str]] = field(default_factory=list)  # (line, language, english, target)


def _table(rows: list[list[str]], name: str, known: Sequence[str], required: Sequence[str]) -> list[dict[str, str]]:
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in known]
    absent = [h for h in required if h not in header]
    if unknown or absent or len(set(header)) != len(header):
        columns = ",".join(c for c in known if c not in OPTIONAL_COLUMNS)
        optional = ",".join(c for c in known if c in OPTIONAL_COLUMNS)
        raise BadFile(
            f"{name}: wrong columns {','.join(rows[0])!r}; expected {columns} ({', '.join(required)} required; "
            f"optional: {optional})"
        )
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise BadFile(f"{name} line {number}: {len(row)} cells for {len(header)} columns")
        out.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(header)})
    return out


def _language_codes(header: list[str]) -> list[str] | None:
    """Language codes of a header naming a language per column ("en,es", "English,Spanish"), or None."""
    names = language_names()
    codes = []
    for cell in header:
        if cell.lower() in ("pos", "description"):
            continue
        code = names.get(cell.strip().casefold())
        if code is None:
            return None
        codes.append(code)
    return codes if "en" in codes and len(codes) >= 2 else None


def _header_like(cell: str) -> bool:
    """A cell made only of header words or language names ("English term", "Spanish", "translation")."""
    names = language_names()
    folded = cell.strip().casefold()
    if not folded or folded in names:
        return bool(folded)
    words = re.findall(r"\w+", folded)
    return bool(words) and all(w in HEADER_WORDS or w in names for w in words)  # "term 1" is a term


def parse_file(data: bytes, name: str, *, language: str | None = None, guild_id: int = GLOBAL) -> Parsed:
    """Read one file in any supported format. Raises BadFile naming the file and line."""
    rows = _rows(_decode(data, name), name)
    header = [h.strip().lower() for h in rows[0]]
    parsed = Parsed()
    try:
        if "id" in header or ("term" in header and "concept" not in header and len(header) > 2):
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
            first = 1
            if all(_header_like(cell) for cell in rows[0]):
                first = 2  # a header row ("term,translation"): column names, not a term
            elif any(_header_like(cell) for cell in rows[0]):
                raise BadFile(
                    f"{name}: the first row {','.join(rows[0])!r} looks like a header, but not one this importer "
                    "knows; delete it, or name the columns with language codes (en,es) or as term,translation"
                )
            for number, row in enumerate(rows[first - 1 :], start=first):
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


def new_concept(
    key: str, term: str, *, kind: str | None = None, policy: str | None = None, guild_id: int = GLOBAL, **more
) -> Concept:
    """A checked concept: type and policy defaulted from the term, exceptions that contain the term."""
    term = clean_term(term)
    kind = choice(kind or ("acronym" if is_acronym(term) else "phrase" if " " in term else "full"), TYPES, "type")
    policy = choice(policy or ("keep-expand" if kind == "acronym" else "translate"), POLICIES, "policy")
    concept = Concept(key=clean_term(key, "concept id"), term=term, type=kind, policy=policy, guild_id=guild_id, **more)
    check_senses(concept)
    return concept


def _concept_from(row: dict[str, str], guild_id: int, where: str) -> Concept:
    try:
        return new_concept(
            row["id"],
            row["term"],
            kind=row.get("type") or None,
            policy=row.get("policy") or "translate",
            guild_id=guild_id,
            expansion=clean_term(row["expansion"], "expansion") if row.get("expansion") else "",
            en_variants=clean_list(row.get("en_variants", ""), "English variant"),
            definition=(row.get("definition") or "").strip(),
            exceptions=clean_list(row.get("exceptions", ""), "exception"),
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
            status=choice(row.get("status") or "draft", STATUSES, "status"),
            source=(row.get("source") or "").strip(),
            notes=(row.get("notes") or "").strip(),
            case=choice(row.get("case") or "auto", CASES, "case"),
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


# --- planning an import -------------------------------------------------------------------------------------


def plan_files(
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
            acronym = is_acronym(english)
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
    if same(before, after):
        summary.unchanged += 1
        return []
    summary.updated += 1
    if approved:
        summary.overwrites.append(_describe(before, after))
    return [Change("import", before, after)]


def check_rendering(r: Rendering) -> None:
    banned = {f.casefold() for f in r.forbidden}
    if r.status != "forbidden" and r.preferred.casefold() in banned:
        raise GlossaryError(f"{r.preferred!r} cannot be both the preferred and a forbidden rendering")


def _comparable(row: Concept | Rendering) -> Concept | Rendering:
    return replace(row, updated_by="", updated_at=0.0)


def same(a: Concept | Rendering, b: Concept | Rendering) -> bool:
    return _comparable(a) == _comparable(b)


def _describe(before: Concept | Rendering, after: Concept | Rendering) -> str:
    if isinstance(before, Rendering) and isinstance(after, Rendering):
        what = f"{before.concept_key} [{before.language}]"
        fields = ("preferred", "variants", "forbidden", "case_sensitive", "status", "source", "notes", "case")
    else:
        what = f"concept {before.key}"  # type: ignore[union-attr]
        fields = ("term", "type", "policy", "expansion", "en_variants", "definition", "exceptions")
    diffs = [
        f"{f}: {getattr(before, f)!r} -> {getattr(after, f)!r}"
        for f in fields
        if getattr(before, f) != getattr(after, f)
    ]
    return f"{what}: {'; '.join(diffs)}"


# --- writing ------------------------------------------------------------------------------------------------


def to_csv(rows: Iterable[Sequence[str]], delimiter: str = ",") -> str:
    """CSV text; a cell a spreadsheet would run as a formula gets a leading apostrophe (read back by `_cell`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerows([f"'{cell}" if cell[:1] in _FORMULA and cell else cell for cell in row] for row in rows)
    return buffer.getvalue()


def _columns(all_columns: Sequence[str], used: set[str]) -> list[str]:
    """The columns to write: optional ones only when some row uses them (files stay as volunteers know them)."""
    return [c for c in all_columns if c not in OPTIONAL_COLUMNS or c in used]


def export_language(snap: Snapshot, language: str, fmt: str, scope: int) -> str:
    """csv / tsv: two columns (English term, rendering), no header, as DeepL and Google Cloud glossaries take.
    full: our per-language format with status and notes (re-importable)."""
    concepts = snap.effective(scope)
    if fmt == "full":
        found = [r for key in sorted(concepts) if (r := snap.rendering(key, language, scope)) is not None]
        columns = _columns(RENDERING_COLUMNS, {"case"} if any(r.case != "auto" for r in found) else set())
        rows = [columns]
        for r in found:
            cells = {
                "concept": r.concept_key, "preferred": r.preferred, "variants": "|".join(r.variants),
                "forbidden": "|".join(r.forbidden), "case_sensitive": "yes" if r.case_sensitive else "no",
                "status": r.status, "source": r.source, "notes": r.notes, "case": r.case,
            }  # fmt: skip
            rows.append([cells[c] for c in columns])
        return to_csv(rows)
    pairs: dict[str, str] = {}
    for key in sorted(concepts):
        c = concepts[key]
        target = resolve_target(c, snap.rendering(key, language, scope), language)
        if target is None:
            continue
        for english in (c.term, *c.en_variants):
            pairs.setdefault(english, target.later)
        if c.expansion and target.expansion:
            pairs.setdefault(c.expansion, target.expansion)
    return to_csv([[source, target] for source, target in pairs.items()], "\t" if fmt == "tsv" else ",")


def export_concepts(snap: Snapshot, scope: int) -> str:
    concepts = sorted(snap.effective(scope).items())
    columns = _columns(CONCEPT_COLUMNS, {"exceptions"} if any(c.exceptions for _, c in concepts) else set())
    rows = [columns]
    for key, c in concepts:
        cells = {
            "id": key, "term": c.term, "type": c.type, "policy": c.policy, "expansion": c.expansion,
            "en_variants": "|".join(c.en_variants), "definition": c.definition, "exceptions": "|".join(c.exceptions),
        }  # fmt: skip
        rows.append([cells[col] for col in columns])
    return to_csv(rows)


# --- lint ---------------------------------------------------------------------------------------------------


def lint(snap: Snapshot) -> list[Problem]:
    """Duplicates, conflicts, empty renderings, forbidden renderings equal to preferred ones, and terms or
    renderings that are a language's name or a header word (a header row imported as a term)."""
    problems: list[Problem] = []
    scopes = sorted({g for _, g in snap.concepts} | {GLOBAL})
    names = language_names()
    for scope in scopes:
        concepts = snap.effective(scope)
        english: dict[str, str] = {}
        for key, c in sorted(concepts.items()):
            for name in (c.term, *c.en_variants):
                other = english.setdefault(name.casefold(), key)
                if other != key:
                    problems.append(Problem("duplicate", key, "en", f"English {name!r} also belongs to {other!r}"))
                if name.casefold() in names or name.casefold() in HEADER_WORDS:
                    problems.append(Problem("header-like", key, "en", _header_message(name)))
            if c.policy == "keep-expand" and not c.expansion:
                problems.append(
                    Problem("missing-expansion", key, "en", f"{c.term!r} is keep-expand but has no expansion")
                )
        for lang in sorted({lang for (_, lang, g) in snap.renderings if g in (GLOBAL, scope)}):
            problems += _lint_language(snap, concepts, lang, scope, names)
    unique: dict[tuple[str, str, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.kind, p.concept, p.message), p)
    return list(unique.values())


def _header_message(name: str) -> str:
    return f"{name!r} is a language's name or a column header: a header row imported as a term?"


def _lint_language(
    snap: Snapshot, concepts: dict[str, Concept], lang: str, scope: int, names: dict[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    preferred: dict[str, str] = {}
    forbidden: dict[str, str] = {}
    rows = {k: snap.rendering(k, lang, scope) for k in sorted(concepts)}
    for key, r in rows.items():
        if r is None:
            continue
        if not r.preferred.strip():
            problems.append(Problem("empty", key, lang, "the preferred rendering is empty"))
            continue
        banned = {f.casefold() for f in r.forbidden}
        for name in (r.preferred, *r.variants):
            if name.casefold() in banned:
                problems.append(Problem("forbidden-preferred", key, lang, f"{name!r} is both admitted and forbidden"))
        if r.status == "forbidden":
            continue
        if r.preferred.casefold() in names and r.preferred.casefold() != concepts[key].term.casefold():
            problems.append(Problem("header-like", key, lang, _header_message(r.preferred)))
        for name in (r.preferred, *r.variants):
            other = preferred.setdefault(name.casefold(), key)
            if other != key:
                problems.append(Problem("duplicate", key, lang, f"{name!r} also renders {other!r}"))
        for name in r.forbidden:
            forbidden.setdefault(name.casefold(), key)
    for name, key in forbidden.items():
        if name in preferred and preferred[name] != key:
            other = preferred[name]
            problems.append(
                Problem("conflict", key, lang, f"{name!r} is forbidden here but is the rendering of {other!r}")
            )
    return problems
