"""Markup survives machine translation, and long messages split where a reader would expect."""

import re
import unicodedata

import pytest

from bot.text import PLACEHOLDER, Holder, protected_spans, shield, split_message, unshield

MARKUP = [
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&987654321098765432>",
    "<#111222333444555666>",
    "</translate text:123456789012345678>",
    "<:school:123456789012345678>",
    "<a:wave:123456789012345678>",
    "<t:1700000000>",
    "<t:1700000000:R>",
    "@everyone",
    "@here",
    "https://example.org/agenda?week=3&lang=fr#item-2",
    "http://example.org/menu",
    "<https://example.org/no-embed>",
    "`npm install`",
    "``a `tick` inside``",
    "```py\nprint('hello')\nfor x in y:\n    pass\n```",
    "||the surprise party is friday||",
]


def words_around(markup: str) -> list[tuple[str, bool]]:
    return [("please", False), ("read", False), (markup, True), ("before", False), ("friday", False)]


def render(parts: list[tuple[str, bool]]) -> str:
    return " ".join(part for part, _ in parts)


def fake_translate(shielded: str, mangle) -> str:
    """An engine that shouts every word and then mangles each token the way `mangle` says."""
    return re.sub(r"ZQX(\d+)Z", lambda m: mangle(m[1]), shielded.upper())


FULL_WIDTH = str.maketrans("ZQX0123456789", "ＺＱＸ０１２３４５６７８９")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")

MANGLES = {
    "intact": lambda i: f"ZQX{i}Z",
    "spaces_around_index": lambda i: f"ZQX {i} Z",
    "spaces_between_letters": lambda i: f"Z Q X{i}Z",
    "lower_case": lambda i: f"zqx{i}z",
    "title_case": lambda i: f"Zqx{i}z",
    "full_width": lambda i: f"ZQX{i}Z".translate(FULL_WIDTH),
    "persian_digits": lambda i: f"ZQX{i.translate(PERSIAN)}Z",
    "arabic_indic_digits": lambda i: f"ZQX{i.translate(ARABIC_INDIC)}Z",
    "devanagari_digits": lambda i: f"zqx {i.translate(DEVANAGARI)} z",
}


@pytest.mark.parametrize("markup", MARKUP)
def test_each_kind_of_markup_becomes_exactly_one_token(markup):
    shielded, holder = shield(f"please read {markup} before friday")

    assert shielded == "please read ZQX0Z before friday"
    assert holder.values == [markup]


@pytest.mark.parametrize("mangle", MANGLES.values(), ids=MANGLES.keys())
@pytest.mark.parametrize("markup", MARKUP)
def test_markup_survives_translation_byte_for_byte(markup, mangle):
    parts = words_around(markup)
    shielded, holder = shield(render(parts))

    result = unshield(fake_translate(shielded, mangle), holder)

    assert result == " ".join(part if is_markup else part.upper() for part, is_markup in parts)


def test_markup_survives_when_engine_reorders_words():
    text = "hello <@1> see https://example.org/a and <:cat:42>"
    shielded, holder = shield(text)
    reordered = " ".join(reversed(shielded.split(" ")))

    result = unshield(reordered, holder)

    assert result == "<:cat:42> and https://example.org/a see <@1> hello"


def test_many_tokens_with_two_digit_indices_restore_to_the_right_values():
    mentions = [f"<@{n}>" for n in range(15)]
    shielded, holder = shield(" ".join(mentions))
    mangled = fake_translate(shielded, MANGLES["full_width"])

    assert unshield(mangled, holder) == " ".join(mentions)


def test_dropped_url_token_is_appended_not_lost():
    shielded, holder = shield("Sign up at https://example.org/form today")
    translated = shielded.replace("ZQX0Z ", "").replace("Sign up at", "Inscrivez-vous")

    assert unshield(translated, holder) == "Inscrivez-vous today https://example.org/form"


