"""The glossary itself: matching, the store with its history, import/export, bad input. No translation here."""

from __future__ import annotations

import asyncio

import pytest

from bot import languages
from bot.glossary import (
    BadFile,
    BadLanguage,
    BadTerm,
    DuplicateTerm,
    Glossary,
    UnknownAudit,
    UnknownTerm,
    WouldOverwrite,
)
from bot.store import MIGRATIONS, Store

CONCEPTS = """\
id,term,type,policy,expansion,en_variants,definition,exceptions
iep,IEP,acronym,keep-expand,Individualized Education Program,,Special-education plan
principal,principal,full,translate,,,Head of a school,principal reason/concern/investigator|~loan/bank
assistant-principal,assistant principal,phrase,translate,,vice principal,
accommodations,accommodation,full,translate,,,How a student learns or is tested,hotel accommodation|~hotel/beach
gate,GATE,acronym,keep-expand,Gifted and Talented Education,,,main gate
title-i,Title I,phrase,keep-expand,,Title 1,Federal funds
credit-recovery,credit recovery,phrase,translate,,,
sst,SST,acronym,keep-expand,Student Study Team,,
sbac,Smarter Balanced,phrase,dnt,,SBAC,
policy,policy,full,translate,,,
counselor,counselor,full,translate,,school counselor,,camp counselor
transcript,transcript,full,translate,,,,transcript of the/this meeting
"""
ES = """\
concept,preferred,variants,forbidden,case_sensitive,status,source,notes
iep,Programa de Educación Individualizada,Programa de Educación Individualizado,PEI,no,approved,SERR-es,
principal,director/a,directora|director,,no,approved,,
principal,principal,,,no,forbidden,,MT trap: 'main'
assistant-principal,subdirector/a,,,no,approved,,
accommodations,adaptaciones,,alojamiento|acomodaciones,no,approved,,
gate,Educación para Alumnos Dotados y Talentosos,,puerta,no,draft,,
title-i,Título I,,encabezado I,no,approved,,
sst,Equipo de Estudio del Estudiante,,,no,approved,,
policy,política,,,no,approved,,
counselor,consejero/a escolar,,abogado,no,approved,,
transcript,expediente académico,,transcripción,no,approved,,
"""
ZH = """\
concept,preferred,variants,forbidden,case_sensitive,status,source,notes
iep,個別教育計劃,,,no,approved,SFUSD-zh,
principal,校長,,,no,approved,,
accommodations,合理便利,,住宿,no,approved,,
credit-recovery,學分補修,,信用恢复,no,approved,,
"""
KO = """\
concept,preferred,variants,forbidden,case_sensitive,status,source,notes
principal,교장,,,no,approved,,
"""
AR = """\
concept,preferred,variants,forbidden,case_sensitive,status,source,notes
principal,مدير المدرسة,,,no,approved,,
iep,برنامج التعليم الفردي,,,no,approved,,
"""


def write_seed(directory) -> None:
    directory.mkdir(exist_ok=True)
    for name, text in (("concepts.csv", CONCEPTS), ("es.csv", ES), ("zh-TW.csv", ZH), ("ko.csv", KO),
                       ("ar.csv", AR)):  # fmt: skip
        (directory / name).write_text(text, encoding="utf-8")


@pytest.fixture
async def glossary(store: Store, tmp_path) -> Glossary:
    write_seed(tmp_path / "seed")
    glossary = Glossary(store)
    await glossary.import_file(tmp_path / "seed", by="seed")
    return glossary


def found(glossary: Glossary, text: str, source: str = "en", target: str = "es") -> list[str]:
    return [text[h.start : h.end] for h in glossary.build_matcher(source, target).find(text)]


# --- matching -------------------------------------------------------------------------------------


async def test_longest_term_wins_over_a_shorter_one_inside_it(glossary):
    assert found(glossary, "The assistant principal and the principal met.") == ["assistant principal", "principal"]


