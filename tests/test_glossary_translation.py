"""Glossary enforcement through the real translation chain, against a fake LibreTranslate that mistranslates
school vocabulary and mangles placeholders the way real engines do."""

from __future__ import annotations

import itertools
import re

import pytest

from bot import languages
from bot.glossary import Glossary, TermContext
from bot.relay import Incoming, RelayEngine
from bot.sinks import MemorySink
from bot.testing.libre import chain, mangle_tokens
from tests.test_glossary import write_seed

EN, ES, ZH, AR, VI = (languages.get(c) for c in ("en", "es", "zh-TW", "ar", "vi"))
IEP_FIRST = "Programa de Educación Individualizada (IEP, por sus siglas en inglés)"
TRAPS = {"principal": "principal", "IEP": "PEI", "accommodations": "alojamiento", "GATE": "PUERTA"}


@pytest.fixture
async def glossary(translator, tmp_path) -> Glossary:
    write_seed(tmp_path / "seed")
    glossary = translator.glossary
    await glossary.import_file(tmp_path / "seed", by="seed")
    return glossary


async def test_backend_traps_are_replaced_by_the_approved_renderings(translator, glossary, libre):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    result = await translator.translate("The principal will explain the IEP and the accommodations.", EN, ES)
    assert result.text == f"[es] The director/a will explain the {IEP_FIRST} and the adaptaciones."
    assert [(t.key, t.outcome) for t in result.terms] == [
        ("principal", "protected_ok"), ("iep", "protected_ok"), ("accommodations", "protected_ok"),
    ]  # fmt: skip
    assert glossary.stats.protected_ok == 3


async def test_without_the_glossary_the_same_backend_misleads(translator, libre):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    result = await translator.translate("The principal will explain the IEP.", EN, ES)
    assert result.text == "[es] The principal will explain the PEI."  # empty glossary: raw MT


@pytest.mark.parametrize(
    "mangle",
    [
        mangle_tokens(spaces=True),
        mangle_tokens(lower=True),
        mangle_tokens(spaces=True, lower=True),
        mangle_tokens(reorder=True),
    ],
    ids=["spaces", "lower-case", "spaces-and-case", "reordered"],
)
async def test_mangled_placeholders_still_come_back_as_approved_renderings(translator, glossary, libre, mangle):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    libre.fake.transform = mangle
    result = await translator.translate("Ask the principal about GATE.", EN, ES)
    assert "ZQX" not in result.text.upper() and "zqx" not in result.text
    assert "director/a" in result.text
    assert "Educación para Alumnos Dotados y Talentosos (GATE, por sus siglas en inglés)" in result.text
    assert "PUERTA" not in result.text
    assert {t.outcome for t in result.terms} <= {"protected_ok", "restored_mangled"}
    assert glossary.stats.fallback_replaced == glossary.stats.appended == 0


async def test_dropped_placeholders_fall_back_and_replace_forbidden_renderings(translator, glossary, libre):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    libre.fake.transform = mangle_tokens(drop=True)
    result = await translator.translate("The principal will explain the IEP.", EN, ES)
    assert result.text == f"[es] The director/a will explain the {IEP_FIRST}."
    assert [t.outcome for t in result.terms] == ["fallback_replaced", "fallback_replaced"]
    assert glossary.stats.fallback_replaced == 2 and glossary.stats.appended == 0


async def test_one_dropped_placeholder_repairs_the_message_and_keeps_the_markup(translator, glossary, libre):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    libre.fake.transform = chain(mangle_tokens(drop=lambda i: i == 1), mangle_tokens(spaces=True))
    result = await translator.translate("<@123> the principal and the IEP", EN, ES)
    assert result.text.startswith("[es] <@123> the director/a and the Programa de Educación Individualizada")
    assert "ZQX" not in result.text


