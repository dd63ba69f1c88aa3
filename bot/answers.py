"""Is this answer a translation? Checked before an answer is used or cached.

An answer fails when it is empty, the source text unchanged (unless the source is only names, numbers or an
acronym), mostly in another script than the target's (Latin letters for a Chinese channel; words carried over
from the source, such as names, do not count), or far longer than the source.
"""

from __future__ import annotations

import re
import unicodedata

# Letters a target language is written in (Unicode script names, as unicodedata spells their first word).
SCRIPTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(["zh", "zh-CN", "zh-TW", "yue"], frozenset({"CJK"})),
    "ja": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    "ko": frozenset({"HANGUL", "CJK"}),
    **dict.fromkeys(["ar", "fa", "ur", "ps", "prs", "ckb"], frozenset({"ARABIC"})),
    **dict.fromkeys(["ru", "uk", "bg", "mk", "sr", "mn", "kk", "ky", "tg", "be"], frozenset({"CYRILLIC"})),
    **dict.fromkeys(["hi", "mr", "ne"], frozenset({"DEVANAGARI"})),
    "km": frozenset({"KHMER"}),
    "lo": frozenset({"LAO"}),
    "th": frozenset({"THAI"}),
    "my": frozenset({"MYANMAR"}),
    "pa": frozenset({"GURMUKHI"}),
    "bn": frozenset({"BENGALI"}),
    "gu": frozenset({"GUJARATI"}),
    "ta": frozenset({"TAMIL"}),
    "te": frozenset({"TELUGU"}),
    "am": frozenset({"ETHIOPIC"}),
    "ti": frozenset({"ETHIOPIC"}),
    "hy": frozenset({"ARMENIAN"}),
    "ka": frozenset({"GEORGIAN"}),
    "he": frozenset({"HEBREW"}),
    "el": frozenset({"GREEK"}),
    **dict.fromkeys(
        ["en", "es", "vi", "tl", "hmn", "sm", "to", "pt", "fr", "de", "it", "pl", "tr", "id", "ms", "so", "sw",
         "ht", "ro", "nl", "mh", "chk", "ilo", "mix", "zap", "mam", "quc",
         "pon", "ch", "haw", "qu", "yo", "ig", "ha", "om", "uz", "az", "cs", "sk"],
        frozenset({"LATIN"}),
    ),
}  # fmt: skip
DENSE_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL"})  # one character says what a Latin word does
_TOKEN = re.compile(r"ZQX\s*\d+\s*Z", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split()[0]
    except ValueError:
        return "UNKNOWN"


def _letters(text: str) -> list[str]:
    return [ch for ch in _TOKEN.sub(" ", text) if ch.isalpha()]


def check_answer(source_text: str, answer: str, source_code: str, target_code: str) -> str | None:
    """Why this answer must not be used or cached, or None when it looks like a translation."""
    if not answer.strip():
        return "empty answer"
    src_letters = _letters(source_text)
    dense_source = sum(_script(c) in DENSE_SCRIPTS for c in src_letters) > len(src_letters) / 2
    limit = (8 if dense_source else 4) * len(source_text) + 100
    if len(answer) > limit:
        return f"answer {len(answer)} characters long for {len(source_text)} sent"
    found = [w for w in _WORD.findall(_TOKEN.sub(" ", source_text)) if any(c.isalpha() for c in w)]
    words = {w.casefold() for w in found}
    # Names, numbers, acronyms ("Mr. Davis", "LCAP", "6 pm") may come back unchanged; ordinary words may not.
    neutral = sum(len(w) > 1 and not w[0].isupper() for w in found) < 2
    if source_code != target_code and not neutral and answer.strip().casefold() == source_text.strip().casefold():
        return "the answer is the source text, untranslated"
    expected = SCRIPTS.get(target_code) or SCRIPTS.get(target_code.split("-")[0])
    if expected and src_letters:
        # Words carried over from the source (names, acronyms) do not count against the target script.
        kept = " ".join(w for w in _WORD.findall(_TOKEN.sub(" ", answer)) if w.casefold() not in words)
        letters = _letters(kept)
        native = sum((3 if _script(c) in DENSE_SCRIPTS else 1) for c in letters if _script(c) in expected)
        foreign = sum(1 for c in letters if _script(c) not in expected)
        if native == 0 and foreign == 0 and not neutral and expected != {"LATIN"}:
            return f"no {'/'.join(sorted(expected)).lower()} text in the answer"
        if foreign > native:
            return f"the answer is not in {'/'.join(sorted(expected)).lower()} script"
    return None
