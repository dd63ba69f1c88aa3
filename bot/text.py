"""Text plumbing around machine translation: shield Discord markup, put it back, split long messages.

Translation engines happily translate a URL, an e-mail address, a mention or a line of code, and they mangle
anything that looks like a word. So markup is swapped for short opaque tokens before translation and swapped
back after, tolerating what engines do to tokens (spaces, case, full-width letters, other digit scripts,
moving, dropping or repeating them). Text a user wrote that looks like a token is itself held as markup, so
it can never be mistaken for one. Splitting respects Discord's 2000-character limit without cutting markup.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

PLACEHOLDER = "ZQX{}Z"

# --- Markup that must come through translation unchanged -------------------------------------------

_FENCE = re.compile(r"```[\s\S]*?```")
_FENCE_OPENING = re.compile(r"```([\w.+#-]*)\n")
_SIMPLE_MARKUP = (
    _FENCE,
    re.compile(r"``[\s\S]+?``"),  # double-backtick inline code (may contain single backticks)
    re.compile(r"`[^`]+`"),
    re.compile(r"\|\|[\s\S]+?\|\|"),  # spoiler, kept whole
    re.compile(r"<@[!&]?\d+>"),  # user / role mention
    re.compile(r"<#\d+>"),
    re.compile(r"</[\w-]+(?: [\w-]+){0,2}:\d+>"),  # slash-command mention
    re.compile(r"<a?:\w+:\d+>"),  # custom emoji
    re.compile(r"<t:-?\d+(?::[tTdDfFR])?>"),  # timestamp
    re.compile(r"<https?://[^\s<>]+>"),  # embed-suppressed URL
    re.compile(r"@(?:everyone|here)\b"),
)
_URL = re.compile(r"https?://[^\s<>]+")
_URL_TRAILING = ".,;:!?'\"*_~…。，、！？；：」』”’»"
_BRACKETS = {")": "(", "]": "[", "}": "{"}
_MARKUP_START = re.compile(r"[`|<@]|https?://")
# Addresses written without http(s): other schemes, e-mails, bare domains with or without a path. A bare
# domain needs a common top-level domain written in lower case, so "everyone.Info" or "e.g." stay words.
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|co|us|ca|mx|uk|au|app|dev|me|ly|tv|ai|page|site|online|link|"
    "school|k12|vn|cn|tw|hk|kr|ph|sa|ru|in|jp|pt|br|es|fr|de|it|ws|to|la|kh"
)
_ADDRESSES = (
    re.compile(r"(?:(?:ftps?|sftp|file)://|mailto:)[^\s<>]+", re.IGNORECASE),
    re.compile(r"(?<![\w.+@-])[\w.+-]*\w@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}"),  # e-mail
    re.compile(
        rf"(?<![\w@./:-])(?:www\.[\w-]+(?:\.[\w-]+)+|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?-i:{_TLDS}))"
        r"(?::\d{2,5})?(?:/[^\s<>]*)?(?![\w-])",
        re.IGNORECASE,
    ),
)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    fenced: bool = False


def _url_end(text: str, start: int) -> int:
    """End of a bare URL, leaving out sentence punctuation and a closing bracket the URL never opened."""
    match = _URL.match(text, start)
    if not match:
        return start
    end = _trimmed(text, start, match.end())
    # "https://" alone is not a link.
    return end if len(text[start:end].split("://", 1)[1]) > 0 else start


def _trimmed(text: str, start: int, end: int) -> int:
    """`end` moved back over trailing sentence punctuation and closing brackets the address never opened."""
    while end > start:
        last = text[end - 1]
        url = text[start:end]
        if last in _URL_TRAILING:
            end -= 1
        elif last in _BRACKETS and url.count(last) > url.count(_BRACKETS[last]):
            end -= 1
        else:
            break
    return end


def _spans(text: str) -> list[_Span]:
    """Every span to protect: earliest first, the longest at one position, none inside another."""
    found: list[_Span] = []
    pos = 0
    while (candidate := _MARKUP_START.search(text, pos)) is not None:
        start = candidate.start()
        best, fenced = _url_end(text, start), False
        for pattern in _SIMPLE_MARKUP:
            match = pattern.match(text, start)
            if match and match.end() > best:
                best, fenced = match.end(), pattern is _FENCE
        if best > start:
            found.append(_Span(start, best, fenced))
            pos = best
        else:
            pos = start + 1
    for pattern in _ADDRESSES:
        found += [_Span(m.start(), _trimmed(text, m.start(), m.end())) for m in pattern.finditer(text)]
    found += [_Span(m.start(), m.end()) for m in _TOKEN.finditer(text)]  # the user's own "ZQX1Z"
    found.sort(key=lambda span: (span.start, -span.end))
    spans: list[_Span] = []
    for span in found:
        if span.end > span.start and (not spans or span.start >= spans[-1].end):
            spans.append(span)
    return spans


def protected_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every markup span, in order and non-overlapping (earliest, then longest, wins)."""
    return [(span.start, span.end) for span in _spans(text)]


# --- Tokens and tolerant restore ---------------------------------------------------------------------

