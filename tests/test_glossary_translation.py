"""Glossary enforcement through the real translation chain, against a fake LibreTranslate that mistranslates
school vocabulary and mangles placeholders the way real engines do.

The rule under test: text outside a term's place is exactly what the engine produced. Both strategies are
exercised: "repair" (the default: translate plain, repair only the terms the engine got wrong) and "protect"
(placeholders first)."""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest

from bot import languages
from bot.glossary import Glossary, TermContext
from bot.relay import Incoming, RelayEngine
from bot.sinks import MemorySink
from bot.testing.libre import chain, mangle_tokens
from bot.text import shield
from tests.test_glossary import write_seed

EN, ES, ZH, AR, VI, KO = (languages.get(c) for c in ("en", "es", "zh-TW", "ar", "vi", "ko"))
IEP_FIRST = "Programa de Educación Individualizada (IEP, por sus siglas en inglés)"
TRAPS = {"principal": "principal", "IEP": "PEI", "accommodations": "alojamiento", "GATE": "PUERTA"}


@pytest.fixture
async def glossary(translator, tmp_path) -> Glossary:
    write_seed(tmp_path / "seed")
    glossary = translator.glossary
    await glossary.import_file(tmp_path / "seed", by="seed")
    return glossary


@pytest.fixture(params=["repair", "protect"])
async def strategy(request, glossary) -> str:
    glossary.strategy = request.param
    return request.param


async def test_backend_traps_are_replaced_by_the_approved_renderings(translator, glossary, libre, strategy):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    result = await translator.translate("The principal will explain the IEP and the accommodations.", EN, ES)
    assert result.text == f"[es] The director/a will explain the {IEP_FIRST} and the adaptaciones."
    expected = "repaired" if strategy == "repair" else "protected_ok"
    assert [(t.key, t.outcome) for t in result.terms] == [
        ("principal", expected), ("iep", expected), ("accommodations", expected),
    ]  # fmt: skip
    assert getattr(glossary.stats, expected) == 3


async def test_a_right_engine_rendering_is_left_exactly_as_the_engine_wrote_it(translator, glossary, libre):
    libre.fake.dictionary = {"es": {"principal": "directora", "accommodations": "adaptaciones"}}
    result = await translator.translate("Our principal reviews the accommodations.", EN, ES)
    assert result.text == "[es] Our directora reviews the adaptaciones."  # a variant: admitted, not replaced
    assert [t.outcome for t in result.terms] == ["engine_ok", "engine_ok"]
    assert len(libre.fake.calls) == 1  # nothing to repair: one translation, no follow-up


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
    glossary.strategy = "protect"
    libre.fake.dictionary = {"es": dict(TRAPS)}
    libre.fake.transform = mangle
    result = await translator.translate("Ask the principal about GATE.", EN, ES)
    assert "ZQX" not in result.text.upper() and "zqx" not in result.text
    assert "director/a" in result.text
    assert "Educación para Alumnos Dotados y Talentosos (GATE, por sus siglas en inglés)" in result.text
    assert "PUERTA" not in result.text
    assert {t.outcome for t in result.terms} <= {"protected_ok", "restored_mangled"}
    assert glossary.stats.repaired == glossary.stats.appended == 0


async def test_dropped_placeholders_fall_back_to_the_plain_translation_repaired_at_each_terms_place(
    translator, glossary, libre
):
    glossary.strategy = "protect"
    libre.fake.dictionary = {"es": dict(TRAPS)}
    libre.fake.transform = mangle_tokens(drop=True)
    result = await translator.translate("The principal will explain the IEP.", EN, ES)
    assert result.text == f"[es] The director/a will explain the {IEP_FIRST}."
    assert [t.outcome for t in result.terms] == ["repaired", "repaired"]
    assert glossary.stats.repaired == 2 and glossary.stats.appended == 0


async def test_one_dropped_placeholder_repairs_the_message_and_keeps_the_markup(translator, glossary, libre, strategy):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    libre.fake.transform = chain(mangle_tokens(drop=lambda i: i == 1), mangle_tokens(spaces=True))
    result = await translator.translate("<@123> the principal and the IEP", EN, ES)
    assert result.text == f"[es] <@123> the director/a and the {IEP_FIRST}"