async def test_a_lost_term_rendered_in_the_engines_own_words_is_replaced(translator, glossary, libre):
    libre.fake.tag = False  # so the engine's rendering of the term alone is a plain phrase
    libre.fake.dictionary = {"es": {"accommodations": "hospedaje"}}  # a trap no one listed as forbidden
    libre.fake.transform = mangle_tokens(drop=True)
    result = await translator.translate("We review accommodations every year.", EN, ES)
    assert result.text == "We review adaptaciones every year."
    assert result.terms[0].outcome == "fallback_replaced"


async def test_a_term_the_repair_cannot_place_is_appended_never_dropped(translator, glossary, libre):
    def lose_everything(out: str, q: str, target: str) -> str:
        out = re.sub(r"ZQX\d+Z", "", out)
        return out.replace("accommodations", "cosas") if len(q) > 20 else out

    libre.fake.transform = lose_everything
    result = await translator.translate("We review accommodations every year.", EN, ES)
    assert result.text == "[es] We review cosas every year. (adaptaciones)"
    assert result.terms[0].outcome == "appended" and glossary.stats.appended == 1


async def test_forbidden_renderings_are_swept_from_every_output(translator, glossary, libre):
    libre.fake.dictionary = {"es": {"lodging": "alojamiento"}}
    result = await translator.translate("Accommodations, not lodging.", EN, ES)
    assert result.text == "[es] Adaptaciones, not adaptaciones."
    assert glossary.stats.forbidden_replaced == 1


async def test_parent_message_in_spanish_reaches_english_with_the_english_terms(translator, glossary, libre):
    libre.fake.dictionary = {"en": {"directora": "director", "PEI": "PEI"}}
    result = await translator.translate("La directora habló del Programa de Educación Individualizada.", ES, EN)
    assert result.text == "[en] La principal habló del Individualized Education Program."
    result = await translator.translate("¿Cuándo es la reunión del IEP?", ES, EN)
    assert result.text == "[en] ¿Cuándo es la reunión del IEP?"
    assert [t.key for t in result.terms] == ["iep"]


async def test_chinese_both_directions(translator, glossary, libre):
    libre.fake.dictionary = {"zt": {"accommodations": "住宿", "principal": "主要"}}
    result = await translator.translate("The principal explained the accommodations.", EN, ZH)
    assert "校長" in result.text and "合理便利" in result.text
    assert "住宿" not in result.text and "主要" not in result.text
    result = await translator.translate("校長說我的孩子需要學分補修嗎?", ZH, EN)
    assert result.text == "[en] principal說我的孩子需要credit recovery嗎?"


async def test_arabic_both_directions(translator, glossary, libre):
    libre.fake.dictionary = {"ar": {"principal": "رئيسي"}}
    result = await translator.translate("The principal will call you about the IEP.", EN, AR)
    assert "مدير المدرسة" in result.text and "رئيسي" not in result.text
    assert "برنامج التعليم الفردي (IEP)" in result.text
    result = await translator.translate("أريد التحدث مع مدير المدرسة.", AR, EN)
    assert result.text == "[en] أريد التحدث مع principal."


async def test_an_edit_takes_effect_on_the_next_message(translator, glossary, libre):
    first = await translator.translate("Thank you, principal.", EN, ES)
    assert first.text == "[es] Thank you, director/a."
    await glossary.edit("principal", "es", preferred="directora", variants=[], by="carmen")
    second = await translator.translate("Thank you, principal.", EN, ES)
    assert second.text == "[es] Thank you, directora." and not second.cached


