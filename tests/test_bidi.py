"""Right-to-left relayed text: exact marks, where they go and where they never go, and how Chromium shows it."""

import html
import json
from pathlib import Path

import pytest

from bot.bidi import FSI, LINE_START, LRI, PDI, for_discord, mark_rtl, unmark
from bot.testing.browser import Browser, missing_reason

M = LINE_START  # RLM + RLI, after the line's Markdown prefix


def test_ltr_languages_are_never_marked():
    text = "IEP meeting at 6:00 PM. <@123> مرحبا"
    assert for_discord(text, "es") == text
    assert for_discord(text, "en") == text


def test_every_rtl_language_in_the_registry_is_marked():
    assert for_discord("IEP اجتماع", "ar") == M + "IEP اجتماع"
    assert for_discord("IEP جلسه", "fa") == M + "IEP جلسه"


def test_arabic_starting_with_a_latin_acronym_reads_right_to_left():
    assert mark_rtl("IEP اجتماع اليوم.") == M + "IEP اجتماع اليوم."


def test_arabic_letters_and_spaces_alone_need_nothing():
    assert mark_rtl("مرحبا بكم") == "مرحبا بكم"


def test_sentence_punctuation_at_the_end_is_marked():
    assert mark_rtl("مرحبا بكم.") == M + "مرحبا بكم."


def test_each_line_is_marked_on_its_own_and_english_lines_stay_untouched():
    text = "مرحبا.\nThe agenda is posted.\nشكرا"
    assert mark_rtl(text) == M + "مرحبا.\nThe agenda is posted.\nشكرا"


def test_marks_go_after_discord_line_markup_so_quotes_headings_and_lists_still_work():
    assert mark_rtl("> اقتباس: IEP") == "> " + M + "اقتباس: IEP"
    assert mark_rtl("# عنوان ELAC") == "# " + M + "عنوان ELAC"
    assert mark_rtl("-# ⚠️ لم تتم الترجمة بعد (original)") == "-# " + M + "⚠️ لم تتم الترجمة بعد (original)"
    assert mark_rtl("1. البند الأول: ELPAC") == "1. " + M + "البند الأول: ELPAC"
    assert mark_rtl("  - بند LCAP") == "  - " + M + "بند LCAP"


def test_time_with_am_pm_is_kept_as_one_left_to_right_unit():
    assert mark_rtl("الاجتماع الساعة 6:00 PM في المكتبة") == (
        M + "الاجتماع الساعة " + LRI + "6:00 PM" + PDI + " في المكتبة"
    )


def test_numbers_alone_and_number_letter_words_are_left_as_they_are():
    assert mark_rtl("لدينا 3 طلاب") == M + "لدينا 3 طلاب"
    assert mark_rtl("الغرفة 12B") == M + "الغرفة 12B"


def test_phone_number_is_kept_in_its_order():
    assert mark_rtl("اتصل (555) 123-4567 الآن") == M + "اتصل " + LRI + "(555) 123-4567" + PDI + " الآن"


def test_mentions_channels_timestamps_and_inline_code_are_isolated_outside_their_brackets():
    text = "مرحبا <@123> في <#456> و <@&789> موعد <t:1700000000:R> نفذ `npm i` و </meeting start:42>"
    assert mark_rtl(text) == (
        M
        + f"مرحبا {FSI}<@123>{PDI} في {FSI}<#456>{PDI} و {FSI}<@&789>{PDI} موعد {FSI}<t:1700000000:R>{PDI}"
        + f" نفذ {FSI}`npm i`{PDI} و {FSI}</meeting start:42>{PDI}"
    )


def test_urls_get_nothing_inside_or_right_after_them():
    text = "انظر https://school.org/elac/?id=7 شكرا\nالرابط https://school.org/a/"
    marked = mark_rtl(text)
    assert marked == M + "انظر https://school.org/elac/?id=7 شكرا\n" + M + "الرابط https://school.org/a/"
    assert "https://school.org/elac/?id=7 " in marked and marked.endswith("https://school.org/a/")


def test_embed_suppressed_url_is_isolated_outside_its_angle_brackets():
    assert mark_rtl("انظر <https://school.org/x>") == M + f"انظر {FSI}<https://school.org/x>{PDI}"


def test_custom_emoji_is_left_alone():
    assert mark_rtl("شكرا <:thanks:123>") == M + "شكرا <:thanks:123>"


def test_code_blocks_stay_byte_for_byte():
    code = "```py\nx = 1  # عربي 6:00 PM\n<@1>\n```"
    text = f"كود:\n{code}\nنهاية."
    assert mark_rtl(text) == f"{M}كود:\n{code}\n{M}نهاية."


