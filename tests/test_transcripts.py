"""Transcripts: one per language, Markdown and phone-friendly HTML, escaped, with attendance."""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.testing.browser import Browser, missing_reason
from bot.transcripts import (
    LABELS,
    Entry,
    MeetingRecord,
    Rendering,
    attendance,
    attendance_text,
    filename,
    labels,
    render_html,
    render_markdown,
    transcripts,
)

GLOSSARY_LANGUAGES = ("es", "vi", "zh-TW", "zh-CN", "ko", "tl", "ar", "ru", "hmn", "km", "sm", "pa")
LONG_URL = "https://school.example.org/elac/" + "agenda-and-minutes-" * 12 + "?lang=all"
LONG_WORD = "Supercalifragilistic" * 8


def at(hour: int, minute: int) -> datetime:
    return datetime(2025, 10, 15, hour, minute, tzinfo=UTC)


def sample() -> MeetingRecord:
    """An ELAC meeting: the facilitator in English, parents in Spanish and Vietnamese, one untranslated message."""
    return MeetingRecord(
        name="ELAC October",
        started=at(1, 0),
        languages=("en", "es", "vi", "zh-TW", "ar", "km"),
        timezone="America/Los_Angeles",
        members={"en": 3, "es": 9, "vi": 4, "zh-TW": 2, "ar": 2, "km": 1},
        entries=(
            Entry(
                at(1, 2),
                "Carmen (facilitator)",
                "en",
                f"Welcome to ELAC. Tonight: the IEP process and the LCAP survey. Agenda: {LONG_URL}",
                {
                    "es": Rendering("Bienvenidos al ELAC. Esta noche: el proceso del IEP y la encuesta del LCAP."),
                    "vi": Rendering("Chào mừng đến với ELAC. Tối nay: quy trình IEP và khảo sát LCAP."),
                    "zh-TW": Rendering("歡迎參加 ELAC。今晚：IEP 流程與 LCAP 問卷。"),
                    "ar": Rendering(f"مرحبا بكم في ELAC. الليلة: عملية IEP واستبيان LCAP. جدول الأعمال: {LONG_URL}"),
                    "km": Rendering("សូមស្វាគមន៍មកកាន់ ELAC។ យប់នេះ៖ ដំណើរការ IEP និងការស្ទង់មតិ LCAP។"),
                },
                speaker_id=1,
            ),
            Entry(
                at(1, 5),
                "María",
                "es",
                "¿Cuándo es la próxima reunión del IEP de mi hijo?",
                {
                    "en": Rendering("When is my son's next IEP meeting?"),
                    "vi": Rendering("Khi nào là cuộc họp IEP tiếp theo của con tôi?"),
                    "zh-TW": Rendering("我兒子的下一次 IEP 會議是什麼時候？"),
                    "ar": Rendering("متى الاجتماع القادم لخطة IEP الخاصة بابني؟"),
                    "km": Rendering("¿Cuándo es la próxima reunión del IEP de mi hijo?", untranslated=True),
                },
                speaker_id=7,
            ),
            Entry(
                at(1, 4),
                "Lan",
                "vi",
                f"Cảm ơn cô. {LONG_WORD}",
                {
                    "en": Rendering(f"Thank you. {LONG_WORD}"),
                    "es": Rendering(f"Gracias. {LONG_WORD}"),
                    "ar": Rendering(f"شكرا لك. {LONG_WORD}"),
                },
                speaker_id=9,
            ),
        ),
    )


# --- HTML ------------------------------------------------------------------------------------------------


def test_arabic_transcript_is_right_to_left_and_each_original_keeps_its_own_direction():
    page = render_html(sample(), "ar")
    assert '<html lang="ar" dir="rtl">' in page
    assert '<p class="text" lang="ar" dir="rtl">مرحبا بكم في ELAC.' in page
    assert '<p lang="en" dir="ltr">Welcome to ELAC.' in page
    assert '<p lang="es" dir="ltr">¿Cuándo es la próxima' in page


def test_every_language_gets_its_lang_attribute_and_ltr_direction():
    record = sample()
    for code in ("es", "vi", "zh-TW", "km"):
        assert f'<html lang="{code}" dir="ltr">' in render_html(record, code)


def test_times_are_shown_in_the_meetings_time_zone_in_order():
    page = render_html(sample(), "es")
    times = re.findall(r"<time dir=\"ltr\" datetime=\"[^\"]+T[^\"]+\">(\d\d:\d\d)</time>", page)
    assert times == ["18:02", "18:04", "18:05"]  # 01:02 UTC is 18:02 the evening before in Los Angeles
    assert "2025-10-14" in page