def test_dropped_code_block_is_appended_on_its_own_line():
    block = "```\nmake test\n```"
    _, holder = shield(f"Run {block}")

    assert unshield("Lancez", holder) == f"Lancez\n{block}"


def test_duplicated_token_is_restored_everywhere_and_reported():
    holder = Holder()
    token = holder.hold("<@42>")

    restored = holder.restore(f"{token} merci {token.lower()}")

    assert restored.text == "<@42> merci <@42>"
    assert restored.duplicated == [0]
    assert restored.missing == []


def test_missing_tokens_are_reported():
    holder = Holder()
    holder.hold("<@1>")
    holder.hold("<@2>")

    restored = holder.restore("only ZQX1Z here")

    assert restored.text == "only <@2> here"
    assert restored.missing == [0]


def test_token_with_digits_split_by_spaces_restores_the_whole_index():
    holder = Holder()
    for n in range(13):
        holder.hold(f"<@{n}>")

    assert holder.restore("voir ZQX 1 2 Z").text == "voir <@12>"


def test_token_index_out_of_range_is_left_as_is():
    holder = Holder()
    holder.hold("<@1>")

    restored = holder.restore("ZQX0Z and ZQX7Z")

    assert restored.text == "<@1> and ZQX7Z"


def test_restore_uses_substitute_values_for_chosen_indices():
    holder = Holder()
    holder.hold("parent-teacher meeting")
    holder.hold("<@1>")

    restored = holder.restore("ZQX0Z avec ZQX1Z", {0: "réunion parents-professeurs"})

    assert restored.text == "réunion parents-professeurs avec <@1>"


def test_placeholder_format_is_the_token():
    holder = Holder()
    holder.hold("a")
    assert [holder.hold(str(i)) for i in range(1, 13)][-1] == PLACEHOLDER.format(12) == "ZQX12Z"


@pytest.mark.parametrize(
    ("translated", "expected"),
    [
        ("ZQX0Zebra", "<@1>ebra"),
        ("fizzZQX0Z", "fizz<@1>"),
        ("ZQX 0 zoo", "<@1> zoo"),
        ("ZQX0 and more", "<@1> and more"),
        ("ZQX0Z\nZQX0Z", "<@1>\n<@1>"),
        ("jazz quiz 0 zoo", "jazz quiz 0 zoo"),
    ],
)
def test_restore_does_not_eat_surrounding_text(translated, expected):
    holder = Holder()
    holder.hold("<@1>")

    assert holder.restore(translated).text == expected


def test_shield_continues_numbering_in_a_shared_holder():
    holder = Holder()
    holder.hold("glossary term")

    shielded, same = shield("hi <@1>", holder)

    assert same is holder
    assert shielded == "hi ZQX1Z"


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("See https://example.org/page.", "https://example.org/page"),
        ("See https://example.org/page, then", "https://example.org/page"),
        ("(see https://example.org/page)", "https://example.org/page"),
        ("Read https://en.wikipedia.org/wiki/Mercury_(planet).", "https://en.wikipedia.org/wiki/Mercury_(planet)"),
        ("Really? https://example.org/q?a=1!", "https://example.org/q?a=1"),
        ("请看https://example.org/x。", "https://example.org/x"),
    ],
)
def test_url_does_not_swallow_trailing_sentence_punctuation(text, url):
    [(start, end)] = protected_spans(text)

    assert text[start:end] == url


def test_url_inside_code_block_is_part_of_the_code_block():
    text = "Try:\n```\ncurl https://example.org/api\n```\n`https://x.org` too"

    spans = [text[start:end] for start, end in protected_spans(text)]

    assert spans == ["```\ncurl https://example.org/api\n```", "`https://x.org`"]


def test_inline_code_after_a_code_block_is_still_found():
    text = "```a``` and `b`"

    assert [text[s:e] for s, e in protected_spans(text)] == ["```a```", "`b`"]