async def test_first_mention_in_a_meeting_is_expanded_then_the_acronym_is_kept(translator, glossary, libre):
    meeting = await translator.store.create_meeting(guild_id=1, name="ELAC")
    ctx = lambda message_id: TermContext(1, meeting.id, message_id)  # noqa: E731
    one = await translator.translate("Bring your IEP. The IEP team meets.", EN, ES, context=ctx(1))
    assert one.text == f"[es] Bring your {IEP_FIRST}. The IEP team meets."
    two = await translator.translate("The IEP is ready.", EN, ES, context=ctx(2))
    assert two.text == "[es] The IEP is ready."
    again = await translator.translate("Bring your IEP, please.", EN, ES, context=ctx(1))  # message 1 edited
    assert IEP_FIRST in again.text
    # A fresh service (a restart) remembers the meeting's first mentions.
    other = Glossary(translator.store)
    translator.glossary = other
    three = await translator.translate("IEP questions?", EN, ES, context=ctx(3))
    assert three.text == "[es] IEP questions?"


# --- through the relay engine ----------------------------------------------------------------------

MAIN, ES_CH, VI_CH, ZH_CH = 200, 201, 202, 203
ids = itertools.count(1000)


def say(channel: int, text: str) -> Incoming:
    return Incoming(next(ids), channel, author_id=7, author_name="Carmen", content=text)


@pytest.fixture
async def engine(store, translator, sink, glossary):
    meeting = await store.create_meeting(guild_id=42, name="ELAC")
    for channel, language in ((MAIN, "en"), (ES_CH, "es"), (VI_CH, "vi"), (ZH_CH, "zh-TW")):
        await store.link_channel(channel, meeting.id, language)
    engine = RelayEngine(store, translator, sink, retry_every=0, sink_backoff=0.01)
    await engine.start()
    yield engine
    await engine.close()


MEETING = [
    "Good evening. Our principal, Mr. Davis, will join us.",
    "If your child has an IEP, the IEP team can explain the accommodations.",
    "The principal signs every IEP.",
    "Principal Davis: thank you all.",
    "Questions about the IEP go to the principal.",
    "No glossary terms here.",
]


@pytest.mark.parametrize(
    "mangle",
    [None, mangle_tokens(spaces=True, lower=True), mangle_tokens(reorder=True), mangle_tokens(drop=True)],
    ids=["clean", "spaces-case", "reordered", "dropped"],
)
async def test_done_when_principal_and_iep_are_right_in_every_spanish_output(engine, sink: MemorySink, libre, mangle):
    libre.fake.dictionary = {"es": {"principal": "principal", "IEP": "PEI"}}
    libre.fake.transform = mangle
    for text in MEETING:
        await engine.handle_message(say(MAIN, text))
        await engine.drain()
    outputs = sink.texts(ES_CH)
    assert len(outputs) == len(MEETING)
    for source, output in zip(MEETING, outputs, strict=True):
        assert output.startswith("[es] ") and "PEI" not in output and "ZQX" not in output.upper()
        if "principal" in source.lower():
            assert "director/a" in output.lower() and not re.search(r"\bprincipal\b", output, re.IGNORECASE)
        if "IEP" in source:
            assert "IEP" in output or "Programa de Educación Individualizada" in output
    assert IEP_FIRST in outputs[1] and IEP_FIRST not in "".join(outputs[2:])  # first mention only


async def test_a_server_specific_rendering_is_used_in_that_servers_meetings(engine, sink, glossary, libre):
    await glossary.edit("SST", "es", preferred="Equipo de Éxito Estudiantil", by="district", guild_id=42)
    await engine.handle_message(say(MAIN, "The SST meets on Monday."))
    await engine.drain()
    assert sink.texts(ES_CH) == [
        "[es] The Equipo de Éxito Estudiantil (SST, por sus siglas en inglés) meets on Monday."
    ]
    plain = await engine.translator.translate("The SST meets.", EN, ES)  # another server: the shared rendering
    assert "Equipo de Estudio del Estudiante" in plain.text


async def test_languages_without_renderings_keep_acronyms_instead_of_translating_them(engine, sink, libre):
    libre.fake.dictionary = {"vi": {"GATE": "cổng"}}
    await engine.handle_message(say(MAIN, "GATE testing is in May."))
    await engine.drain()
    assert sink.texts(VI_CH) == ["[vi] GATE testing is in May."]
