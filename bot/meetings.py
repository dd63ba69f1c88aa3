"""Meetings run from slash commands, without Discord: the lifecycle, names, texts, transcripts and when
interpreters are called. The Discord side (bot/discord/layout.py, cogs/meetings.py) makes the calls.

Lifecycle (a meeting row's `state`; `MOVES` lists the allowed moves):

    ready ──start──▶ live ──pause──▶ paused ──start (resume)──▶ live
      │               │                │
      │               └──────end───────┴──▶ ended ──start (a new session)──▶ live
      └──────────── archive (from any state; a live or paused meeting ends first) ──▶ archived

Relaying follows the state: a meeting relays while live, or always when it is "always on" (meetings linked
by hand with `/concord link` are), and never once archived (store.set_meeting_state keeps `active` in step).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot import languages, welcome
from bot.bidi import for_discord
from bot.relay import LATE, NEEDS_INTERPRETER, UNTRANSLATED, without_markers
from bot.store import Copy, Meeting, Store, snowflake_time, time_snowflake
from bot.transcripts import Entry, MeetingRecord, Rendering, labels, zone

if TYPE_CHECKING:
    from bot.translation import TranslationService

STATES = ("ready", "live", "paused", "ended", "archived")
MOVES: dict[str, set[str]] = {
    "ready": {"live", "archived"},
    "live": {"paused", "ended", "archived"},
    "paused": {"live", "ended", "archived"},
    "ended": {"live", "archived"},
    "archived": set(),
}
MAIN_CHANNEL = "main"  # the English channel: the facilitator speaks there, and the language picker is pinned there
NAME_LIMIT = 80  # meeting names: a category name holds 100; role names add " · <language>"
INTERPRETER_QUIET = 120.0  # seconds without a message after which the next one calls the interpreters again


class MeetingError(Exception):
    """A meeting command that cannot be done; the message says why, and nothing was changed."""


# --- lifecycle -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What a command did to a meeting."""

    state: str
    notice: str | None  # the notice every channel gets: started | resumed | paused | ended
    ended: bool  # a session ended: time for transcripts and attendance


async def move(store: Store, meeting: Meeting, action: str, *, now: float | None = None) -> Step:
    """Run `action` (start | pause | end | archive) on a meeting, or raise MeetingError saying why not."""
    now = time.time() if now is None else now
    state, name = meeting.state, f"**{meeting.name}**"
    if state == "archived":
        raise MeetingError(f"{name} is archived; create a new meeting with `/meeting create`")
    if action == "start":
        if state == "live":
            raise MeetingError(f"{name} is already live")
        if state == "paused":
            await store.set_meeting_state(meeting.id, "live", restart_cursors=True)
            return Step("live", "resumed", ended=False)
        await store.set_meeting_state(meeting.id, "live", started_at=now, restart_cursors=True)
        return Step("live", "started", ended=False)
    if action == "pause":
        if meeting.always_on:
            raise MeetingError(f"{name} is always on, so it cannot be paused; `/meeting end` ends it")
        if state != "live":
            raise MeetingError(f"{name} is not live ({state}); `/meeting start` starts it")
        await store.set_meeting_state(meeting.id, "paused")
        return Step("paused", "paused", ended=False)
    if action == "end":
        if state not in ("live", "paused"):
            raise MeetingError(f"{name} is not running ({state}); `/meeting start` starts it")
        await store.set_meeting_state(meeting.id, "ended", ended_at=now)
        return Step("ended", "ended", ended=True)
    if action == "archive":
        running = state in ("live", "paused")
        await store.set_meeting_state(meeting.id, "archived", ended_at=now if running else None)
        return Step("archived", "ended" if running else None, ended=running)
    raise ValueError(f"unknown meeting action {action!r}")


def clean_name(name: str) -> str:
    """A meeting name as typed, on one line; MeetingError when it cannot name a category."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise MeetingError("the meeting name is empty")
    if len(cleaned) > NAME_LIMIT:
        raise MeetingError(f"the meeting name is {len(cleaned)} characters long; the limit is {NAME_LIMIT}")
    return cleaned


def parse_languages(codes: str) -> list[languages.Language]:
    """'es, vi, zh-TW' -> the meeting's language channels (English is the main channel, never listed)."""
    found = [lang for lang in languages.parse_list(codes) if lang.code != "en"]
    if not found:
        raise MeetingError("name at least one language besides English, e.g. `es,vi,zh-TW`")
    return found