def test_plain_text_and_unicode_emoji_are_left_for_the_engine():
    text = "Meeting at 6pm 🎉 — e.g. a.m. or p.m., the U.S. end.Then bring 2 < 3 things"

    assert protected_spans(text) == []
    assert shield(text)[0] == text


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Write to principal@school.org today.", ["principal@school.org"]),
        ("See www.school.org/principal.", ["www.school.org/principal"]),
        ("Our site school.org/families, or k12.ca.us", ["school.org/families", "k12.ca.us"]),
        ("mailto:ana@school.org and ftp://files.school.org/iep.pdf", ["mailto:ana@school.org", "ftp://files.school.org/iep.pdf"]),
        ("(see lausd.net/principal)", ["lausd.net/principal"]),
    ],
)  # fmt: skip
def test_addresses_without_http_are_protected_whole(text, spans):
    assert [text[s:e] for s, e in protected_spans(text)] == spans
    shielded, holder = shield(text)
    assert not any(span in shielded for span in spans)  # no part of an address reaches the engine
    assert unshield(fake_translate(shielded, MANGLES["spaces_around_index"]), holder).count(spans[0]) == 1


@pytest.mark.parametrize("lookalike", ["ZQX0Z", "zqx 1 z", "ZQX 12 Z", "Ｚ Q X ３ Z"])
def test_text_that_looks_like_a_placeholder_comes_back_as_written(lookalike):
    text = f"My locker code is {lookalike}, see https://example.org/a"
    shielded, holder = shield(text)
    back = unshield(shielded, holder)
    assert back == text
    assert back.count("https://example.org/a") == 1


# --- split_message ----------------------------------------------------------------------------------


def visible(text: str) -> str:
    return re.sub(r"\s", "", text)


def assert_valid_split(text: str, chunks: list[str], limit: int) -> None:
    assert chunks
    assert all(chunk.strip() for chunk in chunks)
    assert all(len(chunk) <= limit for chunk in chunks)
    assert visible("".join(chunks)) == visible(text)


ENGLISH = " ".join(f"Sentence number {n} is about the school trip." for n in range(90))
CHINESE = "".join(f"第{n}句话是关于学校旅行的安排和家长会议。" for n in range(200))


def test_short_message_is_returned_unchanged():
    text = "  Hello,\n\nparents!  "
    assert split_message(text) == [text]


def test_empty_message_gives_no_chunks():
    assert split_message("") == []
    assert split_message(" \n ") == []


def test_long_english_splits_at_sentence_ends():
    assert len(ENGLISH) > 4000

    chunks = split_message(ENGLISH)

    assert_valid_split(ENGLISH, chunks, 2000)
    assert 2 <= len(chunks) <= 3
    assert all(chunk.endswith("trip.") for chunk in chunks)


def test_long_chinese_without_spaces_splits_at_full_stop():
    assert len(CHINESE) > 4000

    chunks = split_message(CHINESE)

    assert_valid_split(CHINESE, chunks, 2000)
    assert 2 <= len(chunks) <= 3
    assert all(chunk.endswith("。") for chunk in chunks)
    assert "".join(chunks) == CHINESE


@pytest.mark.parametrize("mark", ["؟", "।", "។", "！", "？"])
def test_sentence_marks_that_need_no_space_are_boundaries(mark):
    text = mark.join(["ab" * 20] * 10) + mark

    chunks = split_message(text, limit=100)

    assert_valid_split(text, chunks, 100)
    assert all(chunk.endswith(mark) for chunk in chunks)


def test_single_huge_word_is_cut_hard():
    word = "a" * 4000

    assert split_message(word) == ["a" * 2000, "a" * 2000]


def test_hard_cut_does_not_separate_a_combining_accent_from_its_letter():
    text = "a" + "e\u0301" * 1500

    chunks = split_message(text)

    assert_valid_split(text, chunks, 2000)
    assert not any(unicodedata.combining(chunk[0]) for chunk in chunks)


def test_paragraph_break_is_preferred_over_sentence_end():
    first = "One sentence here. " * 60 + "Last one."
    second = "Another paragraph starts. " * 40
    text = f"{first}\n\n{second}"

    chunks = split_message(text)

    assert chunks[0] == first
    assert chunks[1] == second.rstrip()


