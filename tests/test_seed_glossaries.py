"""The shipped seed glossaries, loaded as on first run, against a backend that falls into the known MT traps."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from bot import languages
from bot.config import Settings
from bot.glossary import Glossary, TermContext
from tests.test_cli import cli
from tests.test_glossary import write_seed

SEED = Settings(_env_file=None).glossary_dir
TRAPS = {
    "es": {"principal": "principal", "IEP": "PEI", "accommodations": "alojamiento", "GATE": "puerta"},
    "zt": {"credit recovery": "信用恢復", "GATE": "大門"},
    "vi": {"Title I": "Tiêu đề I"},
}


@pytest.fixture
async def seeded(store, translator):
    glossary = Glossary(store)
    summary = await glossary.seed(SEED)
    assert summary is not None
    translator.glossary = glossary
    return glossary


def seed_rows() -> dict[str, list[dict[str, str]]]:
    return {
        path.stem: list(csv.DictReader(path.open(encoding="utf-8")))
        for path in sorted(SEED.glob("*.csv"))
        if path.stem != "concepts"
    }


async def test_seed_loads_every_language_and_lints_clean(seeded):
    assert await seeded.lint() == []
    for code, rows in seed_rows().items():
        stored = csv.DictReader(io.StringIO(await seeded.export(code, "full")))
        # every row of the file reached the database as written
        assert {r["concept"]: (r["preferred"], r["status"]) for r in stored} == {
            r["concept"]: (r["preferred"], r["status"]) for r in rows
        }, code
    for code in ("es", "vi", "zh-TW", "zh-CN", "ko", "tl", "ar", "ru", "hmn", "km", "sm", "pa"):
        assert len(seed_rows()[code]) == len(list(csv.DictReader((SEED / "concepts.csv").open(encoding="utf-8"))))


def test_every_seed_file_is_a_registry_language_that_machine_translation_serves():
    files = seed_rows()
    assert {"so", "uk", "fa", "prs", "ps", "ht"} <= set(files)
    for code in files:
        lang = languages.get(code)
        assert lang.code == code and code != "en", code
        assert lang.backends, f"{code} is interpreter-only: a glossary for it would never be used"


def test_every_approved_seed_row_names_a_source_listed_in_sources_md():
    listed = set(re.findall(r"^- \*\*(.+?)\*\*", (SEED / "SOURCES.md").read_text(encoding="utf-8"), re.MULTILINE))
    for code, rows in seed_rows().items():
        for row in rows:
            keys = [k.strip() for k in row["source"].split(";") if k.strip()]
            if row["status"] == "approved":
                assert keys, f"{code}/{row['concept']} is approved without a source"
            assert set(keys) <= listed, f"{code}/{row['concept']}: {set(keys) - listed} missing from SOURCES.md"
            if row["status"] == "draft":
                assert row["notes"], f"{code}/{row['concept']} is a draft without a note saying why"


async def test_seeding_twice_changes_nothing(seeded):
    assert await seeded.seed(SEED) is None


@pytest.mark.parametrize(
    ("text", "target", "must", "must_not"),
    [
        ("Our principal will explain the IEP.", "es", ["director/a", "Programa de Educación Individualizada"],
         ["PEI", "principal"]),
        ("The IEP lists the accommodations for the GATE test.", "es", ["adaptaciones"], ["alojamiento", "puerta"]),
        ("Credit recovery is offered in summer.", "zh-TW", ["學分補修"], ["信用恢復"]),
        ("Title I funds pay for tutors.", "vi", ["Title I"], ["Tiêu đề I"]),
    ],
)  # fmt: skip
async def test_seed_glossary_overrides_the_backends_traps(seeded, translator, libre, text, target, must, must_not):
    libre.fake.dictionary = TRAPS
    result = await translator.translate(
        text, languages.get("en"), languages.get(target), context=TermContext(guild_id=None, meeting_id=1)
    )
    assert result.ok
    for word in must:
        assert word in result.text
    for word in must_not:
        assert word not in result.text


@pytest.mark.parametrize(
    "text",
    [
        "The principal reason is safety.",
        "Our principal concern is the bus schedule.",
        "My camp counselor taught me to swim.",
        "The hotel accommodation for the trip is booked.",
        "Please close the main gate behind you.",
        "We need a transcript of this meeting.",
    ],
)
async def test_the_shipped_senses_leave_other_meanings_to_the_engine(seeded, translator, libre, text):
    libre.fake.dictionary = {"es": {**TRAPS["es"], "counselor": "abogado", "transcript": "transcripción"}}
    result = await translator.translate(text, languages.get("en"), languages.get("es"))
    assert result.text == libre.fake.render(text, "en", "es") and result.terms == ()


# --- glossary stats: what volunteers still have to review --------------------------------------------


def stats(tmp_path, *args: str) -> dict:
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "none")}
    result = cli("glossary", "stats", "--format", "json", *args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_stats_count_approved_draft_and_missing_concepts_from_the_database(tmp_path):
    write_seed(tmp_path / "seed")
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "none")}
    assert cli("glossary", "import", "seed", cwd=tmp_path, env=env).returncode == 0
    before = stats(tmp_path)
    # es: 9 approved (a forbidden-status row is no rendering), GATE a draft, credit recovery and SBAC missing
    assert before["es"] == {"approved": 9, "draft": 1, "missing": 2, "sources": ["SERR-es"]}
    assert before["zh-TW"] == {"approved": 4, "draft": 0, "missing": 8, "sources": ["SFUSD-zh"]}
    assert before["vi"] == {"approved": 0, "draft": 0, "missing": 12, "sources": []}
    assert all(set(entry) == {"approved", "draft", "missing", "sources"} for entry in before.values())

    (tmp_path / "es-more.csv").write_text("credit recovery,recuperación de créditos\n", encoding="utf-8")
    assert cli("glossary", "import", "es-more.csv", "--language", "es", cwd=tmp_path, env=env).returncode == 0
    (tmp_path / "gate.csv").write_text("GATE,Programa GATE\n", encoding="utf-8")
    server = ("--guild", "42")
    imported = cli("glossary", "import", "gate.csv", "--language", "es", "--status", "approved", *server,
                   cwd=tmp_path, env=env)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    after = stats(tmp_path)
    assert (after["es"]["approved"], after["es"]["draft"], after["es"]["missing"]) == (9, 2, 1)
    one_server = stats(tmp_path, *server)  # that server approved its own GATE rendering
    assert (one_server["es"]["approved"], one_server["es"]["draft"], one_server["es"]["missing"]) == (10, 1, 1)


def test_stats_table_shows_one_line_per_language_with_its_sources(tmp_path):
    write_seed(tmp_path / "seed")
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "seed")}
    result = cli("glossary", "stats", cwd=tmp_path, env=env)  # seeds on first use, like the other commands
    assert result.returncode == 0, result.stderr
    table, footer = result.stdout.split("\n\n")
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:]}
    assert rows["es"][-5:-1] == ["1", "0", "2", "75%"] and rows["es"][-1] == "SERR-es"  # draft, doubtful, missing
    assert rows["ko"][-6:] == ["1", "0", "0", "11", "8%", "-"]
    # the review targets: es 9 of 12 approved (75%) meets 70%; zh-TW 4 of 12 misses 50%, and says where to look
    assert "met: es 75% of 70%" in footer
    assert "zh-TW 33% of 50%" in footer.split("not met:")[1] and "glossaries/SOURCES.md" in footer