def role_name(meeting: str, code: str) -> str:
    """The language role that shows a meeting's channel, e.g. "ELAC · Español"."""
    return f"{meeting} · {languages.get(code).native}"[:100]


def interpreter_role_name(meeting: str) -> str:
    return f"{meeting} · interpreters"[:100]


def topic(meeting: str, code: str) -> str:
    lang = languages.get(code)
    if code == "en":
        return f"{meeting}: the facilitator's channel (English). Pick your language below to see your channel."
    names = lang.native if lang.native == lang.english else f"{lang.native} ({lang.english})"
    return f"{meeting} · {names}"


# --- texts in each channel's language ------------------------------------------------------------


async def localized(
    kind: str, language: str, *, meeting: str, translator: TranslationService | None, keep_days: float = 30
) -> str:
    """The welcome (`kind="welcome"`) or a notice (started, paused, resumed, ended) in a channel's language.

    Languages without written wording get the English text machine-translated; any text no person has
    reviewed ends with the draft mark in the reader's language. Without a translation (the service is down, or
    no engine has the language) the English text is shown."""
    lang = languages.get(language)
    if kind == "welcome":
        notice = welcome.welcome(lang.code, meeting=meeting, keep_days=round(keep_days))
    else:
        notice = welcome.notice(kind, lang.code, meeting=meeting)
    text, note = notice.text, welcome.draft_note(lang.code)
    if notice.language != lang.code and lang.machine_translated and translator is not None:
        english = languages.LANGUAGES["en"]
        # The menu item keeps its English name in Discord: a code span keeps it out of translation.
        source = text.replace("“Show original”", "`Show original`")
        done = await translator.translate(source, english, lang)
        if done.ok:
            text = for_discord(done.text, lang)
            mark = await translator.translate(note, english, lang)
            note = mark.text if mark.ok else note
    if lang.interpreter_only:  # English, on purpose: no engine writes this language
        return text + f"\n-# {NEEDS_INTERPRETER} English: a volunteer interpreter helps in this channel."
    if notice.draft:
        text += "\n-# ✏️ " + for_discord(note, lang)
    return text


# --- the language picker -------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    label: str  # the language's own name and script, then its English name
    value: str  # language code
    description: str


def picker_choices(codes: list[str]) -> list[Choice]:
    """One choice per channel of the meeting, English (the main channel) last."""
    ordered = [c for c in codes if c != "en"] + (["en"] if "en" in codes else [])
    choices = []
    for code in ordered:
        lang = languages.get(code)
        label = lang.native if lang.native == lang.english else f"{lang.native} — {lang.english}"
        description = "#" + (MAIN_CHANNEL if code == "en" else lang.channel)
        choices.append(Choice(label[:100], code, description[:100]))
    return choices


def picker_placeholder(codes: list[str]) -> str:
    """The word for language in each of the meeting's languages: "🌐 Language · Idioma · Ngôn ngữ · 語言"."""
    words = list(dict.fromkeys(labels(code).language for code in ["en", *codes]))
    text = "🌐 " + " · ".join(words)
    return text if len(text) <= 150 else text[:149] + "…"


def picker_text(meeting: str, codes: list[str]) -> str:
    names = " · ".join(languages.get(c).native for c in codes if c != "en")
    return (
        f"🌐 **{welcome.plain(meeting)}** — choose your language below to see the meeting in it. You can change it "
        f"at any time.\n-# {names}"
    )


# --- transcripts ---------------------------------------------------------------------------------

Names = Callable[[str, int], Awaitable[str | None]]  # (user | role | channel, id) -> a name, or None
_MENTION = re.compile(r"<(@!?|@&|#)(\d+)>|<a?:(\w+):\d+>|<t:(-?\d+)(?::[tTdDfFR])?>|</([\w -]+):\d+>")


async def resolve_mentions(text: str, names: Names, *, timezone: str = "UTC") -> str:
    """Discord's markup for people, roles, channels, emoji, times and commands as a reader sees it."""
    kinds = {"@": "user", "@!": "user", "@&": "role", "#": "channel"}
    wanted = {(kinds[m[1]], int(m[2])) for m in _MENTION.finditer(text) if m[1]}
    found = {key: await names(*key) for key in wanted}

    def one(m: re.Match[str]) -> str:
        if m[1]:
            kind = kinds[m[1]]
            sign = "#" if kind == "channel" else "@"
            return sign + (found.get((kind, int(m[2]))) or {"user": "someone", "role": "role"}.get(kind, "channel"))
        if m[3]:
            return f":{m[3]}:"
        if m[4]:
            return _local(float(m[4]), timezone).strftime("%Y-%m-%d %H:%M")
        return f"/{m[5]}"

    return _MENTION.sub(one, text)


