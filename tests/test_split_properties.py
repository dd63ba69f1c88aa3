"""Property: splitting a long message never cuts a character a reader sees (skin-tone emoji, flags, ZWJ
sequences, keycaps, accents, Hangul), never cuts Discord markup, keeps every part within the limit, and loses
or repeats nothing but the whitespace it splits on."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import grapheme_boundary, split_message

CLUSTERS = [
    "👍🏽",  # skin tone
    "👩🏾‍🏫",  # skin tone + ZWJ sequence
    "👨‍👩‍👧‍👦",  # family: four people joined by ZWJ
    "🏳️‍🌈",  # variation selector + ZWJ
    "🇲🇽",
    "🇻🇳",
    "🇺🇸",  # flags: pairs of regional indicators
    "1️⃣",  # keycap
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # subdivision flag (tag sequence)
    "e\u0301",
    "n\u0303",
    "a\u0300\u0323",  # combining accents
    "\u1112\u1161\u11ab",  # 한 as jamo
    "कि",  # Devanagari consonant + vowel sign
    "ế",
    "字",
    "a",
    "b",
    "z",
]
TOKENS = ["<@123456789>", "<#987654321>", "<t:1700000000:R>", "https://example.org/a?b=1", "`code span`", "||secret||"]
SEPARATORS = ["", "", "", " ", " ", "\n", ". ", "\n\n"]


@st.composite
def messages(draw) -> tuple[str, set[int], list[tuple[int, int]]]:
    """A text, the positions between its clusters, and the spans of its markup tokens."""
    text, bounds, tokens = "", {0}, []
    spaced = draw(st.booleans())  # without separators every cut is a hard cut: the splitter's last resort
    for _ in range(draw(st.integers(1, 160))):
        if draw(st.integers(0, 9)) == 0:
            token = draw(st.sampled_from(TOKENS))
            text += " "
            bounds.add(len(text))
            tokens.append((len(text), len(text) + len(token)))
            text += token + " "
        else:
            text += draw(st.sampled_from(CLUSTERS))
            bounds.add(len(text))
            text += draw(st.sampled_from(SEPARATORS)) if spaced else ""
        bounds.add(len(text))
    bounds |= {i for i, ch in enumerate(text) if ch.isspace()} | {i + 1 for i, ch in enumerate(text) if ch.isspace()}
    return text, bounds, tokens


@settings(max_examples=150, deadline=None)
@given(message=messages(), limit=st.integers(30, 120))
def test_split_keeps_every_cluster_and_token_whole_and_parts_within_the_limit(message, limit):
    text, bounds, tokens = message
    parts = split_message(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert re.sub(r"\s+", "", "".join(parts)) == re.sub(r"\s+", "", text)  # nothing lost, nothing doubled
    pos = 0
    for part in parts:
        start = text.index(part, pos)
        end = start + len(part)
        assert start in bounds and end in bounds, f"cut inside a character near {text[max(start - 3, 0) : end + 3]!r}"
        for t_start, t_end in tokens:
            assert not (t_start < start < t_end or t_start < end < t_end), "cut inside markup"
        pos = end


@given(st.sampled_from(CLUSTERS), st.sampled_from(CLUSTERS))
def test_grapheme_boundary_is_between_clusters_and_never_inside_one(first, second):
    text = first + second
    assert grapheme_boundary(text, len(first))
    assert not any(grapheme_boundary(text, i) for i in range(1, len(first)))