_WS = r"[^\S\r\n]"  # whitespace an engine may insert inside a token, never a line break
_Z, _Q, _X = "[ZzＺｚ]", "[QqＱｑ]", "[XxＸｘ]"
_NOT_LETTER = r"(?![^\W\d_])"
_TOKEN = re.compile(
    rf"{_Z}{_WS}*{_Q}{_WS}*{_X}{_WS}*"
    rf"(?:(?P<spaced>\d+(?:{_WS}+\d+)+){_WS}*{_Z}"  # "ZQX 1 2 Z": digits split, closing Z required
    rf"|(?P<digits>\d+)(?:{_Z}|{_WS}+{_Z}{_NOT_LETTER})?)"  # closing Z optional; a spaced z of "zoo" stays
)


def _index(digits: str) -> int:
    """Digits in any script (full-width, Persian, Devanagari...) read as an int."""
    return int("".join(str(unicodedata.digit(ch)) for ch in digits if not ch.isspace()))


def tokens(text: str) -> list[tuple[int, int, int]]:
    """(start, end, index) of every token in a translated text, however the engine mangled it."""
    return [(m.start(), m.end(), _index(m["spaced"] or m["digits"])) for m in _TOKEN.finditer(text)]


@dataclass
class Restored:
    text: str
    missing: list[int]
    duplicated: list[int]


@dataclass
class Holder:
    """Collects spans that must survive translation unchanged and puts them back afterwards."""

    values: list[str] = field(default_factory=list)

    def hold(self, value: str) -> str:
        """Store value; the returned token is what the engine sees instead."""
        self.values.append(value)
        return PLACEHOLDER.format(len(self.values) - 1)

    def restore(self, translated: str, values: dict[int, str] | None = None) -> Restored:
        """Replace every token, however mangled, by its value; `values` overrides some indices."""
        replacements = dict(enumerate(self.values))
        replacements.update(values or {})
        seen: dict[int, int] = {}

        def put_back(match: re.Match[str]) -> str:
            index = _index(match["spaced"] or match["digits"])
            if index not in replacements:
                return match[0]
            seen[index] = seen.get(index, 0) + 1
            return replacements[index]

        text = _TOKEN.sub(put_back, translated)
        missing = sorted(i for i in replacements if i not in seen)
        duplicated = sorted(i for i, count in seen.items() if count > 1)
        return Restored(text, missing, duplicated)


def shield(text: str, holder: Holder | None = None) -> tuple[str, Holder]:
    """Swap Discord markup for tokens so the engine cannot translate or break it."""
    holder = holder if holder is not None else Holder()
    parts: list[str] = []
    pos = 0
    for start, end in protected_spans(text):
        parts.append(text[pos:start])
        parts.append(holder.hold(text[start:end]))
        pos = end
    parts.append(text[pos:])
    return "".join(parts), holder


def unshield(translated: str, holder: Holder) -> str:
    """Put markup back; markup the engine dropped goes at the end, since losing a link is worse."""
    restored = holder.restore(translated)
    text = restored.text
    for index in restored.missing:
        value = holder.values[index]
        if text and not text[-1].isspace():
            text += "\n" if "\n" in value else " "
        text += value
    return text


# --- Splitting -------------------------------------------------------------------------------------