async def test_a_wrong_term_in_the_engines_own_words_is_replaced_at_its_place(translator, glossary, libre, strategy):
    libre.fake.tag = False  # so the engine's rendering of the term alone is a plain phrase
    libre.fake.dictionary = {"es": {"accommodations": "hospedaje", "every year": "cada año"}}  # nobody listed it
    libre.fake.transform = mangle_tokens(drop=True)
    result = await translator.translate("We review accommodations every year.", EN, ES)
    assert result.text == "We review adaptaciones cada año."
    assert result.terms[0].outcome == "repaired"


async def test_a_term_whose_place_cannot_be_found_is_appended_never_dropped(translator, glossary, libre):
    def lose_the_term(out: str, q: str, target: str) -> str:
        if "ZQX" in q:  # the text with a placeholder: the engine drops it and words it differently
            return re.sub(r"ZQX\d+Z", "", out).replace("every year", "yearly")
        return out.replace("accommodations", "cosas")

    libre.fake.transform = lose_the_term
    result = await translator.translate("We review accommodations every year.", EN, ES)
    assert result.text == "[es] We review cosas every year. (Adaptaciones)"  # after a full stop: a capital
    assert result.terms[0].outcome == "appended" and glossary.stats.appended == 1


async def test_a_fault_while_repairing_still_delivers_the_engines_translation(glossary, caplog):
    shielded, holder = shield("The principal will explain.")
    plan = await glossary.plan(shielded, holder, EN, ES)

    async def broken(text: str) -> str:  # the follow-up call fails in a way nobody planned for
        raise RuntimeError("connection reset in the middle of a chunk")

    finished = await plan.finish("El jefe explicará.", broken)  # a wrong word: a follow-up is needed
    assert finished.text == "El jefe explicará. (Director/a)"
    assert "glossary enforcement failed" in caplog.text


# --- the engine's words outside a term's place are never changed ------------------------------------------


async def test_a_forbidden_rendering_used_in_its_own_sense_is_left_alone(translator, glossary, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"es": {"lodging": "alojamiento", "accommodations": "alojamiento"}}
    result = await translator.translate("Accommodations, not lodging.", EN, ES)
    assert result.text == "Adaptaciones, not alojamiento."


async def test_the_gate_of_the_school_stays_a_gate_next_to_the_gate_program(translator, glossary, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"es": {"GATE": "PUERTA", "main gate": "puerta principal", "Ask about": "Pregunte por"}}
    result = await translator.translate("Ask about GATE; enter through the main gate.", EN, ES)
    assert result.text == (
        "Pregunte por Educación para Alumnos Dotados y Talentosos (GATE, por sus siglas en inglés); "
        "enter through the puerta principal."
    )


@pytest.mark.parametrize(
    ("text", "traps"),
    [
        ("The principal reason is safety.", {"principal reason": "razón principal"}),
        ("Our principal concern is the bus.", {"principal concern": "preocupación principal"}),
        ("The principal investigator called.", {"principal investigator": "investigador principal"}),
        ("My camp counselor taught me to swim.", {"counselor": "consejero"}),
        ("The hotel accommodation is booked.", {"accommodation": "alojamiento"}),
        ("The hotel offers accommodation near the beach.", {"accommodation": "alojamiento"}),
        ("We need a transcript of this meeting.", {"transcript": "transcripción"}),
    ],
)
async def test_a_term_word_in_another_sense_is_not_the_term(translator, glossary, libre, text, traps):
    libre.fake.dictionary = {"es": traps}
    plain = (await translator.translate(text, EN, ES)).text
    assert plain == libre.fake.render(text, "en", "es")  # exactly the engine's translation
    assert (await translator.translate(text, EN, ES)).terms == ()