async def test_terms_match_only_at_word_boundaries(glossary):
    assert found(glossary, "principals, principality, unprincipled, GATEWAY, IEPX, SSTs") == ["principals", "SSTs"]


async def test_acronyms_are_case_sensitive_words_are_not(glossary):
    assert found(glossary, "Open the gate for GATE students; the Principal and the PRINCIPAL") == [
        "GATE", "Principal", "PRINCIPAL",
    ]  # fmt: skip


async def test_simple_english_plurals_match(glossary):
    text = "two IEPs, many accommodations, new policies, three principals"
    assert found(glossary, text) == ["IEPs", "accommodations", "policies", "principals"]


async def test_multiword_terms_match_across_any_whitespace(glossary):
    text = "Our credit\u00a0recovery and credit   recovery classes"
    assert found(glossary, text, "en", "zh-TW") == ["credit\u00a0recovery", "credit   recovery"]


async def test_english_variants_and_expansions_match(glossary):
    assert found(glossary, "Title 1 funds, the vice principal and an Individualized Education Program") == [
        "Title 1", "vice principal", "Individualized Education Program",
    ]  # fmt: skip


async def test_chinese_terms_match_without_word_boundaries(glossary):
    text = "我的孩子的個別教育計劃和IEP會議,校長說學分補修"
    assert found(glossary, text, "zh-TW", "en") == ["個別教育計劃", "IEP", "校長", "學分補修"]


async def test_korean_terms_match_with_a_particle_attached(glossary):
    assert found(glossary, "교장이 말했습니다. 교장선생님", "ko", "en") == ["교장", "교장"]


async def test_arabic_terms_match_in_right_to_left_text(glossary):
    assert found(glossary, "تحدث مدير المدرسة عن برنامج التعليم الفردي.", "ar", "en") == [
        "مدير المدرسة", "برنامج التعليم الفردي",
    ]  # fmt: skip


async def test_language_to_english_matches_renderings_variants_and_the_english_acronym(glossary):
    text = "La directora habló del Programa de Educación Individualizado y del IEP de mi hijo."
    hits = glossary.build_matcher("es", "en").find(text)
    assert [(text[h.start : h.end], h.target.later) for h in hits] == [
        ("directora", "principal"), ("Programa de Educación Individualizado", "IEP"), ("IEP", "IEP"),
    ]  # fmt: skip


async def test_forbidden_status_rows_are_never_enforced_but_become_forbidden_renderings(glossary):
    row = glossary.rendering("principal", "es")
    assert row.preferred == "director/a" and "principal" in row.forbidden
    assert found(glossary, "el principal", "es", "en") == []


async def test_terms_without_a_rendering_in_a_language_are_left_to_the_engine_unless_kept(glossary):
    # vi has no rows: "principal" (translate) is not protected, "IEP" (keep-expand) keeps its acronym.
    hits = glossary.build_matcher("en", "vi").find("The principal explained the IEP.")
    assert [(h.target.key, h.target.later) for h in hits] == [("iep", "IEP")]


async def test_a_longer_term_a_language_does_not_render_leaves_the_shorter_one_protected(glossary):
    # One English index serves every target: "assistant principal" has no Korean rendering, "principal" has.
    text = "The assistant principal spoke."
    assert found(glossary, text, "en", "es") == ["assistant principal"]
    assert found(glossary, text, "en", "ko") == ["principal"]


# --- matchers: one index per source language, built off the event loop -------------------------------


async def test_one_index_per_source_language_serves_every_target_language(glossary):
    EN, ES, ZH, KO = (languages.get(c) for c in ("en", "es", "zh-TW", "ko"))
    to_es, to_zh, to_ko = [await glossary.matcher(EN, target) for target in (ES, ZH, KO)]
    assert to_es.index is to_zh.index is to_ko.index
    text = "The principal and the credit recovery plan"
    assert [h.target.later for h in to_es.find(text)] == ["director/a"]
    assert [h.target.later for h in to_zh.find(text)] == ["校長", "學分補修"]
    assert [h.target.later for h in to_ko.find(text)] == ["교장"]


