"""Welcome and meeting notices per language: seeded, marked draft, safe to post, RTL-ready."""

import pytest

from bot.bidi import LINE_START
from bot.welcome import NOTICES, TEXTS, draft_note, notice, welcome

GLOSSARY_LANGUAGES = ("es", "vi", "zh-TW", "zh-CN", "ko", "tl", "ar", "ru", "hmn", "km", "sm", "pa")


@pytest.mark.parametrize("code", GLOSSARY_LANGUAGES)
def test_every_glossary_language_has_its_own_welcome_and_notices(code):
    texts, english = TEXTS[code], TEXTS["en"]
    for field in ("title", "how", "machine", "ask", "privacy", *NOTICES, "draft_note"):
        assert getattr(texts, field).strip(), field
        assert getattr(texts, field) != getattr(english, field), f"{code}.{field} is still English"
    assert "{meeting}" in texts.title and all("{meeting}" in getattr(texts, kind) for kind in NOTICES)
    assert "{days}" in texts.privacy
    assert "Show original" in texts.machine  # the name of the message command a parent must find


@pytest.mark.parametrize("code", GLOSSARY_LANGUAGES)
def test_seeded_welcome_is_in_the_readers_language_and_marked_draft(code):
    text = welcome(code, meeting="ELAC", keep_days=30)
    assert text.language == code
    assert text.draft  # written for Concord, not yet reviewed by a person
    assert "30" in text.text and "ELAC" in text.text


def test_welcome_fits_one_discord_message_even_with_a_long_meeting_name():
    for code in ("en", *GLOSSARY_LANGUAGES):
        assert len(welcome(code, meeting="M" * 100, keep_days=3650).text) <= 2000, code


def test_english_is_the_reviewed_source_and_sources_are_recorded_where_wording_was_adapted():
    assert welcome("en", meeting="ELAC", keep_days=30).draft is False
    assert {code for code, texts in TEXTS.items() if texts.sources} == {"zh-CN", "ko", "ru"}


def test_languages_without_seeded_text_get_english_marked_draft_for_machine_translation():
    text = welcome("pt", meeting="ELAC", keep_days=30)
    assert text.language == "en" and text.draft
    assert text.text.startswith("👋 Welcome to **ELAC**!")
    assert notice("started", "quc", meeting="ELAC").language == "en"
    assert draft_note("pt") == "Draft: not yet reviewed by a person."


def test_cantonese_channel_gets_the_traditional_chinese_text():
    text = welcome("yue", meeting="ELAC", keep_days=30)
    assert text.language == "zh-TW"
    assert text.text.startswith("👋 歡迎參加 **ELAC**！")


def test_notices_in_spanish():
    assert notice("started", "es", meeting="ELAC").text == (
        "▶️ La reunión **ELAC** ha comenzado. Desde ahora los mensajes se traducen."
    )
    assert notice("ended", "es", meeting="ELAC").text == "⏹️ La reunión **ELAC** ha terminado. Gracias por participar."


def test_arabic_texts_carry_direction_marks_for_discord():
    assert notice("started", "ar", meeting="ELAC").text == (
        LINE_START + "▶️ بدأ اجتماع **ELAC**. تتم ترجمة الرسائل من الآن."
    )
    lines = welcome("ar", meeting="ELAC", keep_days=30).text.split("\n\n")
    assert all(line.startswith(LINE_START) for line in lines)


def test_meeting_name_cannot_add_markup_mentions_or_links():
    text = notice("ended", "en", meeting="**Big** @everyone <@123> [x](https://evil.example) ||s||").text
    assert text == (
        "⏹️ **\\*\\*Big\\*\\* \\@everyone \\<\\@123\\> \\[x\\](https://evil.example) \\|\\|s\\|\\|** has ended. "
        "Thank you for taking part."
    )


def test_unknown_notice_is_refused():
    with pytest.raises(ValueError, match="Known: started, paused, resumed, ended"):
        notice("cancelled", "es", meeting="ELAC")