async def test_an_acronym_that_is_also_a_word_is_the_word_in_a_sentence_written_in_capitals(
    translator, glossary, libre, strategy
):
    libre.fake.tag = False
    traps = {"GATE": "PUERTA", "PLEASE CLOSE THE": "CIERRE LA", "BEHIND YOU": "TRAS USTED", "Ask about": "Pregunte por"}
    libre.fake.dictionary = {"es": traps}
    shouted = "PLEASE CLOSE THE GATE BEHIND YOU."
    result = await translator.translate(shouted, EN, ES)
    assert result.text == libre.fake.render(shouted, "en", "es") and result.terms == ()
    # written normally, or in a list of school acronyms (IEP, SST: glossary words, not shouting), it is GATE
    for text in ("Ask about GATE today.", "Ask about IEP, SST, GATE."):
        result = await translator.translate(text, EN, ES)
        assert [t.key for t in result.terms if t.key == "gate"] == ["gate"], (text, result.text)
        assert "PUERTA" not in result.text


async def test_the_term_and_the_same_word_in_another_sense_in_one_message(translator, glossary, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"es": {"principal reason": "razón principal", "principal": "principal"}}
    result = await translator.translate("The principal said the principal reason is safety.", EN, ES)
    assert result.text == "The director/a said the razón principal is safety."
    libre.fake.dictionary = {"es": {"hotel accommodation": "alojamiento de hotel", "accommodations": "alojamiento"}}
    result = await translator.translate("The hotel accommodation is booked; the IEP lists accommodations.", EN, ES)
    assert result.text == f"The alojamiento de hotel is booked; the {IEP_FIRST} lists adaptaciones."


def chinese(out: str, q: str, target: str) -> str:
    """Like a real Chinese engine: no space between Chinese characters (the fake translates word by word)."""
    return re.sub(r"(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])", "", out)


async def test_a_forbidden_rendering_inside_a_longer_chinese_word_is_never_touched(
    translator, glossary, libre, strategy
):
    libre.fake.tag = False
    libre.fake.dictionary = {"zt": {"deportation": "驅逐出境", "accommodations": "住宿", "and": "和"}}
    libre.fake.transform = chinese
    result = await translator.translate("accommodations and deportation", EN, ZH)
    assert result.text == "合理便利和驅逐出境"
    result = await translator.translate("deportation", EN, ZH)  # no term at all
    assert result.text == "驅逐出境" and result.terms == ()


async def test_addresses_keep_every_word_of_theirs(translator, glossary, libre, strategy):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    text = "Write to principal@school.org, see www.school.org/principal or mailto:principal@x.org, principal."
    result = await translator.translate(text, EN, ES)
    assert result.text == (
        "[es] Write to principal@school.org, see www.school.org/principal or mailto:principal@x.org, director/a."
    )


async def test_text_that_looks_like_a_placeholder_is_delivered_as_written(translator, glossary, libre, strategy):
    libre.fake.dictionary = {"es": dict(TRAPS)}
    result = await translator.translate("My locker code is ZQX0Z, see https://example.org/a, principal", EN, ES)
    assert result.text == "[es] My locker code is ZQX0Z, see https://example.org/a, director/a"
    result = await translator.translate("zqx 1 z and the IEP", EN, ES)
    assert result.text == f"[es] zqx 1 z and the {IEP_FIRST}"


# --- a restored term fits its sentence --------------------------------------------------------------------


async def test_a_rendering_is_capitalised_at_a_sentence_start_and_only_there(translator, glossary, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"es": {"principal": "principal", "is here": "está aquí"}}
    result = await translator.translate("Principal Davis is here. Thank you, Principal.", EN, ES)
    assert result.text == "Director/a Davis está aquí. Thank you, director/a."


async def test_a_rendering_with_the_exact_case_policy_is_never_recased(translator, glossary, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"es": {"first": "primero", "Then the": "Luego la"}}
    await glossary.edit("policy", "es", preferred="eNormativa", case="exact", by="ana")
    result = await translator.translate("Policy first. Then the policy.", EN, ES)
    assert result.text == "eNormativa primero. Luego la eNormativa."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("principal", "Director/a"),
        ("The principal.", "El director/a."),
        ("Thanks, principal, bye", "Gracias, director/a, adiós"),
        ("principal and principal", "Director/a y director/a"),
    ],
)
async def test_no_double_leading_or_trailing_spaces_around_restored_terms(
    translator, glossary, libre, strategy, text, expected
):
    libre.fake.tag = False
    libre.fake.dictionary = {"es": {"principal": "principal", "The": "El", "Thanks": "Gracias", "bye": "adiós",
                                    "and": "y"}}  # fmt: skip
    libre.fake.transform = mangle_tokens(spaces=True)  # "ZQX 0 Z"
    assert (await translator.translate(text, EN, ES)).text == expected


