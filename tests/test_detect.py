"""Per-message source language: what families actually post, in which channel, and what it is translated from."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.detect import Detector, detect_source

ROOT = Path(__file__).resolve().parent.parent
DELAC = ["en", "es", "vi", "zh-TW", "zh-CN", "yue", "ko", "tl", "ar", "fa", "ru", "uk", "hmn", "km", "sm", "to"]


# --- a message in another meeting language is translated from that language ---------------------------


@pytest.mark.parametrize(
    ("text", "channel", "expected"),
    [
        ("Thank you, I'll be there tomorrow night", "es", "en"),  # English in #español reaches #main as written
        ("Sorry, what time does the meeting start?", "vi", "en"),
        ("Necesito saber cuándo es la junta del IEP de mi hijo", "en", "es"),  # Spanish in #main
        ("Buổi họp ngày mai mấy giờ vậy cô?", "es", "vi"),
        ("Maraming salamat po sa inyong lahat", "en", "tl"),
    ],
)
def test_a_message_confidently_in_another_meeting_language_is_translated_from_it(text, channel, expected):
    assert detect_source(text, channel, DELAC) == expected


def test_english_in_the_spanish_channel_of_a_two_language_meeting_is_english():
    assert detect_source("Can someone share the slides after the meeting?", "es", ["en", "es"]) == "en"
    assert detect_source("Yes please", "es", ["en", "es"]) == "en"


# --- nothing to go on: the channel's language ------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["ok", "👍", "✋✋", "3:30", "???", "https://forms.gle/abc123", "<@123456789012345678>"]
)
@pytest.mark.parametrize("channel", ["es", "vi", "zh-TW", "ar", "hmn"])
def test_language_less_messages_stay_in_the_channels_language(text, channel):
    assert detect_source(text, channel, DELAC) == channel


@pytest.mark.parametrize(
    ("text", "channel"),
    [("Gracias", "es"), ("Sí", "es"), ("Cảm ơn", "vi"), ("Dạ", "vi"), ("Opo", "tl"), ("Yes", "en"), ("謝謝", "zh-TW")],
)
def test_very_short_messages_in_the_channels_language_stay(text, channel):
    assert detect_source(text, channel, DELAC) == channel


def test_markup_acronyms_and_names_do_not_make_spanish_english():
    meeting = ["en", "es"]
    assert detect_source("<@123456789012345678> IEP ELPAC LCAP", "es", meeting) == "es"
    assert detect_source("Gracias Mrs. Johnson", "es", meeting) == "es"
    assert (
        detect_source("La maestra Johnson dice que el ELPAC es en marzo: https://lausd.org/elpac", "es", meeting)
        == "es"
    )
    assert detect_source("¿Alguien tiene el link del Zoom? <:zoom:123456789012345678> `IEP`", "es", meeting) == "es"


def test_a_mixed_message_with_the_channels_words_stays():
    # Taglish in #filipino: Google reads it fine as Filipino; "translated from English" it would not be.
    assert detect_source("Libre po ba ang summer school?", "tl", DELAC) == "tl"
    assert detect_source("Ok thank you, nos vemos mañana", "es", DELAC) == "es"


# --- scripts ------------------------------------------------------------------------------------------


def test_han_text_never_moves_among_the_chinese_channels():
    assert detect_source("请把链接发给我，谢谢", "zh-TW", DELAC) == "zh-TW"  # Simplified in the Traditional channel
    assert detect_source("我要早啲走，唔該", "zh-CN", DELAC) == "zh-CN"
    assert detect_source("謝謝老師", "yue", DELAC) == "yue"


def test_han_text_elsewhere_goes_to_the_chinese_the_meeting_has():
    assert detect_source("请把链接发给我", "en", DELAC) == "zh-CN"  # Simplified characters
    assert detect_source("請把連結傳給我", "en", DELAC) == "zh-TW"  # Traditional characters
    assert detect_source("唔該晒", "en", ["en", "yue"]) == "yue"
    assert detect_source("好的", "es", ["en", "es", "zh-CN"]) == "zh-CN"


def test_kana_means_japanese_and_hangul_means_korean():
    meeting = ["en", "zh-TW", "ja", "ko"]
    assert detect_source("リンクを送ってください", "zh-TW", meeting) == "ja"
    assert detect_source("金曜日は短縮授業ですか？", "en", meeting) == "ja"
    assert detect_source("링크 좀 보내 주세요", "zh-TW", meeting) == "ko"
    assert detect_source("会議", "ja", meeting) == "ja"  # kanji alone in #日本語 stays Japanese


@pytest.mark.parametrize(
    ("text", "language"),
    [("អរគុណច្រើន", "km"), ("ຂອບໃຈຫຼາຍໆ", "lo"), ("ကျေးဇူးတင်ပါတယ်", "my"), ("አመሰግናለሁ", "am"), ("Շնորհակալություն", "hy")],
)
def test_scripts_the_model_lacks_are_recognised_by_script(text, language):
    assert detect_source(text, "en", ["en", "es", language]) == language


def test_a_script_no_meeting_language_uses_stays_in_the_channel():
    assert detect_source("Спасибо большое", "es", ["en", "es", "vi"]) == "es"


def test_amharic_and_tigrinya_are_told_apart_by_their_words():
    meeting = ["en", "am", "ti"]
    assert detect_source("ሓደ ሕቶ ኣለኒ", "en", meeting) == "ti"
    assert detect_source("አንድ ጥያቄ አለኝ", "en", meeting) == "am"
    assert detect_source("ሓደ ሕቶ ኣለኒ", "am", meeting) == "ti"


def test_urdu_needs_urdu_letters_so_persian_stays_persian():
    meeting = ["en", "fa", "ur", "ar"]
    assert detect_source("یک سوال دارم، جلسه کی شروع می‌شود؟", "fa", meeting) == "fa"
    assert detect_source("میرا ایک سوال ہے، میٹنگ کب شروع ہوگی؟", "fa", meeting) == "ur"


def test_persian_in_the_dari_channel_is_never_a_switch():
    assert detect_source("جلسه ساعت چند شروع می‌شود؟ خیلی ممنون", "prs", ["en", "fa", "prs"]) == "prs"


# --- languages the model lacks are never switched away from ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("Kuv xav paub tias peb cov menyuam yuav kawm ntawv li cas", "hmn"),
        ("Fa'afetai tele mo le fono o le aso", "sm"),
        ("Mālō ʻaupito ki he fakataha", "to"),
        ("Si Yu'os ma'åse' para i inetnon", "ch"),
        ("Kommol tata kom", "mh"),
        ("Agyamanak unay iti gimong", "ilo"),
        ("Mèsi anpil pou reyinyon an", "ht"),
    ],
)
def test_a_language_the_model_lacks_keeps_its_own_channel(text, channel):
    assert detect_source(text, channel, [*DELAC, "ch", "mh", "ilo", "ht"]) == channel


def test_english_in_the_hmong_channel_is_still_english():
    assert detect_source("Thank you, see you at the meeting tomorrow", "hmn", DELAC) == "en"


def test_hmong_in_the_main_channel_is_recognised_by_its_words():
    assert detect_source("Ua tsaug ntau", "en", DELAC) == "hmn"
    assert detect_source("Kuv tsis paub tias lub rooj sib tham pib thaum twg", "en", DELAC) == "hmn"


def test_codes_the_registry_does_not_have_yet_are_tolerated():
    meeting = ["en", "chk", "mam", "ES"]  # Chuukese, Mam; a code in capitals
    assert detect_source("Kinisou chapur", "chk", meeting) == "chk"
    assert detect_source("Thank you so much for the meeting", "chk", meeting) == "en"
    assert detect_source("Muchas gracias por la reunión de hoy", "en", meeting) == "ES"


def test_a_meeting_with_only_the_channels_language_never_switches():
    assert detect_source("Muchas gracias por la reunión de hoy", "en", ["en"]) == "en"
    assert detect_source("Muchas gracias por la reunión de hoy", "en", []) == "en"


# --- callable off the event loop -------------------------------------------------------------------------


async def test_detection_gives_the_same_answers_from_worker_threads():
    detector = Detector()
    messages = [
        ("Thank you, I'll be there tomorrow night", "es"),
        ("Necesito saber cuándo es la junta", "en"),
        ("Cảm ơn cô nhiều", "en"),
        ("請把連結傳給我", "en"),
    ] * 10
    expected = [detector.detect(text, channel, DELAC).language for text, channel in messages]
    fresh = Detector()  # models loaded concurrently by the threads themselves
    got = await asyncio.gather(
        *(asyncio.to_thread(lambda t=t, c=c: fresh.detect(t, c, DELAC).language) for t, c in messages)
    )
    assert got == expected == ["en", "es", "vi", "zh-TW"] * 10


# --- the corpus ------------------------------------------------------------------------------------------


def _bench():
    spec = importlib.util.spec_from_file_location("detect_bench", ROOT / "benchmarks" / "detect_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("detect_bench", module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_messages_in_their_own_channel_switch_less_than_one_time_in_a_hundred():
    bench = _bench()
    detector = Detector()
    trials = [t for t in bench.trials(bench.load_corpus()) if t.own]
    assert len(trials) > 3000
    switched = [t for t in trials if not t.right(detector.detect(t.message.text, t.channel, t.meeting).language)]
    assert len(switched) / len(trials) <= 0.01, [(t.message.text, t.channel) for t in switched[:10]]


def test_benchmark_prints_a_table_and_one_json_line():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "detect_bench.py"), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    assert "false switches (own channel)" in out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["false_switch_rate"] <= report["false_switch_target"]
    assert set(report["own_by_length"]) >= {"1", "2", "3-5"}
    assert {"dev", "heldout"} <= set(report["cross_by_source"])
    assert report["rss_mb"]["all_models_loaded"] > 0 and report["per_call_ms"]["p50"] > 0
