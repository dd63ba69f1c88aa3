"""Right-to-left text that reads right in Discord: invisible direction marks where they help.

How Discord clients lay a message out (researched, not guessed):
- Desktop and web (Electron/Chromium): the message body is a block with no `dir` attribute, so every line
  is a left-to-right paragraph whatever its script. Community plugins exist only to add `dir="auto"`
  (github.com/noamalffasy/RTLSupportDiscord `rtl.plugin.js`; github.com/amoAR/RTLPatcher: "Discord still
  doesn't even support RTL languages"). In an LTR paragraph an Arabic sentence that ends with "." or starts
  with a number or a Latin word ("IEP", "10 AM") comes out in the wrong order. A leading RLM changes
  nothing there; only an RTL isolate around the line does.
- Android and iOS (React Native): each line takes its direction from its first strong character
  (Android `TEXT_DIRECTION_FIRST_STRONG_LTR`: no strong character means LTR; React Native text inputs
  align "Ahmed احمد" left and "احمد Ahmed" right, github.com/callstack/react-native-paper/issues/1007).
  The first-strong scan skips isolated text (UAX #9 P2), so an RLM must come before the isolate.
- Markup: Discord parses `> ` quotes, `# ` headings, `-# ` subtext and `- ` / `1. ` lists only at the start
  of a line, so marks go after that prefix. A bare URL runs until whitespace or `<`; a mark right after
  one becomes part of the link (and one inside breaks it), so nothing is ever put inside or right after a
  bare URL. Mentions, channels, timestamps, custom emoji and `<https://...>` links are matched by their
  `<...>` form, so marks outside the brackets leave them working.

What this module does, per line of an RTL message (a line is a bidi paragraph in every client):
- a line with no RTL letters, or with nothing but RTL letters and spaces, is left alone;
- otherwise the line (after its Markdown prefix) starts with RLM + RLI: the RLM gives mobile clients an
  RTL paragraph (right-aligned), the RLI lays the rest of the line out right-to-left on desktop. The
  isolate is closed by the end of the line (UAX #9 X8), so no PDI is needed where a URL might end;
- inside such a line, Discord entities and inline code are wrapped in FSI ... PDI (a mention shows as
  "@Name": without the isolate the "@" lands on the wrong side), and a number followed by Latin words
  ("10 AM", "504 Plan") or a phone number is wrapped in LRI ... PDI so it reads as one left-to-right unit.
Code blocks are left byte for byte. Running it twice changes nothing more.
"""

from __future__ import annotations

import re
import unicodedata

from bot import languages
from bot.languages import Language
from bot.text import protected_spans

LRM, RLM = "\u200e", "\u200f"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"
LINE_START = RLM + RLI

_RTL = {"R", "AL"}
_HARMLESS = {"R", "AL", "NSM", "WS", "BN"}  # an RTL line made only of these reads right everywhere
# Markdown that Discord recognizes only at the very start of a line.
_PREFIX = re.compile(r"[ \t]*(?:>>> |> )?[ \t]*(?:(?:#{1,3}|-#) +)?(?:(?:[-*+]|\d{1,9}[.)]) +)?")
_PHONE = re.compile(r"\+?(?:\(\d+\)[ .-]?)?\d[\d .-]*\d")


_MARKS = re.compile(f"[{LRM}{RLM}{LRI}{RLI}{FSI}{PDI}]")


def for_discord(text: str, language: str | Language, *, limit: int | None = None) -> str:
    """`text` as it should be sent to a channel in `language`: marked when the language is RTL (see
    `mark_rtl` for `limit`)."""
    lang = language if isinstance(language, Language) else languages.get(language)
    return mark_rtl(text, limit=limit) if lang.rtl else text


def mark_rtl(text: str, *, limit: int | None = None) -> str:
    """Add direction marks to the lines of an RTL message that need them (see the module docstring).

    With `limit` (Discord's 2,000 characters), the result stays within it when `text` does: the last lines
    go unmarked first, so the opening lines, which set how the message reads, keep their marks."""
    spans = protected_spans(text)
    lines: list[tuple[str, str]] = []  # (as written, marked)
    start = 0
    for end in _line_ends(text, spans):
        lines.append((text[start:end], _mark_line(text, start, end, [(s, e) for s, e in spans if start <= s < end])))
        start = end
    if limit is not None:
        extra = sum(len(marked) for _, marked in lines) - max(limit, len(text))
        for i in reversed(range(len(lines))):
            if extra <= 0:
                break
            written, marked = lines[i]
            extra -= len(marked) - len(written)
            lines[i] = (written, written)
    return "".join(marked for _, marked in lines)