async def test_concurrent_first_messages_wait_for_one_shared_build(glossary):
    EN, ES, ZH, AR = (languages.get(c) for c in ("en", "es", "zh-TW", "ar"))
    matchers = await asyncio.gather(*(glossary.matcher(EN, target) for target in (ES, ZH, AR, ES, ZH)))
    assert len({id(m.index) for m in matchers}) == 1
    assert matchers[0].index.version == glossary.version


async def test_warm_builds_every_source_language_and_an_edit_rebuilds_for_the_next_message(glossary):
    await glossary.warm()
    EN, ES = languages.get("en"), languages.get("es")
    for code in ("en", "es", "zh-TW", "ko", "ar"):
        warmed = glossary.build_matcher(code, "en" if code != "en" else "es")
        assert warmed.index is (await glossary.matcher(languages.get(code), EN if code != "en" else ES)).index
    before = (await glossary.matcher(EN, ES)).index
    await glossary.edit("principal", "es", preferred="directora", variants=[], by="carmen")
    after = await glossary.matcher(EN, ES)
    assert after.index is not before and after.version == glossary.version
    assert [h.target.later for h in after.find("Thank you, principal.")] == ["directora"]


async def test_after_every_kind_of_write_the_glossary_equals_a_fresh_load(glossary, store, tmp_path):
    async def same_as_store() -> None:
        fresh = Glossary(store)
        await fresh.load()
        assert (fresh.version, fresh.snapshot().concepts, fresh.snapshot().renderings) == (
            glossary.version, glossary.snapshot().concepts, glossary.snapshot().renderings,
        )  # fmt: skip

    await same_as_store()
    await glossary.add_term("es", "report card", "boleta de calificaciones", by="ana")
    await same_as_store()
    await glossary.edit("principal", "es", preferred="directora", by="ana", guild_id=7)
    await same_as_store()
    await glossary.edit_concept("SST", expansion="Student Success Team", by="ana")
    await same_as_store()
    await glossary.remove("policy", "es", by="ana")
    await same_as_store()
    entry = (await glossary.history("policy", "es"))[0]
    await glossary.revert(entry.id, by="ana")
    await same_as_store()
    await glossary.import_file(b"report card,libreta de notas\n", name="es.csv", by="ana", force=True)
    await same_as_store()


async def test_a_write_by_another_process_in_between_is_not_lost(glossary, store):
    other = Glossary(store)  # the CLI, say
    await other.edit("principal", "es", preferred="jefa de estudios", by="cli")
    await glossary.edit("policy", "es", preferred="normativa", by="ana")  # before our next periodic check
    assert glossary.rendering("principal", "es").preferred == "jefa de estudios"
    assert glossary.rendering("policy", "es").preferred == "normativa"


# --- store, history, revert -----------------------------------------------------------------------


async def test_migration_2_creates_the_glossary_tables(store):
    assert await store.schema_version() == len(MIGRATIONS) >= 2
    async with store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        tables = {row[0] for row in await cur.fetchall()}
    assert {"glossary_concepts", "glossary_renderings", "glossary_audit", "glossary_mentions"} <= tables


async def test_every_change_is_an_audit_row_and_any_version_can_be_restored(glossary):
    start = glossary.version
    await glossary.edit("principal", "es", preferred="director(a)", by="ana#1")
    await glossary.edit("principal", "es", preferred="director o directora", by="luis#2")
    assert glossary.version > start
    history = await glossary.history("principal", "es")
    assert [(h.by, h.after.preferred) for h in history[:2]] == [("luis#2", "director o directora"),
                                                                ("ana#1", "director(a)")]  # fmt: skip
    await glossary.revert(history[0].id, by="admin")  # undo luis's change
    assert glossary.rendering("principal", "es").preferred == "director(a)"
    await glossary.restore(history[0].id, by="admin")  # bring luis's version back
    assert glossary.rendering("principal", "es").preferred == "director o directora"
    seed_row = next(h for h in await glossary.history("principal", "es") if h.by == "seed")
    await glossary.restore(seed_row.id, by="admin")
    assert glossary.rendering("principal", "es").preferred == "director/a"
    newest = (await glossary.history("principal", "es"))[0]
    assert (newest.action, newest.by) == ("restore", "admin")