async def test_chinese_text_gets_no_spaces_around_a_restored_term(translator, glossary, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"zt": {"The": "", "explained the": "解釋了", "principal": "主要", "IEP": "IEP"}}
    # The engine writes spaces around what is not Chinese: placeholders and Latin words alike.
    libre.fake.transform = lambda out, q, target: re.sub(
        r" *([A-Za-z0-9]+) *", r" \1 ", chinese(out, q, target).replace(".", "。")
    ).strip()
    result = await translator.translate("The principal explained the IEP.", EN, ZH)
    assert result.text == "校長解釋了個別教育計劃 (IEP)。"


async def test_chinese_both_directions(translator, glossary, libre, strategy):
    libre.fake.dictionary = {"zt": {"accommodations": "住宿", "principal": "主要"}}
    result = await translator.translate("The principal explained the accommodations.", EN, ZH)
    assert result.text == "[繁] The 校長 explained the 合理便利."
    result = await translator.translate("校長說我的孩子需要學分補修嗎?", ZH, EN)
    assert result.text == "[en] principal說我的孩子需要credit recovery嗎?"


async def test_arabic_both_directions(translator, glossary, libre, strategy):
    libre.fake.dictionary = {"ar": {"principal": "رئيسي"}}
    result = await translator.translate("The principal will call you about the IEP.", EN, AR)
    assert result.text == "[ع] The مدير المدرسة will call you about the برنامج التعليم الفردي (IEP)."
    result = await translator.translate("أريد التحدث مع مدير المدرسة.", AR, EN)
    assert result.text == "[en] أريد التحدث مع principal."


async def test_arabic_prefixes_stay_attached_to_a_restored_term(translator, glossary, libre, strategy):
    libre.fake.tag = False
    # The engine writes "and the principal" as one word, و + ال + its (wrong) rendering; with a placeholder it
    # sets the prefix apart ("و ZQX0Z"), as engines do with an unknown word.
    libre.fake.dictionary = {"ar": {"and the principal": "والرئيسي", "The teacher": "المعلم"}}
    libre.fake.transform = lambda out, q, target: re.sub(r"and the (ZQX\d+Z)", r"و \1", out)
    result = await translator.translate("The teacher and the principal", EN, AR)
    assert result.text == "المعلم ومدير المدرسة"


async def test_a_korean_particle_follows_the_restored_term(translator, glossary, libre):
    glossary.strategy = "protect"
    libre.fake.tag = False
    # 는 follows a vowel; 교장 ends in a consonant, so the particle must become 은.
    libre.fake.dictionary = {"ko": {"The principal is": "ZQX0Z는", "here": "여기 있습니다"}}
    libre.fake.transform = lambda out, q, target: out.replace("The ZQX0Z is", "ZQX0Z는")
    result = await translator.translate("The principal is here", EN, KO)
    assert result.text == "교장은 여기 있습니다"


# --- parents' messages, edits, first mentions -------------------------------------------------------------


async def test_parent_message_in_spanish_reaches_english_with_the_english_terms(translator, glossary, libre):
    libre.fake.dictionary = {"en": {"directora": "director", "PEI": "PEI"}}
    result = await translator.translate("La directora habló del Programa de Educación Individualizada.", ES, EN)
    assert result.text == "[en] La principal habló del Individualized Education Program."
    result = await translator.translate("¿Cuándo es la reunión del IEP?", ES, EN)
    assert result.text == "[en] ¿Cuándo es la reunión del IEP?"
    assert [t.key for t in result.terms] == ["iep"]


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
    translator.glossary = Glossary(translator.store)
    three = await translator.translate("IEP questions?", EN, ES, context=ctx(3))
    assert three.text == "[es] IEP questions?"