def unmark(text: str) -> str:
    """`text` without any direction mark or isolate (to recognise a message whatever marks it was sent with)."""
    return _MARKS.sub("", text)


def _line_ends(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Ends of lines (each keeps its newline); a newline inside markup (a code block) does not end one."""
    inside = [False] * len(text)
    for s, e in spans:
        for i in range(s, e):
            inside[i] = True
    ends = [i + 1 for i, ch in enumerate(text) if ch == "\n" and not inside[i]]
    if not ends or ends[-1] != len(text):
        ends.append(len(text))
    return ends


def _kind(value: str) -> str:
    if value.startswith("```"):
        return "fence"
    if value.startswith("`"):
        return "code"
    if value.startswith("||"):
        return "spoiler"
    if value.startswith("<") and not re.fullmatch(r"<a?:\w+:\d+>", value):
        return "entity"  # mention, channel, role, slash command, timestamp, <https://...>
    if value.startswith("@"):
        return "entity"  # @everyone / @here
    return "plain"  # bare URL, custom emoji: never touched


def _mark_line(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    line = text[start:end]
    newline = "\n" if line.endswith("\n") else ""
    body_end = end - len(newline)
    kinds = [_kind(text[s:e]) for s, e in spans]
    if "fence" in kinds:
        return line
    prefix_end = _PREFIX.match(text, start, body_end).end()
    if text.startswith(LINE_START, prefix_end):
        return line  # already marked
    in_span = [(s, e) for (s, e), kind in zip(spans, kinds, strict=True) if kind != "spoiler"]
    classes = [unicodedata.bidirectional(ch) for ch in _outside(text, prefix_end, body_end, in_span)]
    if not _RTL.intersection(classes):
        return line
    if all(c in _HARMLESS for c in classes) and not in_span:
        return line
    parts = [text[start:prefix_end], LINE_START]
    pos = prefix_end
    for (s, e), kind in zip(spans, kinds, strict=True):
        if s < prefix_end:
            continue
        parts.append(_isolate_numbers(text[pos:s]))
        isolate = kind in ("entity", "code")
        parts.append(FSI + text[s:e] + PDI if isolate else text[s:e])
        pos = e
    parts.append(_isolate_numbers(text[pos:body_end]))
    parts.append(newline)
    return "".join(parts)


def _outside(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    pieces, pos = [], start
    for s, e in spans:
        if s >= start:
            pieces.append(text[pos:s])
            pos = e
    pieces.append(text[pos:end])
    return "".join(pieces)


def _isolate_numbers(segment: str) -> str:
    """Wrap "10 AM"-style phrases and phone numbers in LRI ... PDI so they stay one left-to-right unit."""
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        end = _number_phrase_end(segment, i) if i == 0 or segment[i - 1].isspace() else i
        if end > i:
            out.append(LRI + segment[i:end] + PDI)
            i = end
            continue
        token_end = i + 1  # phrases start only where a word starts
        while token_end < n and not segment[token_end].isspace():
            token_end += 1
        out.append(segment[i:token_end])
        i = token_end
        while i < n and segment[i].isspace():
            out.append(segment[i])
            i += 1
    return "".join(out)


def _number_phrase_end(segment: str, i: int) -> int:
    """End of a number-led LTR phrase (or a phone number) that starts at i, or i when there is none."""
    phone = _PHONE.match(segment, i)
    if phone and sum(ch.isdigit() for ch in phone[0]) >= 7 and not phone[0].isdigit():
        if not segment[phone.end() : phone.end() + 1].isalnum():
            return phone.end()
    if unicodedata.bidirectional(segment[i]) != "EN":
        return i
    j, last, latin = i, i, False
    while j < len(segment):
        ch = segment[j]
        cls = unicodedata.bidirectional(ch)
        if cls == "L":
            latin = True
        elif cls not in ("EN", "ES", "ET", "CS", "NSM") and ch != " ":
            break
        if cls in ("L", "EN"):
            last = j + 1
        j += 1
    # "12B" or "3rd" is one left-to-right run already; only a space or separator before the Latin part
    # ("10 AM", "6:00 PM") lets the RTL sentence pull the two halves apart.
    gap = any(unicodedata.bidirectional(ch) not in ("L", "EN", "NSM") for ch in segment[i:last])
    return last if latin and gap else i