def test_reader_sees_the_text_as_relayed_to_them_with_the_original_below():
    page = render_html(sample(), "vi")
    relayed = page.index("Chào mừng đến với ELAC.")
    original = page.index("Welcome to ELAC.")
    assert relayed < original
    assert "Bản gốc · English" in page  # the "original" label in Vietnamese


def test_untranslated_message_shows_the_original_marked_in_the_readers_language():
    page = render_html(sample(), "km")
    article = page[page.index("María") :]
    article = article[: article.index("</article>")]
    assert "⚠️ មិនទាន់បកប្រែ" in article
    assert '<p class="text" lang="es" dir="ltr">¿Cuándo es la próxima reunión del IEP de mi hijo?</p>' in article
    assert 'class="orig"' not in article  # the original is the text: not shown twice


def test_message_missing_from_a_language_is_shown_as_the_original_marked():
    page = render_html(sample(), "zh-TW")
    article = page[page.index("<bdi>Lan</bdi>") :]
    article = article[: article.index("</article>")]
    assert "⚠️ 未翻譯" in article and "Cảm ơn cô." in article


def test_a_parents_message_cannot_inject_html():
    record = sample()
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)"> https://x.org/"onmouseover="alert(3)'
    record = MeetingRecord(
        name="</title><script>alert(4)</script>",
        started=record.started,
        languages=("en", "es"),
        entries=(Entry(at(1, 0), "<b onclick=alert(5)>Eve</b>", "es", evil, {"en": Rendering(evil)}),),
    )
    page = render_html(record, "en")
    assert "<script" not in page and "<img" not in page and "<b onclick" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b onclick=alert(5)&gt;Eve&lt;/b&gt;" in page
    assert 'href="https://x.org/&quot;onmouseover=&quot;alert(3)"' in page
    assert 'onmouseover="' not in page


def test_only_web_links_become_links():
    record = sample()
    text = "see javascript:alert(1) and data:text/html,x and https://school.org/a"
    record = MeetingRecord("M", record.started, ("en",), (Entry(at(1, 0), "A", "en", text),))
    page = render_html(record, "en")
    assert re.findall(r'href="([^"]+)"', page) == ["https://school.org/a"]


def test_page_is_self_contained():
    page = render_html(sample(), "ar")
    for outside in ("<script", "<link", "src=", "@import", "url(", "<iframe"):
        assert outside not in page
    assert "default-src 'none'" in page  # and the browser is told to load nothing else


def test_fonts_cover_each_script_on_the_page():
    assert ':lang(km){font-family:"Khmer Sangam MN", "Khmer UI"' in render_html(sample(), "km")
    zh = render_html(sample(), "zh-TW")
    assert ':lang(zh-TW){font-family:"PingFang TC", "Microsoft JhengHei", "Noto Sans CJK TC"' in zh
    assert ':lang(ar){font-family:"Geeza Pro"' in zh  # the Arabic channel is in the meeting


def test_headings_are_in_the_readers_language():
    record = sample()
    assert "<h1>Transcripción: <bdi>ELAC October</bdi></h1>" in render_html(record, "es")
    assert "<h1>محضر الاجتماع: <bdi>ELAC October</bdi></h1>" in render_html(record, "ar")
    assert "<h1>會議記錄：<bdi>ELAC October</bdi></h1>" in render_html(record, "zh-TW")


def test_labels_exist_for_every_glossary_language_and_unsure_ones_are_draft():
    for code in GLOSSARY_LANGUAGES:
        assert code in LABELS
        assert all(value for value in vars(LABELS[code]).values() if isinstance(value, str))
        assert "{tz}" in LABELS[code].times
    assert {code for code, words in LABELS.items() if words.draft} == {"tl", "hmn", "km", "sm", "pa"}


def test_cantonese_readers_get_traditional_chinese_labels_and_others_english():
    assert labels("yue") is LABELS["zh-TW"]
    assert labels("pt") is LABELS["en"]


def test_one_markdown_and_one_html_file_per_language_with_ascii_names():
    files = transcripts(sample())
    assert [(f.language, f.filename) for f in files[:2]] == [
        ("en", "transcript-elac-october-2025-10-14-en.md"),
        ("en", "transcript-elac-october-2025-10-14-en.html"),
    ]
    assert len(files) == 12
    assert {f.media_type for f in files} == {"text/markdown", "text/html"}
    record = MeetingRecord("Réunion des parents — 中文", sample().started, ("en",))
    assert filename(record, "zh-TW", "html") == "transcript-reunion-des-parents-2025-10-15-zh-TW.html"


# --- Markdown --------------------------------------------------------------------------------------------