def test_paragraph_break_is_preferred_over_a_later_line_break():
    text = "Sentence. " * 120 + "\n\n" + "Line. " * 30 + "\n" + "More. " * 200

    chunks = split_message(text)

    assert chunks[0] == ("Sentence. " * 120).rstrip()


def test_early_boundary_is_skipped_for_a_later_one_to_avoid_tiny_chunks():
    text = "Opening remark.\n\n" + "Then many sentences follow. " * 120

    chunks = split_message(text)

    assert_valid_split(text, chunks, 2000)
    assert len(chunks) == 2
    assert len(chunks[0]) > 1900


def test_chunk_starting_on_a_new_line_keeps_its_indentation():
    text = "x" * 1990 + "\n    - indented item"

    assert split_message(text) == ["x" * 1990, "    - indented item"]


def test_line_break_is_preferred_over_sentence_end():
    text = "Short line. " * 100 + "end\n" + "More. " * 200

    chunks = split_message(text)

    assert chunks[0].endswith("end")
    assert chunks[1].startswith("More.")


def test_whitespace_is_used_when_there_is_no_sentence_end():
    text = "word " * 900

    chunks = split_message(text)

    assert_valid_split(text, chunks, 2000)
    assert all(set(chunk.split()) == {"word"} for chunk in chunks)


@pytest.mark.parametrize("offset", range(-25, 3))
def test_mention_straddling_the_limit_is_not_cut(offset):
    mention = "<@123456789012345678>"
    prefix = "x" * (2000 + offset)  # no spaces: a careless splitter would cut at 2000
    text = prefix + mention + "y" * 100

    chunks = split_message(text)

    assert_valid_split(text, chunks, 2000)
    assert any(mention in chunk for chunk in chunks)


@pytest.mark.parametrize(
    "markup",
    ["https://example.org/" + "a" * 60, "<a:party:123456789012345678>", "`some code here`", "||hidden bit||"],
)
def test_markup_at_the_boundary_stays_whole(markup):
    text = "word " * 395 + "word" + markup + " and more words" * 10

    chunks = split_message(text)

    assert_valid_split(text, chunks, 2000)
    assert any(markup in chunk for chunk in chunks)


def test_long_code_block_is_split_with_valid_fences():
    code = "\n".join(f"    value_{n} = compute({n})  # step {n}" for n in range(200))
    text = f"Here is the script:\n```python\n{code}\n```\nThanks!"

    chunks = split_message(text)

    assert len(chunks) >= 3
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)
    assert all(chunk.startswith("```python\n") for chunk in chunks[1:])
    bodies = [re.search(r"```python\n(.*?)\n?```", chunk, re.S)[1] for chunk in chunks]
    assert "\n".join(bodies) == code
    assert chunks[-1].endswith("```\nThanks!")


def test_long_code_block_with_one_long_line_is_cut_inside_the_fence():
    text = "```\n" + "x" * 4500 + "\n```"

    chunks = split_message(text)

    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(chunk.startswith("```\n") and chunk.endswith("```") for chunk in chunks)
    assert visible("".join(chunks)).count("x") == 4500


def test_split_code_block_never_leaves_an_empty_block():
    text = "```\n" + ("a" * 99 + "\n") * 25 + "```" + "Z" * 3000

    chunks = split_message(text)

    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)
    assert not any("```\n```" in chunk for chunk in chunks)


def test_code_block_that_fits_is_moved_whole_to_the_next_chunk():
    block = "```\n" + "line\n" * 100 + "```"
    text = "intro " * 300 + block

    chunks = split_message(text)

    assert_valid_split(text, chunks, 2000)
    assert chunks[-1] == block


def test_backend_sized_chunks_use_the_given_limit():
    chunks = split_message(ENGLISH * 3, limit=4500)

    assert_valid_split(ENGLISH * 3, chunks, 4500)
    assert len(chunks) == 3