def _local(at: float, name: str) -> datetime:
    return datetime.fromtimestamp(at, UTC).astimezone(zone(name))


def speaker(author_name: str, language: str) -> str:
    """The speaker's name without the language the relay adds to parents' names ("Lan · Tiếng Việt")."""
    if language != "en":
        suffix = f" · {languages.get(language).native}"
        if author_name.endswith(suffix):
            return author_name[: -len(suffix)]
    return author_name


def _as_shown(copy: Copy, guests: list[Copy]) -> Rendering | None:
    """The text one channel shows for one message: corrections first; combined neighbours and marker lines
    taken off; None when the channel never got it."""
    if copy.state == "corrected" and copy.corrected:
        return Rendering(copy.corrected)
    if copy.state not in ("delivered", "untranslated") or copy.body is None:
        return None
    lines = [line for line in copy.body.split("\n") if not line.startswith(f"-# {LATE}")]
    body = "\n".join(lines)
    for guest in reversed(guests):  # a combined post holds its neighbours' texts after its own
        if guest.body and body.endswith("\n" + guest.body):
            body = body[: -len(guest.body) - 1]
    untranslated = copy.state == "untranslated" or any(
        line.startswith((f"-# {UNTRANSLATED}", f"-# {NEEDS_INTERPRETER}")) for line in body.split("\n")
    )
    return Rendering(without_markers(body), untranslated=untranslated)


async def record(
    store: Store, meeting: Meeting, *, names: Names, timezone: str = "UTC", now: float | None = None
) -> MeetingRecord:
    """The transcript of a meeting's latest session (start to end, or to now), built from the store.

    A meeting never started (an always-on one) covers every message still kept."""
    until = meeting.ended_at if meeting.state in ("ended", "archived") and meeting.ended_at else now or time.time()
    since = time_snowflake(meeting.started_at) if meeting.started_at else 0
    sources = await store.meeting_sources(meeting.id, since, time_snowflake(until + 1))
    copies = await store.copies([s.message_id for s in sources])
    rooms = await store.rooms(meeting.id)
    codes = tuple(dict.fromkeys(["en", *(r.language for r in rooms)])) if rooms else ("en",)
    guests: dict[tuple[int, int], list[Copy]] = {}
    for c in copies:
        if c.host_id is not None:
            guests.setdefault((c.host_id, c.channel_id), []).append(c)
    shown: dict[int, dict[str, Rendering]] = {}
    for c in copies:
        rendering = _as_shown(c, guests.get((c.source_id, c.channel_id), []))
        if rendering is not None:
            shown.setdefault(c.source_id, {})[c.language] = rendering
    entries = []
    for s in sources:
        original = s.content + (f"\n📎 {s.links}" if s.links else "")
        renderings = {
            code: Rendering(await resolve_mentions(r.text, names, timezone=timezone), r.untranslated)
            for code, r in shown.get(s.message_id, {}).items()
        }
        entries.append(
            Entry(
                at=datetime.fromtimestamp(snowflake_time(s.message_id), UTC),
                speaker=speaker(s.author_name, s.language),
                language=s.language,
                original=await resolve_mentions(original, names, timezone=timezone),
                renderings=renderings,
            )
        )
    started = meeting.started_at or (snowflake_time(sources[0].message_id) if sources else until)
    return MeetingRecord(
        name=meeting.name,
        started=datetime.fromtimestamp(started, UTC),
        languages=codes,
        entries=tuple(entries),
        timezone=timezone,
        members=await store.picks(meeting.id),
    )


# --- interpreters --------------------------------------------------------------------------------


class Bursts:
    """Interpreters are called once per burst of messages: at a channel's first message after `quiet` seconds
    without one, not at every message."""

    def __init__(self, quiet: float = INTERPRETER_QUIET, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self.clock = clock
        self._last: dict[int, float] = {}

    def starts(self, channel_id: int) -> bool:
        """A message arrived in the channel: True when it starts a new burst."""
        now = self.clock()
        last = self._last.get(channel_id)
        self._last[channel_id] = now
        return last is None or now - last >= self.quiet