async def test_reverting_an_added_term_removes_it(glossary):
    await glossary.add_term("es", "field trip", "excursión escolar", by="ana")
    added = (await glossary.history("field trip", "es"))[0]
    await glossary.revert(added.id, by="ana")
    assert glossary.rendering("field-trip", "es") is None


async def test_add_approve_show_and_search(glossary):
    row = await glossary.add_term("vi", "principal", "hiệu trưởng", by="lan", notes="SERR-vi")
    assert row.status == "draft"
    assert (await glossary.approve("principal", "vi", by="lan")).status == "approved"
    view = await glossary.show("Principal", "vi")
    assert view.concept.key == "principal" and view.rendering.preferred == "hiệu trưởng"
    assert [v.concept.key for v in await glossary.search("princip", "vi")][:2] == ["principal",
                                                                                  "assistant-principal"]  # fmt: skip
    assert [v.concept.key for v in await glossary.search("hiệu", "vi")] == ["principal"]


async def test_a_server_can_have_its_own_rendering_without_changing_the_shared_one(glossary):
    await glossary.edit("SST", "es", preferred="Equipo de Éxito Estudiantil", by="district-b", guild_id=42)
    assert glossary.rendering("sst", "es", 42).preferred == "Equipo de Éxito Estudiantil"
    assert glossary.rendering("sst", "es").preferred == "Equipo de Estudio del Estudiante"
    await glossary.edit_concept("SST", expansion="Student Success Team", by="district-b", guild_id=42)
    assert glossary.concepts(42)["sst"].expansion == "Student Success Team"
    assert glossary.concepts()["sst"].expansion == "Student Study Team"


# --- bad input changes nothing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda g: g.add_term("xx", "IEP", "PEI", by="a"), BadLanguage, "Unknown language 'xx'"),
        (lambda g: g.add_term("en", "IEP", "IEP", by="a"), BadLanguage, "English is the glossary's source"),
        (lambda g: g.add_term("es", "  ", "algo", by="a"), BadTerm, "term is empty"),
        (lambda g: g.add_term("es", "x" * 1000, "algo", by="a"), BadTerm, "1000 characters long"),
        (lambda g: g.add_term("es", "tutor", "a|b", by="a"), BadTerm, "'|'"),
        (lambda g: g.add_term("es", "principal", "jefe", by="a"), DuplicateTerm, "already has a Spanish rendering"),
        (lambda g: g.edit("nothing", "es", preferred="x", by="a"), UnknownTerm, "no glossary term 'nothing'"),
        (lambda g: g.edit("principal", "es", forbidden=["director/a"], by="a"), Exception, "both the preferred"),
        (lambda g: g.revert(99999, by="a"), UnknownAudit, "no glossary change #99999"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_changes_nothing(glossary, call, error, message):
    before = glossary.version
    with pytest.raises(error, match=message.replace("|", r"\|").replace("(", r"\(")):
        await call(glossary)
    assert await glossary.store.glossary_version() == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("es.csv", b"concept,rendering\niep,PEI\n", "wrong columns"),
        ("es.csv", "concept,preferred\niep,Programa\n".encode("utf-16"), "not UTF-8"),
        ("es.csv", b"concept,preferred\nnope,algo\n", "unknown concept 'nope'"),
        ("es.csv", b"concept,preferred\nsst,uno\nsst,dos\n", "line 3: duplicate concept 'sst'"),
        ("es.csv", b"concept,preferred,status\nsst,uno,maybe\n", "status must be one of"),
        ("xx.csv", b"tutor,tutor\n", "cannot tell the language"),
        ("glossary.csv", b"a,b,c\n1,2,3\n", "unrecognized columns"),
        ("es.csv", b"", "is empty"),
    ],
)
async def test_bad_files_are_refused_whole(glossary, name, data, message):
    before = glossary.version
    with pytest.raises(BadFile, match=message):
        await glossary.import_file(data, name=name, by="cli")
    assert await glossary.store.glossary_version() == before