async def test_a_purged_meeting_introduces_its_acronyms_again(translator, glossary, libre):
    meeting = await translator.store.create_meeting(guild_id=1, name="ELAC")
    ctx = lambda message_id: TermContext(1, meeting.id, message_id)  # noqa: E731
    assert IEP_FIRST in (await translator.translate("The IEP.", EN, ES, context=ctx(1))).text
    assert IEP_FIRST not in (await translator.translate("The IEP.", EN, ES, context=ctx(2))).text
    await translator.store.purge_meeting(meeting.id)  # what /meeting purge does
    translator.forget_cached()
    assert IEP_FIRST in (await translator.translate("The IEP.", EN, ES, context=ctx(3))).text


async def test_after_hours_without_messages_a_meeting_introduces_its_acronyms_again(translator, glossary, libre):
    meeting = await translator.store.create_meeting(guild_id=1, name="ELAC")
    ctx = lambda message_id: TermContext(1, meeting.id, message_id)  # noqa: E731
    assert IEP_FIRST in (await translator.translate("The IEP.", EN, ES, context=ctx(1))).text
    assert IEP_FIRST not in (await translator.translate("The IEP.", EN, ES, context=ctx(2))).text
    started, _ = await translator.store.glossary_session(meeting.id)
    # The meeting's last message was seven hours ago (the default gap is six), and the bot restarted since.
    await translator.store.save_glossary_session(meeting.id, started - 7 * 3600, started - 7 * 3600)
    translator.glossary = Glossary(translator.store)
    assert IEP_FIRST in (await translator.translate("The IEP.", EN, ES, context=ctx(3))).text
    assert IEP_FIRST not in (await translator.translate("The IEP.", EN, ES, context=ctx(4))).text


async def test_the_session_gap_is_configurable(translator, glossary, libre):
    meeting = await translator.store.create_meeting(guild_id=1, name="ELAC")
    translator.glossary = Glossary(translator.store, session_gap=0.0)  # every pause is a new session
    for message_id in (1, 2):
        result = await translator.translate("The IEP.", EN, ES, context=TermContext(1, meeting.id, message_id))
        assert IEP_FIRST in result.text
        await asyncio.sleep(0.01)


async def test_two_messages_at_the_same_moment_expand_an_acronym_once(translator, glossary, libre):
    meeting = await translator.store.create_meeting(guild_id=1, name="ELAC")
    libre.fake.latency = 0.05
    results = await asyncio.gather(
        *(translator.translate(f"The IEP, {n}.", EN, ES, context=TermContext(1, meeting.id, n)) for n in range(1, 6))
    )
    assert sum(IEP_FIRST in r.text for r in results) == 1


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
async def test_done_when_principal_and_iep_are_right_in_every_spanish_output(
    engine, sink: MemorySink, libre, mangle, strategy
):
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
    assert outputs[5] == "[es] No glossary terms here."


async def test_a_server_specific_rendering_is_used_in_that_servers_meetings(engine, sink, glossary, libre):
    await glossary.edit("SST", "es", preferred="Equipo de Éxito Estudiantil", by="district", guild_id=42)
    await engine.handle_message(say(MAIN, "The SST meets on Monday."))
    await engine.drain()
    assert sink.texts(ES_CH) == [
        "[es] The Equipo de Éxito Estudiantil (SST, por sus siglas en inglés) meets on Monday."
    ]
    plain = await engine.translator.translate("The SST meets.", EN, ES)  # another server: the shared rendering
    assert "Equipo de Estudio del Estudiante" in plain.text


async def test_languages_without_renderings_keep_acronyms_instead_of_translating_them(engine, sink, libre, strategy):
    libre.fake.tag = False
    libre.fake.dictionary = {"vi": {"GATE": "cổng", "testing is in": "kiểm tra vào tháng"}}
    await engine.handle_message(say(MAIN, "GATE testing is in May."))
    await engine.drain()
    assert sink.texts(VI_CH) == ["GATE kiểm tra vào tháng May."]