def test_marking_twice_changes_nothing_more():
    text = "IEP الساعة 6:00 PM <@1>\n> اقتباس.\nEnglish"
    once = mark_rtl(text)
    assert mark_rtl(once) == once


def test_empty_and_blank_text_come_back_unchanged():
    assert mark_rtl("") == ""
    assert mark_rtl("\n\n") == "\n\n"


# --- What a reader sees: the marked text laid out by real Chromium (Discord desktop is Electron) -----------

# Each case: the line, and its words as an Arabic reader must see them on screen from left to right.
VISUAL_CASES = [
    ("IEP اجتماع اليوم.", [".", "اليوم", "اجتماع", "IEP"]),
    ("6 طلاب حضروا.", [".", "حضروا", "طلاب", "6"]),
    ("الاجتماع الساعة 6:00 PM في المكتبة", ["المكتبة", "6:00", "PM", "الساعة", "الاجتماع"]),
    ("اتصل (555) 123-4567 الآن", ["الآن", "(555)", "123-4567", "اتصل"]),
]
# Desktop/web: a block with no dir attribute. Mobile: each line takes the direction of its first strong
# character, which Chromium does with unicode-bidi: plaintext.
_CSS = "div{white-space:pre-wrap;width:360px;font:16px sans-serif;margin:6px} .mobile{unicode-bidi:plaintext}"
_POSITIONS = r"""
[...document.querySelectorAll('div')].map(el => {
  const node = el.firstChild, text = node.data, words = JSON.parse(el.dataset.words);
  const box = el.getBoundingClientRect();
  return words.map(w => {
    const i = text.indexOf(w), r = document.createRange();
    r.setStart(node, i); r.setEnd(node, i + w.length);
    const b = r.getBoundingClientRect();
    return [w, b.left, b.right - box.left, box.width];
  });
})
"""


async def _layout(tmp_path: Path, texts: list[tuple[str, list[str], str]]) -> list[list[list]]:
    rows = "".join(
        f"<div class='{mode}' data-words='{html.escape(json.dumps(words))}'>{html.escape(text)}</div>"
        for text, words, mode in texts
    )
    page = tmp_path / "bidi.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><style>{_CSS}</style>{rows}", encoding="utf-8")
    async with Browser() as browser:
        await browser.open(page, width=400)
        return await browser.evaluate(_POSITIONS)


def _left_to_right(positions: list[list]) -> list[str]:
    return [word for word, *_ in sorted(positions, key=lambda p: p[1])]


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
async def test_marked_arabic_reads_right_to_left_on_desktop_and_mobile_in_chromium(tmp_path):
    texts = [
        (mark_rtl(line), sorted(words, key=line.index), mode)
        for line, words in VISUAL_CASES
        for mode in ("desk", "mobile")
    ]
    laid_out = await _layout(tmp_path, texts)
    for (line, expected), desk, mobile in zip(VISUAL_CASES, laid_out[0::2], laid_out[1::2], strict=True):
        assert _left_to_right(desk) == expected, line
        assert _left_to_right(mobile) == expected, line
        right_edge = max(p[2] for p in mobile)
        assert right_edge > mobile[0][3] - 4, f"{line!r} should be right-aligned on mobile"


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
async def test_unmarked_arabic_comes_out_in_the_wrong_order_on_desktop(tmp_path):
    """The control: without the marks, the same lines are scrambled, so the test above can fail."""
    texts = [(line, sorted(words, key=line.index), "desk") for line, words in VISUAL_CASES]
    laid_out = await _layout(tmp_path, texts)
    for (line, expected), desk in zip(VISUAL_CASES, laid_out, strict=True):
        assert _left_to_right(desk) != expected, line


def test_marks_never_take_a_message_past_discords_limit_and_the_first_lines_keep_theirs():
    line = "اجتماع IEP يوم 10 AM مع <@123> في https://school.example.org/a\n"
    text = line * (1990 // len(line))
    marked = mark_rtl(text, limit=2000)
    assert len(text) <= 2000 < len(mark_rtl(text)) and len(marked) <= 2000
    lines = marked.split("\n")
    assert lines[0] == mark_rtl(line.rstrip("\n"))  # fully marked
    assert lines[-2] == line.rstrip("\n")  # the last ones go without, rather than the message being cut
    assert unmark(marked) == text


def test_a_text_already_over_the_limit_is_marked_no_further():
    text = ("اجتماع IEP.\n" * 400)[:2100]
    assert mark_rtl(text, limit=2000) == text