async def test_a_file_that_would_overwrite_approved_terms_asks_first(glossary):
    data = b"principal,jefe\ntutor,tutor/a\n"
    with pytest.raises(WouldOverwrite) as caught:
        await glossary.import_file(data, name="deepl.csv", language="es", by="cli")
    assert "principal [es]: preferred: 'director/a' -> 'jefe'" in str(caught.value)
    assert glossary.rendering("principal", "es").preferred == "director/a"
    assert glossary.find_concept("tutor") is None  # the whole file waited
    summary = await glossary.import_file(data, name="deepl.csv", language="es", by="cli", force=True)
    assert (summary.added, summary.updated) == (2, 1)  # tutor: concept + rendering
    assert glossary.rendering("principal", "es").preferred == "jefe"


# --- import / export -----------------------------------------------------------------------------------


async def test_reimporting_the_seed_changes_nothing(glossary, tmp_path):
    before = glossary.version
    summary = await glossary.import_file(tmp_path / "seed", by="seed")
    assert summary.added == summary.updated == 0 and summary.unchanged > 0
    assert glossary.version == before


async def round_trip(full: str, concepts: str, tmp_path) -> tuple[str, str]:
    """The exports of an empty database after importing these ones."""
    copy = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
    copy.mkdir()
    (copy / "concepts.csv").write_text(concepts, encoding="utf-8")
    (copy / "es.csv").write_text(full, encoding="utf-8")
    async with await Store.open(copy / "other.db") as other_store:
        other = Glossary(other_store)
        await other.import_file(copy, by="cli")
        return await other.export("es", "full"), await other.export_concepts()


async def test_full_export_round_trips_into_an_empty_database(glossary, tmp_path):
    full = await glossary.export("es", "full")
    concepts = await glossary.export_concepts()
    assert full.splitlines()[0] == "concept,preferred,variants,forbidden,case_sensitive,status,source,notes"
    assert await round_trip(full, concepts, tmp_path) == (full, concepts)


async def test_two_column_exports_are_what_deepl_and_google_take(glossary):
    csv_text = await glossary.export("es", "csv")
    tsv_text = await glossary.export("es", "tsv")
    assert "principal,director/a" in csv_text.splitlines()
    assert "accommodation\tadaptaciones" in tsv_text.splitlines()
    assert "Individualized Education Program\tPrograma de Educación Individualizada" in tsv_text.splitlines()
    rows = [line.split("\t") for line in tsv_text.splitlines()]
    assert all(len(r) == 2 and r[0] and r[1] for r in rows)  # no header, no empty cells
    assert len({r[0] for r in rows}) == len(rows)  # DeepL refuses duplicate source terms


async def test_two_column_and_google_equivalent_term_files_import(glossary):
    await glossary.import_file(b"report card\tboleta de calificaciones\n", name="deepl.tsv", language="es", by="cli")
    assert glossary.rendering("report-card", "es").preferred == "boleta de calificaciones"
    data = "en,es,zh-TW\ntranscript,expediente académico,成績單\n".encode()
    await glossary.import_file(data, name="google.csv", by="cli")
    assert glossary.rendering("transcript", "zh-TW").preferred == "成績單"


