"""The shipped seed glossaries, loaded as on first run, against a backend that falls into the known MT traps."""

from __future__ import annotations

import pytest

from bot import languages
from bot.config import Settings
from bot.glossary import Glossary, TermContext

SEED = Settings(_env_file=None).glossary_dir
TRAPS = {
    "es": {"principal": "principal", "IEP": "PEI", "accommodations": "alojamiento", "GATE": "puerta"},
    "zh-Hant": {"credit recovery": "信用恢復", "GATE": "大門"},
    "vi": {"Title I": "Tiêu đề I"},
}


@pytest.fixture
async def seeded(store, translator):
    glossary = Glossary(store)
    summary = await glossary.seed(SEED)
    assert summary is not None
    translator.glossary = glossary
    return glossary


async def test_seed_loads_every_language_and_lints_clean(seeded):
    assert await seeded.lint() == []
    for code in ("es", "vi", "zh-TW", "zh-CN", "ko", "tl", "ar", "ru", "hmn", "km", "sm", "pa"):
        exported = await seeded.export(code, "csv")
        assert len({line.split(",")[0] for line in exported.splitlines()}) >= 80, code


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