def test_markdown_transcript_has_time_speaker_text_and_original():
    md = render_markdown(sample(), "es")
    assert md.startswith("# Transcripción: ELAC October\n")
    assert "**18:02 · Carmen (facilitator)** · English\n\nBienvenidos al ELAC." in md
    assert "> Original: Welcome to ELAC." in md


def test_markdown_escapes_markup_a_parent_typed():
    record = sample()
    text = "# not a heading\n**bold** [x](javascript:alert(1)) <b>hi</b> a|b\n1. not a list"
    record = MeetingRecord("M", record.started, ("en",), (Entry(at(1, 0), "A_B", "en", text),))
    md = render_markdown(record, "en")
    assert (
        "\\# not a heading\n\\*\\*bold\\*\\* \\[x\\](javascript:alert(1)) \\<b\\>hi\\</b\\> a\\|b\n1\\. not a list"
        in md
    )
    assert "**01:00 · A\\_B**" in md


def test_empty_meeting_says_so():
    record = MeetingRecord("M", at(1, 0), ("en", "es"))
    assert "No hubo mensajes." in render_markdown(record, "es")
    assert "<p>No hubo mensajes.</p>" in render_html(record, "es")


# --- Attendance ------------------------------------------------------------------------------------------


def test_attendance_counts_members_people_who_wrote_and_messages_per_language():
    record = sample()
    extra = Entry(at(1, 9), "María", "es", "Gracias", speaker_id=7)
    record = MeetingRecord(
        record.name, record.started, record.languages, (*record.entries, extra), members=record.members
    )
    summary = attendance(record)
    assert summary.languages == ("en", "es", "vi", "zh-TW", "ar", "km")
    assert summary.members == {"en": 3, "es": 9, "vi": 4, "zh-TW": 2, "ar": 2, "km": 1}
    assert summary.posted == {"en": 1, "es": 1, "vi": 1, "zh-TW": 0, "ar": 0, "km": 0}
    assert summary.messages == {"en": 1, "es": 2, "vi": 1, "zh-TW": 0, "ar": 0, "km": 0}


def test_attendance_text_for_the_facilitator():
    assert attendance_text(attendance(sample())) == (
        "**Attendance** — Members · Wrote · Messages\n"
        "- English: 3 · 1 · 1\n"
        "- Spanish: 9 · 1 · 1\n"
        "- Vietnamese: 4 · 1 · 1\n"
        "- Chinese (Traditional): 2 · 0 · 0\n"
        "- Arabic: 2 · 0 · 0\n"
        "- Khmer: 1 · 0 · 0\n"
        "Total: 21 · 3 · 3"
    )


def test_attendance_table_is_in_every_transcript():
    page = render_html(sample(), "es")
    assert "<tr><td><bdi>Español</bdi></td><td>9</td><td>1</td><td>1</td></tr>" in page
    assert "| Tiếng Việt (Vietnamese) | 4 | 1 | 1 |" in render_markdown(sample(), "es")


# --- In a real browser -----------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@needs_chromium
async def test_html_transcripts_in_headless_chromium_are_rtl_for_arabic_and_fit_a_390px_phone(tmp_path):
    record = sample()
    shots = os.environ.get("CONCORD_SCREENSHOTS")  # a folder: also save what a phone shows, to look at
    if shots:
        os.makedirs(shots, exist_ok=True)
    async with Browser() as browser:
        for code in record.languages:
            page = tmp_path / filename(record, code, "html")
            page.write_text(render_html(record, code), encoding="utf-8")
            await browser.open(page, width=390)
            direction = await browser.evaluate("getComputedStyle(document.body).direction")
            assert direction == ("rtl" if code == "ar" else "ltr"), code
            width = await browser.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{code}: the page is {width}px wide on a 390px screen"
            assert browser.requested_urls() == [page.as_uri()], code
            if shots:
                await browser.screenshot(Path(shots) / f"transcript-{code}.png")


@needs_chromium
async def test_arabic_original_in_an_english_transcript_is_rtl_inside_an_ltr_page(tmp_path):
    record = sample()
    entry = Entry(at(1, 6), "Omar", "ar", "شكرا جزيلا.", {"en": Rendering("Thank you very much.")})
    record = MeetingRecord(record.name, record.started, record.languages, (entry,))
    page = tmp_path / "en.html"
    page.write_text(render_html(record, "en"), encoding="utf-8")
    async with Browser() as browser:
        await browser.open(page, width=390)
        assert await browser.evaluate("getComputedStyle(document.body).direction") == "ltr"
        assert await browser.evaluate("getComputedStyle(document.querySelector('.orig p')).direction") == "rtl"