async def test_lint_finds_duplicates_conflicts_and_forbidden_preferred(glossary):
    await glossary.import_file(
        b"concept,preferred,forbidden\npolicy,director/a,\ncredit-recovery,recuperaci\xc3\xb3n,director/a\n",
        name="es.csv", by="cli", force=True,
    )  # fmt: skip
    await glossary.store.db.execute(
        "UPDATE glossary_renderings SET forbidden = preferred WHERE concept_key = 'sst' AND language = 'es'"
    )
    await glossary.store.db.commit()
    await glossary.load()
    kinds = {(p.kind, p.concept) for p in await glossary.lint()}
    assert ("duplicate", "principal") in kinds or ("duplicate", "policy") in kinds
    assert ("conflict", "credit-recovery") in kinds
    assert ("forbidden-preferred", "sst") in kinds
    assert ("missing-expansion", "title-i") in kinds


async def test_seed_loads_only_into_an_empty_glossary(store, tmp_path):
    write_seed(tmp_path / "seed")
    glossary = Glossary(store)
    first = await glossary.seed(tmp_path / "seed")
    assert first is not None and first.added > 0
    assert await glossary.seed(tmp_path / "seed") is None


async def test_concurrent_writes_both_take_effect(glossary):
    await asyncio.gather(
        glossary.edit("principal", "es", preferred="directora", by="ana"),
        glossary.edit("policy", "es", preferred="normativa", by="luis"),
        glossary.add_term("es", "report card", "boleta de calificaciones", by="eva"),
    )
    assert glossary.version == await glossary.store.glossary_version()
    assert glossary.rendering("principal", "es").preferred == "directora"
    assert glossary.rendering("policy", "es").preferred == "normativa"
    assert glossary.rendering("report-card", "es").preferred == "boleta de calificaciones"


# --- senses: a term word used in another sense is not the term ---------------------------------------------


async def test_a_phrase_exception_leaves_the_word_in_that_phrase_alone(glossary):
    text = "The principal said the principal reason, and Principal Concerns, are safety."
    assert found(glossary, text) == ["principal"]  # the first one only
    assert found(glossary, "the principal investigators") == []  # plurals of the phrase's words too


async def test_a_context_exception_looks_at_the_words_nearby_in_the_same_sentence(glossary):
    assert found(glossary, "The hotel offers accommodation near the beach.") == []
    assert found(glossary, "Hotel rooms are booked. The IEP lists each accommodation.") == ["IEP", "accommodation"]
    assert found(glossary, "Pay the principal on the loan; the principal agrees.", "en", "es") == ["principal"]


async def test_exceptions_must_contain_the_term_or_be_context_words(glossary):
    before = glossary.version
    for bad, message in (("reason", "does not contain the term 'principal'"), ("principal", "is the term itself"),
                         ("~", "has no letter or digit")):  # fmt: skip
        with pytest.raises(BadTerm, match=message):
            await glossary.edit_concept("principal", exceptions=[bad], by="ana")
    assert glossary.version == before
    with pytest.raises(BadFile, match=r"concepts\.csv line 2: the exception 'gate code'"):
        await glossary.import_file(b"id,term,exceptions\nx,IEP2,gate code\n", name="concepts.csv", by="ana")


async def test_volunteers_add_and_remove_exceptions(glossary):
    concept = await glossary.add_exception("counselor", "guidance * counselor", by="ana")
    assert "guidance * counselor" in concept.exceptions
    assert found(glossary, "the guidance office counselor") == []
    await glossary.remove_exception("counselor", "guidance * counselor", by="ana")
    assert found(glossary, "the guidance office counselor") == ["counselor"]
    with pytest.raises(UnknownTerm, match="has no exception"):
        await glossary.remove_exception("counselor", "nothing here", by="ana")


# --- files: header rows, formulas, size, optional columns ----------------------------------------------------


async def test_a_header_row_of_language_names_is_read_as_column_names(glossary):
    summary = await glossary.import_file(b"English,Spanish\nfield trip,excursion escolar\n", name="deepl.csv", by="x")
    assert (summary.added, summary.updated) == (2, 0)  # one concept and its rendering: no "English" term
    assert glossary.find_concept("English") is None
    assert glossary.rendering("field-trip", "es").preferred == "excursion escolar"