_FENCE_CLOSE = "\n```"
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(
    r"[.!?…]+[\"'”’»)\]]*(?=\s)"  # Latin-style: needs a following space
    r"|[。！？；．؟۔।॥။។።]+[」』”’）》\"')]*"  # scripts whose sentence marks need no space
)
_SPACE = re.compile(r"\s+")
_VISIBLE = re.compile(r"\S")
# Cut before a paragraph/line break or a run of spaces, after a sentence mark.
_BOUNDARIES = ((_PARAGRAPH, False), (_LINE, False), (_SENTENCE, True), (_SPACE, False))
_ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """Characters that belong to the character before them: combining and spacing marks, variation
    selectors, emoji skin tones, tag characters (subdivision flags), the zero-width joiner."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == _ZWJ
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _jamo(ch: str) -> str:
    """Hangul syllable part: L, V, T, LV, LVT, or '' (not Hangul)."""
    cp = ord(ch)
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


_HANGUL_JOINS = {("L", "L"), ("L", "V"), ("L", "LV"), ("L", "LVT"), ("LV", "V"), ("LV", "T"), ("V", "V"),
                 ("V", "T"), ("LVT", "T"), ("T", "T")}  # fmt: skip


def grapheme_boundary(text: str, at: int) -> bool:
    """Whether cutting `text` before position `at` keeps every character a reader sees whole (the rules of
    Unicode's grapheme clusters that chat text meets: marks, skin tones, ZWJ sequences such as family emoji,
    flags, keycaps, subdivision flags, Hangul syllables, CR LF)."""
    if at <= 0 or at >= len(text):
        return True
    before, after = text[at - 1], text[at]
    if (before, after) == ("\r", "\n") or _extends(after) or before == _ZWJ:
        return False
    if _regional(before) and _regional(after):
        run = 0
        while at - run - 1 >= 0 and _regional(text[at - run - 1]):
            run += 1
        return run % 2 == 0  # flags are pairs: cut between pairs, never inside one
    return (_jamo(before), _jamo(after)) not in _HANGUL_JOINS


@dataclass(frozen=True)
class _Cut:
    at: int
    fence: _Span | None = None  # set when the cut falls inside an oversize code block


class _Splitter:
    """One message being split; keeps the markup spans so no candidate cut lands inside one."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.spans = _spans(text)
        self.starts = [span.start for span in self.spans]

    def span_around(self, at: int) -> _Span | None:
        """The span that position `at` would cut through, if any."""
        i = bisect.bisect_left(self.starts, at) - 1
        if i >= 0 and self.spans[i].start < at < self.spans[i].end:
            return self.spans[i]
        return None

    def fence_bounds(self, span: _Span) -> tuple[str, int]:
        """Reopening line (with the language tag) and where the code of a fenced block starts."""
        opening = _FENCE_OPENING.match(self.text, span.start)
        if opening:
            return f"```{opening[1]}\n", opening.end()
        return "```\n", span.start + 3

    def splittable_fence(self, span: _Span | None) -> bool:
        return span is not None and span.fenced and span.end - span.start > self.limit

    def first_visible(self, pos: int) -> int:
        """Index of the first non-whitespace character at or after pos."""
        visible = _VISIBLE.search(self.text, pos)
        return visible.start() if visible else len(self.text)

    def allowed(self, at: int, pos: int, budget: int, code_ok: bool) -> _Cut | None:
        """A cut at `at` if it is legal for a chunk starting at `pos` with room for `budget` chars."""
        if at - pos > budget or at <= self.first_visible(pos) or not grapheme_boundary(self.text, at):
            return None
        span = self.span_around(at)
        if span is None:
            return _Cut(at)
        if not (code_ok and self.splittable_fence(span)):
            return None
        _, code_start = self.fence_bounds(span)
        inside_code = self.text[max(pos, code_start) : at].strip()
        if at - pos + len(_FENCE_CLOSE) > budget or not inside_code:
            return None
        if not self.text[at : span.end - 3].strip():  # nothing left but the closing fence
            return None
        return _Cut(at, span)

    def best_cut(self, pos: int, budget: int) -> _Cut:
        """Best boundary in the window: highest-ranked kind in its second half, else anywhere, else hard."""
        window_end = min(len(self.text), pos + budget + 1)
        found: list[_Cut | None] = []
        for pattern, after in _BOUNDARIES:
            best = None
            code_ok = pattern is _PARAGRAPH or pattern is _LINE
            for match in pattern.finditer(self.text, pos, window_end):
                cut = self.allowed(match.end() if after else match.start(), pos, budget, code_ok)
                best = cut or best
            found.append(best)
        half = pos + budget // 2
        for cut in found:
            if cut and cut.at >= half:
                return cut
        for cut in found:
            if cut:
                return cut
        return self.hard_cut(pos, budget)

    def hard_cut(self, pos: int, budget: int) -> _Cut:
        """Cut mid-word as a last resort, but not through markup or a grapheme when avoidable."""
        at = pos + budget
        first = self.first_visible(pos)
        span = self.span_around(at)
        fence = None
        if span is not None and self.splittable_fence(span):
            _, code_start = self.fence_bounds(span)
            at = min(at - len(_FENCE_CLOSE), span.end - 4)
            if at > max(pos, code_start):
                fence = span
            elif span.start > first:
                at = span.start
        elif span is not None and span.start > first:
            at = span.start
        while at > pos + 1 and not grapheme_boundary(self.text, at):
            at -= 1
        return _Cut(max(at, pos + 1), fence)

    def split(self) -> list[str]:
        text, chunks = self.text, []
        pos, reopen = 0, ""
        while len(reopen) + len(text[pos:].rstrip()) > self.limit:
            budget = self.limit - len(reopen)
            cut = self.best_cut(pos, budget)
            if cut.fence is not None:
                chunks.append(reopen + text[pos : cut.at] + _FENCE_CLOSE)
                reopen, _ = self.fence_bounds(cut.fence)
                pos = cut.at + 1 if text[cut.at] == "\n" else cut.at
                continue
            chunks.append((reopen + text[pos : cut.at]).rstrip())
            reopen = ""
            pos = self._skip_gap(cut.at)
        tail = reopen + text[pos:].rstrip()
        if tail.strip():
            chunks.append(tail)
        return chunks

    def _skip_gap(self, at: int) -> int:
        """Skip the whitespace split on, but keep the indentation of the line the next chunk starts on."""
        end = at
        while end < len(self.text) and self.text[end].isspace():
            end += 1
        newline = self.text.rfind("\n", at, end)
        return newline + 1 if newline >= 0 else end


def split_message(text: str, limit: int = 2000) -> list[str]:
    """Split text into chunks of at most `limit` chars at the most natural boundary, never inside markup.

    A code block longer than the limit is split inside, closing and reopening its fence.
    Text that is empty or only whitespace gives no chunks.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    return _Splitter(text, limit).split()
