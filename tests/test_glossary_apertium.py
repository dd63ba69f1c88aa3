"""The shipped glossary through a real MT engine nobody here designed: Apertium (en->es) behind the
LibreTranslate-compatible test server. Skipped when Apertium is not installed (`.ci/run` installs it)."""

from __future__ import annotations

import pytest

from bot import languages
from bot.config import Settings
from bot.glossary import Glossary
from bot.testing import apertium
from bot.translation import build_translator

pytestmark = pytest.mark.skipif(not apertium.available(), reason="apt-get install apertium apertium-eng-spa")

EN, ES = languages.get("en"), languages.get("es")


@pytest.fixture
async def engine(libre, translator, store):
    libre.fake.engine, libre.fake.tag = apertium.Apertium(), False
    glossary = Glossary(store)
    await glossary.seed(Settings(_env_file=None).glossary_dir)
    translator.glossary = glossary
    return libre.fake


def es(translator, key: str) -> str:
    """The seed's Spanish rendering of a concept (volunteers may change it; the tests follow)."""
    return translator.glossary.rendering(key, "es").preferred


def raw(engine, text: str) -> str:
    return engine.render(text, "en", "es")


async def test_terms_are_right_and_the_engines_other_words_are_kept(engine, translator):
    text = "The principal will explain the IEP and the accommodations."
    assert raw(engine, text) == "El principal explicará el IEP y los alojamientos."
    result = await translator.translate(text, EN, ES)
    iep_first = f"{es(translator, 'iep')} (IEP, por sus siglas en inglés)"
    principal, accommodations = es(translator, "principal"), es(translator, "accommodations")
    assert result.text == f"El {principal} explicará el {iep_first} y los {accommodations}."


@pytest.mark.parametrize(
    "text",
    [
        "The principal reason is safety.",
        "Our principal goal this year is reading.",
        "The main gate opens at seven.",
        "The hotel offers accommodation near the beach.",
        "My camp counselor taught me to swim.",
        "I saw a news report about the storm.",
        "You can pay with a credit card at the front office.",
        "Write to me at ana.garcia@school.org or visit www.school.org/families.",
        "That is a great IDEA!",
        "PLEASE CAST YOUR VOTE TODAY.",
        "The transcript of the podcast is online.",
    ],
)
async def test_sentences_without_a_term_are_exactly_the_engines(engine, translator, text):
    result = await translator.translate(text, EN, ES)
    assert result.text == raw(engine, text) and result.terms == ()


async def test_the_program_and_the_gate_in_one_sentence(engine, translator):
    text = "Ask about GATE; enter through the main gate."
    result = await translator.translate(text, EN, ES)
    assert raw(engine, text) == "Pide aproximadamente PUERTA; introduce a través de la puerta principal."
    assert result.text == (
        f"Pide aproximadamente {es(translator, 'gate')} (GATE, por sus siglas en inglés); "
        "introduce a través de la puerta principal."
    )


async def test_a_term_the_engine_spells_over_several_words_is_replaced_whole(engine, translator):
    text = "Please check the report card and bring questions to the counselor."
    result = await translator.translate(text, EN, ES)
    assert raw(engine, text) == "Complacer comprobar la carta de informe y traer cuestiones al counselor."
    report_card, counselor = es(translator, "report-card"), es(translator, "counselor")
    assert result.text == f"Complacer comprobar la {report_card} y traer cuestiones al {counselor}."


async def test_a_camp_nearby_does_not_unmake_the_school_counselor(engine, translator):
    # "camp" near a bare "counselor" means another sense; "school counselor" says which one it is.
    text = "The camp counselor and the school counselor will both attend."
    result = await translator.translate(text, EN, ES)
    assert raw(engine, text) == "El campamento counselor y el escolar counselor  ambos atienden."
    counselor = es(translator, "counselor")
    assert result.text == f"El campamento counselor y el {counselor}  ambos atienden."


async def test_a_language_the_engine_lacks_is_refused_without_shutting_out_the_ones_it_has(libre, settings, store):
    """A self-hosted LibreTranslate without Vietnamese answers 400 for it: each Vietnamese message is delivered
    untranslated (marked), and Spanish keeps being translated; refusals do not open the circuit breaker."""
    libre.fake.engine, libre.fake.tag = apertium.Apertium(), False
    service = build_translator(settings.model_copy(update={"breaker_failures": 3}), store)
    try:
        for n in range(6):
            vi = await service.translate(f"Meeting number {n} starts now.", EN, languages.get("vi"))
            assert not vi.ok and vi.text == f"Meeting number {n} starts now." and "HTTP 400" in (vi.error or "")
        es = await service.translate("The meeting starts now.", EN, ES)
        assert es.ok and es.text == raw(libre.fake, "The meeting starts now.")
    finally:
        service.close()