async def test_a_header_row_of_column_words_is_skipped(glossary):
    data = b"term,translation\nfield trip,excursion escolar\n"
    summary = await glossary.import_file(data, name="deepl.csv", language="es", by="x")
    assert summary.added == 2 and glossary.find_concept("term") is None


async def test_a_first_row_that_is_half_a_header_is_refused_with_a_clear_error(glossary):
    before = glossary.version
    with pytest.raises(BadFile, match="looks like a header"):
        await glossary.import_file("English term,traducción\nfield trip,excursión\n".encode(), name="es.csv", by="x")
    assert glossary.version == before


async def test_lint_flags_a_term_that_is_a_language_name_or_a_header_word(glossary, store):
    await glossary.add_term("es", "Spanish", "inglés", by="x")  # a header row imported long ago
    await glossary.add_term("es", "field trip", "Español", by="x")
    kinds = {(p.kind, p.concept, p.language) for p in await glossary.lint()}
    assert ("header-like", "spanish", "en") in kinds
    assert ("header-like", "field-trip", "es") in kinds


async def test_cells_a_spreadsheet_would_run_are_exported_escaped_and_read_back(glossary, tmp_path):
    await glossary.add_term("es", "=HYPERLINK(x)", "+resultado", by="x", notes="@once -2")
    full = await glossary.export("es", "full")
    assert "'=HYPERLINK(x)" not in full  # the concept id is a slug; the rendering and notes are escaped
    assert "'+resultado" in full and "'@once -2" in full
    pairs = await glossary.export("es", "csv")
    assert "'=HYPERLINK(x),'+resultado" in pairs.splitlines()
    async with await Store.open(tmp_path / "other.db") as other_store:
        other = Glossary(other_store)
        await other.import_file(pairs.encode(), name="es.csv", by="x")
        assert other.rendering(other.find_concept("=HYPERLINK(x)").key, "es").preferred == "+resultado"


async def test_an_import_over_the_size_limit_is_refused_before_it_is_read(store, tmp_path):
    glossary = Glossary(store)
    big = tmp_path / "es.csv"
    big.write_bytes(b"field trip,excursion\n" * 100)
    for source in (big, big.read_bytes()):
        with pytest.raises(BadFile, match=r"is 2 KB; the import limit is 1 KB per file \(CONCORD_GLOSSARY_IMPORT"):
            await glossary.import_file(source, name="es.csv", by="x", max_bytes=1024)
    assert await store.glossary_version() == 0


async def test_optional_columns_are_written_only_when_used_and_round_trip(glossary, tmp_path):
    full = await glossary.export("es", "full")
    assert full.splitlines()[0] == "concept,preferred,variants,forbidden,case_sensitive,status,source,notes"
    await glossary.edit("policy", "es", case="exact", by="x")
    full = await glossary.export("es", "full")
    assert full.splitlines()[0].endswith(",notes,case") and "política,,,no,approved,,,exact" in full
    concepts = await glossary.export_concepts()
    assert concepts.splitlines()[0].endswith(",definition,exceptions")
    assert "principal reason/concern/investigator|~loan/bank" in concepts
    assert await round_trip(full, concepts, tmp_path) == (full, concepts)


async def test_the_glossary_migration_adds_senses_case_and_sessions(store):
    async with store.db.execute("SELECT exceptions FROM glossary_concepts LIMIT 0") as cur:
        assert cur.description[0][0] == "exceptions"
    async with store.db.execute("SELECT case_policy FROM glossary_renderings LIMIT 0") as cur:
        assert cur.description[0][0] == "case_policy"
    assert await store.glossary_session(1) is None
    await store.save_glossary_session(1, 10.0, 20.0)
    assert await store.glossary_session(1) == (10.0, 20.0)
