"""The relay engine: routes each meeting message to every other language channel of its meeting.

What it promises (README, "What Concord guarantees"), and how:
- Fan-out in parallel, order per channel: every target's translation starts at once; each target channel has
  one Lane that delivers in posting order. A post that fails holds the messages behind it (up to `hold`
  seconds) rather than arriving after them; past that it is set aside and arrives later, marked as late with
  a link to where it belongs.
- One ordered path per source channel: message, edit and delete events of a channel are handled one at a
  time in arrival order, so an edit can never overtake or miss its message.
- Effectively once: every (message, target channel) is an outbox row before any network call, moving
  pending -> posting -> delivered (store.OUTBOX_MOVES). A `posting` post is looked up in the channel
  before it is posted again; edits and deletes are idempotent.
- Nothing missed while down: after a restart or a new gateway session, `catch_up` reads each linked
  channel's history since its last handled message (bounded by a window) and relays what was missed, in
  order, before that channel's new messages; edits and deletes made meanwhile are reconciled.
- Every failure visible: a channel that is gone, a missing permission or a post refused for good ends in
  the terminal `failed` state with one notice in the meeting's main channel; a translation failure delivers
  the original, marked, and a retry edits the translation in.
- Volunteers' corrections win over machines: `correct()` edits a relayed message in place (marked as
  corrected); retries and restarts leave it alone. An edit of the original by its author replaces it.
- Translated from what was written: a message confidently in another of the meeting's languages than its
  channel's is translated from that language (bot/detect.py); the copy still names the author's channel.
- Files travel as files: a copy's first part carries the original's attachments (downloaded once with a cap,
  bot/files.py), up to what the channel takes in one post; the rest are linked to the original. An edit that
  removes files removes them from the copies; a delete takes the copies with their files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from bot import detect, languages
from bot.files import CopyFiles, FileFetcher, OutFile
from bot.glossary import TermContext
from bot.languages import Language
from bot.limits import Priority
from bot.sinks import Outgoing, Sink, SinkError
from bot.store import (
    Attachment,
    Channel,
    Correction,
    Delivery,
    OutboxRow,
    Placement,
    Relayed,
    Settled,
    Source,
    Store,
    time_snowflake,
)
from bot.text import split_message
from bot.translation import Translation, TranslationService

log = logging.getLogger(__name__)
T = TypeVar("T")

SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while the event loop waits (see start)
DISCORD_LIMIT = 1900  # Discord allows 2000; the sink may add a reply link or the author's name
UNTRANSLATED = "⏳"  # marks an original delivered because translation failed; replaced when a retry succeeds
NEEDS_INTERPRETER = "🗣️"  # marks an original in a language no engine covers
CORRECTED = "✅"  # marks a message a volunteer corrected
LATE = "⏱️"  # marks a message that arrived after messages posted after it
CORRECTED_LINE = f"-# {CORRECTED} corrected by a volunteer"
CORRECTION_LIMIT = DISCORD_LIMIT - len(CORRECTED_LINE) - 1  # the longest correction that fits with its marker
MAX_ATTEMPTS = 12  # failed attempts (with backoff, about 20 minutes) before a delivery is given up, visibly
MAX_BACKOFF = 300.0  # seconds
CATCHUP_CONCURRENCY = 4  # channels whose history is read at the same time
PLAN_TIMEOUT = 60.0  # longest live events wait for a new session's catch-up plan
FILE_POSTS = 4  # channels posting files at the same time (each holds the files' bytes until its post is made)


class CorrectionError(Exception):
    """A correction that cannot be made; the message says why, and nothing was changed."""


def without_markers(text: str) -> str:
    """A relayed text without Concord's marker lines (untranslated, needs an interpreter, corrected, late)."""
    marks = (UNTRANSLATED, NEEDS_INTERPRETER, CORRECTED, LATE)
    kept = [line for line in text.split("\n") if not (line.startswith("-# ") and line[3:].lstrip().startswith(marks))]
    return "\n".join(kept).strip()


@dataclass(frozen=True)
class Incoming:
    """A message seen in a channel, as the Discord adapter (or a script) hands it to the engine."""

    message_id: int
    channel_id: int
    author_id: int
    author_name: str
    content: str
    avatar_url: str | None = None
    reply_to: int | None = None
    attachments: tuple[Attachment, ...] = ()
    is_bot: bool = False
    webhook_id: int | None = None


@dataclass(frozen=True)
class HistoryPage:
    messages: list[Incoming]  # oldest first
    complete: bool  # True: every message after `after` is here; False: only the newest `limit` of them


class History(Protocol):
    async def __call__(self, channel_id: int, after: int, limit: int) -> HistoryPage | None:
        """Messages of a channel posted after message id `after` (at most the newest `limit`); None when the
        channel cannot be read."""
        ...


def marker(source: Language, target: Language, translation: Translation) -> str:
    """The line that tells a reader this text is not (yet) in their language."""
    if translation.unsupported:
        why = f"no machine translation for {target.english}" if source.machine_translated else "no machine translation"
        return f"-# {NEEDS_INTERPRETER} original in {source.english} ({why}); an interpreter may follow"
    note = target.untranslated_note or languages.LANGUAGES["en"].untranslated_note
    return f"-# {UNTRANSLATED} {note} (original)"


def author_label(name: str, language: str) -> str:
    """Parents' messages carry their language, so the facilitator knows who needs an answer in which."""
    if language == "en":
        return name
    return f"{name} · {languages.get(language).native}"


class Job:
    """A one-off task in a channel's lane (a correction, a notice), run in order with the deliveries."""

    def __init__(self, run: Callable[[], Awaitable[None]]) -> None:
        self.run = run


@dataclass(frozen=True)
class Render:
    """What one copy should show: its text, its outbox state, when to try its translation again, and its files
    (ids of the attachments it carries; with their bytes when it is about to be posted)."""

    body: str
    state: str
    retry_at: float
    translation: Translation
    file_ids: tuple[int, ...] = ()
    files: tuple[OutFile, ...] = ()


@dataclass(frozen=True)
class Retry:
    """A delivery that failed in a way that may pass: try again later."""

    error: str
    attempts: int


class Lane:
    """The ordered path of one target channel: source ids (each queued at most once) and jobs, in order,
    worked by one task. A source id added while it is being worked on is worked on again right after."""

    def __init__(self, channel_id: int, work: Callable[[Lane], Awaitable[None]]) -> None:
        self.channel_id = channel_id
        self.items: dict[int | Job, None] = {}  # insertion-ordered
        self.current: int | Job | None = None
        self.again = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.stalled_since: float | None = None
        self.failures = 0
        self.posted: deque[float] = deque(maxlen=16)  # when the latest posts were made (monotonic)
        self._wake = asyncio.Event()
        self.task = asyncio.create_task(work(self), name=f"lane-{channel_id}")

    def add(self, item: int | Job) -> bool:
        if item == self.current:
            self.again = True
        if item in self.items:
            return False
        self.items[item] = None
        self.idle.clear()
        self._wake.set()
        return True

    async def next(self) -> int | Job:
        while not self.items:
            self.idle.set()
            self._wake.clear()
            await self._wake.wait()
        self.current = next(iter(self.items))
        self.again = False
        return self.current

    def done(self, item: int | Job) -> None:
        if not self.again:
            self.items.pop(item, None)
        self.current = None


class RelayEngine:
    def __init__(
        self,
        store: Store,
        translator: TranslationService,
        sink: Sink,
        *,
        retry_every: float = 30.0,
        sink_backoff: float = 0.5,
        hold: float = 120.0,
        fan_out: int | None = None,
        keep_days: float | None = None,
        history: History | None = None,
        catchup_window: float = 7200.0,
        catchup_limit: int = 500,
        detect_language: bool = True,
        files: FileFetcher | None = None,
    ) -> None:
        self.store = store
        self.translator = translator
        self.sink = sink
        self.retry_every = retry_every
        self.keep_days = keep_days  # None: keep meeting text forever
        self.sink_backoff = sink_backoff  # first wait after a failed post; doubles up to MAX_BACKOFF
        self.hold = hold  # longest a failing post holds the messages behind it, in seconds
        self.history = history
        self.catchup_window = catchup_window
        self.catchup_limit = catchup_limit
        # None: every target's translation starts at once. 1: one at a time (the peers' design, for bench).
        self._fan_out = asyncio.Semaphore(fan_out) if fan_out else None
        self._lanes: dict[int, Lane] = {}
        self._inbound: dict[int, asyncio.Lock] = {}  # source channel -> its one ordered path
        self._translations: dict[tuple[int, int], tuple[int, asyncio.Future[Translation]]] = {}
        self._tasks: set[asyncio.Task] = set()  # catch-ups, translation retries, notices
        self._retrying: set[tuple[int, int]] = set()
        self._retry_slots = asyncio.Semaphore(8)  # translation retries never crowd out live messages
        self._retry_task: asyncio.Task[None] | None = None
        self._guilds: dict[int, int | None] = {}  # meeting id -> server id, for per-server glossary terms
        self._noticed: set[tuple] = set()
        self._accepting = True
        self._plan: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._plan.set_result(None)  # no gateway session to catch up with until `session_started`
        self._catchup_due: set[int] = set()
        self.on_delivered: Callable[[int, int, Translation], None] | None = None  # (source, channel, result)
        self.detect_language = detect_language
        self._detectors: dict[tuple[str, ...], asyncio.Future[None]] = {}  # language sets whose models are loaded
        self.files = CopyFiles(sink, translator, files or FileFetcher())
        self._file_posts = asyncio.Semaphore(FILE_POSTS)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Forget expired meeting text, load what the meetings' languages need (detection models, Chinese
        converters), resume every post, edit and delete a previous run left owed (in order), then retry what is
        due periodically."""
        # Backend calls run in threads; by default a thread keeps the GIL up to 5 ms before the event loop gets
        # it back, and that wait lands on every channel's post. 1 ms keeps the loop's turn short.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        await self.purge()
        warming = {
            self._warm(await self.store.meeting_channels(m))
            for m in {c.meeting_id for c in await self.store.linked_channels()}
        }
        for codes in warming:  # loaded before the first event; a failure is logged when a message needs them
            with contextlib.suppress(Exception):
                await asyncio.shield(self._detectors[codes])
        await self._requeue(await self.store.due(math.inf, untranslated=False))
        if self.retry_every > 0 and self._retry_task is None:
            self._retry_task = asyncio.create_task(self._retry_loop(), name="relay-retry")

    def stop_intake(self) -> None:
        """Take no new events (shutdown): what arrives from now on is caught up at the next start."""
        self._accepting = False

    async def drain(self) -> None:
        """Wait until every queued delivery, retry and catch-up is done."""
        while True:
            waits = [lane.idle.wait() for lane in self._lanes.values() if not lane.idle.is_set()]
            waits += [task for task in self._tasks if not task.done()]
            if not waits:
                return
            await asyncio.gather(*waits, return_exceptions=True)

    async def close(self) -> None:
        tasks = [lane.task for lane in self._lanes.values()] + list(self._tasks)
        tasks += [future for _, future in self._translations.values()]
        if self._retry_task:
            tasks.append(self._retry_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.files.close()
        self._lanes.clear()
        self._tasks.clear()
        self._translations.clear()
        self._retry_task = None

    # --- inbound events: one ordered path per source channel --------------------------------------

    async def handle_message(self, msg: Incoming) -> bool:
        if not self._accepting or msg.is_bot or msg.webhook_id is not None:
            return False  # never relay bots, webhooks (ours included) or relayed copies
        async with self._ordered(msg.channel_id):
            return await self._accept(msg)

    async def handle_edit(
        self, channel_id: int, message_id: int, content: str, attachments: tuple[Attachment, ...] | None = None
    ) -> bool:
        """The author edited a message: its text, and maybe removed some of its files (`attachments`: those left;
        None: unchanged)."""
        if not self._accepting:
            return False
        async with self._ordered(channel_id):
            return await self._edit(channel_id, message_id, content, attachments)

    async def handle_delete(self, channel_id: int, message_id: int) -> bool:
        if not self._accepting:
            return False
        async with self._ordered(channel_id):
            return await self._delete(channel_id, message_id)

    def ordered(self, channel_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold a channel's ordered path: its next events wait until the block is done (e.g. while a thread
        is being linked, so its first messages are not missed). Entering it does not yield when it is free."""
        return self._ordered(channel_id)

    @contextlib.asynccontextmanager
    async def _ordered(self, channel_id: int) -> AsyncIterator[None]:
        """One event of a channel at a time, in arrival order (asyncio.Lock wakes waiters first come, first
        served); after a new gateway session, that channel's catch-up comes first."""
        async with self._inbound.setdefault(channel_id, asyncio.Lock()):
            if not self._plan.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._plan), PLAN_TIMEOUT)
            if channel_id in self._catchup_due:
                self._catchup_due.discard(channel_id)
                try:
                    await self._catch_up_channel(channel_id)
                except Exception:
                    log.exception("catch-up of channel %s failed; relaying new messages", channel_id)
            yield

    async def _accept(self, msg: Incoming) -> bool:
        if msg.is_bot or msg.webhook_id is not None:
            return False
        channel = await self.store.channel(msg.channel_id)
        if channel is None or await self.store.relayed(msg.message_id) is not None:
            return False
        if not msg.content.strip() and not msg.attachments:
            return False
        meeting = await self.store.meeting_channels(channel.meeting_id)
        targets = [c for c in meeting if c.channel_id != msg.channel_id]
        source = Source(
            message_id=msg.message_id,
            meeting_id=channel.meeting_id,
            channel_id=msg.channel_id,
            language=await self._written_in(msg.content, channel, meeting),
            author_name=author_label(msg.author_name, channel.language),  # where the author reads: their channel
            avatar_url=msg.avatar_url,
            content=msg.content,
            reply_to=msg.reply_to,
            files=msg.attachments,
        )
        if not await self.store.add_source(source, targets):  # the outbox rows exist before any network call
            return False  # seen already (live and in a catch-up)
        for target in targets:
            self._schedule(source, target.channel_id, target.language)
        return True

    async def _edit(
        self, channel_id: int, message_id: int, content: str, attachments: tuple[Attachment, ...] | None = None
    ) -> bool:
        source = await self.store.source(message_id)
        if source is None or source.channel_id != channel_id:
            return False
        files = source.files if attachments is None else tuple(f for f in source.files if _kept(f, attachments))
        language = source.language
        if content != source.content and (channel := await self.store.channel(channel_id)) is not None:
            language = await self._written_in(content, channel, await self.store.meeting_channels(channel.meeting_id))
        version = await self.store.edit_source(message_id, content, files=files, language=language)
        if version is None:
            return False
        source = replace(source, content=content, version=version, files=files, language=language)
        for row in await self.store.outbox(message_id):
            if row.state not in ("deleted", "failed"):
                self._schedule(source, row.channel_id, row.language)
        return True

    async def _delete(self, channel_id: int, message_id: int) -> bool:
        if await self.store.relayed(message_id) is not None:
            # Someone removed a relayed copy: forget it so later edits do not fail.
            await self.store.remove_part(message_id)
            return False
        source = await self.store.source(message_id)
        if source is None or source.channel_id != channel_id or not await self.store.delete_source(message_id):
            return False
        source = replace(source, deleted=True)
        for row in await self.store.outbox(message_id):
            if row.state != "deleted":
                self._schedule(source, row.channel_id, row.language)
        return True

    # --- the language a message is written in ------------------------------------------------------

    async def _written_in(self, text: str, channel: Channel, meeting: list[Channel]) -> str:
        """The channel's language unless the text is confidently in another of the meeting's (bot/detect.py):
        English posted in #español is translated from English. A meeting's models are loaded in a worker thread
        (at start, or on its first message); detection itself is pure CPU under a millisecond."""
        if not self.detect_language or len(meeting) < 2 or not text.strip():
            return channel.language
        codes = self._warm(meeting)
        try:
            await asyncio.shield(self._detectors[codes])
            return detect.detect_source(text, channel.language, codes)
        except Exception:
            log.exception("language detection failed; translating from the channel's language")
            return channel.language

    def _warm(self, meeting: list[Channel]) -> tuple[str, ...]:
        """Load what a meeting's languages need here, the detection models and the Chinese converters, in a
        worker thread (once per set of languages): loading holds Python's lock for tens of milliseconds, which
        at startup delays nobody, and at a meeting's first message delays everyone."""
        codes = tuple(sorted({c.language for c in meeting}))
        if codes not in self._detectors:
            self._detectors[codes] = asyncio.ensure_future(asyncio.to_thread(self._load, codes))
        return codes

    def _load(self, codes: tuple[str, ...]) -> None:
        if self.detect_language:
            detect.warm(codes)
        self.translator.chinese.warm(codes)

    # --- catch-up --------------------------------------------------------------------------------

    def session_started(self) -> None:
        """A new gateway session (not a resume): Discord replays nothing, so every linked channel's events
        wait for its catch-up. Call it before any event of the session is handled."""
        if self._plan.done():
            self._plan = asyncio.get_running_loop().create_future()

    async def catch_up(self) -> None:
        """Relay what every linked channel got while we were away, each before its new messages."""
        try:
            channels = [c.channel_id for c in await self.store.linked_channels()]
            self._catchup_due = set(channels) if self.history is not None else set()
        finally:
            if not self._plan.done():
                self._plan.set_result(None)
        slots = asyncio.Semaphore(CATCHUP_CONCURRENCY)

        async def one(channel_id: int) -> None:
            async with slots, self._ordered(channel_id):
                pass  # `_ordered` runs the channel's catch-up when it is due

        await asyncio.gather(*(one(c) for c in channels))

    async def _catch_up_channel(self, channel_id: int) -> None:
        cursor = await self.store.cursor(channel_id)
        if cursor is None or self.history is None:
            return
        window_start = time_snowflake(time.time() - self.catchup_window)
        page = await self.history(channel_id, window_start, self.catchup_limit)
        if page is None:
            return
        covered = window_start if page.complete or not page.messages else page.messages[0].message_id - 1
        if cursor < covered and any(m.message_id > cursor for m in page.messages):
            log.warning(
                "channel %s: catch-up reads only the last %d messages / %g h; older ones posted while Concord "
                "was away are not relayed",
                channel_id,
                self.catchup_limit,
                self.catchup_window / 3600,
            )
        known = {s.message_id: s for s in await self.store.channel_sources(channel_id, covered)}
        seen = set()
        new = edited = deleted = 0
        for msg in page.messages:
            seen.add(msg.message_id)
            recorded = known.get(msg.message_id)
            if recorded is not None:
                kept = tuple(f for f in recorded.files if _kept(f, msg.attachments))
                if not recorded.deleted and (recorded.content != msg.content or kept != recorded.files):
                    edited += await self._edit(channel_id, msg.message_id, msg.content, msg.attachments)
            elif msg.message_id > cursor:
                new += await self._accept(msg)
        for message_id, recorded in known.items():
            if not recorded.deleted and message_id not in seen:
                deleted += await self._delete(channel_id, message_id)
        if new or edited or deleted:
            log.info("caught up channel %s: %d new, %d edited, %d deleted", channel_id, new, edited, deleted)

    # --- delivery --------------------------------------------------------------------------------

    def _lane(self, channel_id: int) -> Lane:
        lane = self._lanes.get(channel_id)
        if lane is None:
            lane = self._lanes[channel_id] = Lane(channel_id, self._work)
        return lane

    def _schedule(self, source: Source, channel_id: int, language: str) -> None:
        """Start translating now (in parallel with every other target); deliver in the channel's lane."""
        if not source.deleted:
            self._translation(source, channel_id, language)
        self._lane(channel_id).add(source.message_id)

    def _translation(
        self, source: Source, channel_id: int, language: str, *, again: bool = False
    ) -> asyncio.Future[Translation]:
        """The translation of this version of a message for one channel: started once, shared by every attempt
        to deliver it; `again` asks anew when the last answer was not a translation."""
        key = (source.message_id, channel_id)
        known = self._translations.get(key)
        stale = known is None or known[0] != source.version or _broken(known[1]) or (again and _failed(known[1]))
        if known is not None and not stale:
            return known[1]
        future = asyncio.ensure_future(self._translate(source, language, "retry" if again else "live"))
        self._translations[key] = (source.version, future)
        return future

    async def _translate(self, source: Source, language: str, priority: Priority) -> Translation:
        """`priority`: retries of untranslated messages get their own small share of the backends, and wait
        while a backend's circuit is open; live messages go first."""
        src, dst = languages.get(source.language), languages.get(language)
        context = TermContext(await self._guild(source.meeting_id), source.meeting_id, source.message_id)
        if self._fan_out is None:
            return await self.translator.translate(source.content, src, dst, context=context, priority=priority)
        async with self._fan_out:
            return await self.translator.translate(source.content, src, dst, context=context, priority=priority)

    async def _guild(self, meeting_id: int) -> int | None:
        if meeting_id not in self._guilds:
            self._guilds[meeting_id] = await self.store.meeting_guild(meeting_id)
        return self._guilds[meeting_id]

    async def _work(self, lane: Lane) -> None:
        while True:
            item = await lane.next()
            retry: Retry | None = None
            try:
                if isinstance(item, Job):
                    await item.run()
                else:
                    retry = await self._deliver(lane, item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or an unexpected error: keep the row, try again later
                log.exception("delivery of %s to channel %s failed", item, lane.channel_id)
                if not isinstance(item, Job):
                    retry = Retry(f"{type(exc).__name__}: {exc}", lane.failures + 1)
            if retry is None:
                lane.done(item)
                if lane.stalled_since is not None:
                    log.info(
                        "channel %s recovered after %.0f s", lane.channel_id, time.monotonic() - lane.stalled_since
                    )
                    lane.stalled_since, lane.failures = None, 0
                continue
            assert isinstance(item, int)
            try:
                await self._hold(lane, item, retry)
            except Exception:  # e.g. the database busy past its timeout: the lane must live on
                log.exception("could not schedule a retry in channel %s", lane.channel_id)
                lane.current = None
                await asyncio.sleep(1.0)

    async def _hold(self, lane: Lane, source_id: int, retry: Retry) -> None:
        """A failed delivery keeps its place at the head of the lane, with backoff, for up to `hold` seconds
        of the channel's stall; past that it is set aside for the retry pass and will arrive marked late."""
        now = time.monotonic()
        if lane.stalled_since is None:
            lane.stalled_since = now
            waiting = len(lane.items) - 1
            log.warning("channel %s stalled: %s (%d message(s) wait behind)", lane.channel_id, retry.error, waiting)
        lane.failures += 1
        backoff = min(self.sink_backoff * 2 ** (lane.failures - 1), MAX_BACKOFF)
        if retry.attempts >= MAX_ATTEMPTS:
            await self.store.fail(source_id, lane.channel_id, retry.error)
            await self._notice_channel(
                lane.channel_id,
                "gave-up",
                "⚠️ Concord gave up posting a message in <#{channel}> ({language}) after "
                f"{retry.attempts} attempts ({retry.error}). Check that Discord is reachable and the channel works.",
            )
            lane.done(source_id)
            return
        if now - lane.stalled_since >= self.hold:
            await self.store.retry_later(source_id, lane.channel_id, retry.error, time.time() + backoff)
            self._translations.pop((source_id, lane.channel_id), None)
            lane.again = False
            lane.done(source_id)  # set aside: the retry pass brings it back, marked late if others went first
            return
        await self.store.retry_later(source_id, lane.channel_id, retry.error, time.time() + backoff)
        await asyncio.sleep(min(backoff, self.hold - (now - lane.stalled_since)))
        lane.current = None

    async def _deliver(self, lane: Lane, source_id: int) -> Retry | None:
        """Make the channel show the current state of a message (and of those combined into its post)."""
        d = await self.store.delivery(source_id, lane.channel_id)
        if d is None:
            return None
        if d.host_id is not None:  # combined into an earlier message's post: that post is what changes
            d = await self.store.delivery(d.host_id, lane.channel_id) or d
        try:
            if d.source.files and not d.parts:  # a first post with files holds their bytes: a few at a time
                async with self._file_posts:
                    return await self._update(lane, d)
            return await self._update(lane, d)
        except SinkError as exc:
            if exc.too_large:  # the channel takes less than the server's limit says: carry fewer files next time
                self.files.refused(lane.channel_id, d.source.files)
            return await self._sink_failed(d, exc)

    async def _update(self, lane: Lane, d: Delivery) -> Retry | None:
        channel_id, source_id = d.channel_id, d.source.message_id
        if d.state in ("deleted", "failed"):
            return None
        if d.state == "posting":
            await self._find_posted(d)
            d = await self.store.delivery(source_id, channel_id) or d
        for attempt in range(3):  # again if the message changed while its translation was being awaited
            if attempt:
                d = await self.store.delivery(source_id, channel_id) or d
            members = [d]
            for guest in d.guests:
                if (m := await self.store.delivery(guest, channel_id)) is not None:
                    members.append(m)
            if not any(map(_owed, members)):
                return None  # the channel already shows this (e.g. a retry raced a success)
            live = [m for m in members if not m.source.deleted]
            if live and not d.linked:
                return await self._unlinked(channel_id, live)
            lane.again = False
            renders = [await self._render(m) for m in live]
            if not lane.again:  # an edit or delete of it came in meanwhile: render again
                break
        if not live:
            return await self._remove(d, members)
        body = "\n".join(r.body for r in renders)
        guests: list[tuple[Delivery, Render]] = []
        after = d.parts[-1] if d.parts else None
        if not d.parts:
            place = await self.store.placement(d.source, channel_id)
            if not place.linked:  # unlinked while its translation was on its way
                return await self._unlinked(channel_id, live)
            after = place.newest
            late = self._late_line(d, place)
            if late is not None:
                body = f"{body}\n{late}"
            elif len(live) == 1 and self._behind(lane) and not d.source.files:
                guests = await self._combinable(lane, d, body)
                body = "\n".join([body, *(r.body for _, r in guests)])
        elif d.body and (late := _late_of(d.body)):
            body = f"{body}\n{late}"  # a late message stays marked when edited
        own = renders[0] if live[0] is d else None  # the host's own render (its files), unless it was deleted
        last_part = await self._show(lane, d, body, after, own)
        settled = []
        for m, r in [*zip(live, renders, strict=True), *guests]:
            host = m.source.message_id == source_id
            settled.append(Settled(m.source.message_id, r.state, m.source.version, body if host else r.body,
                                   None if host else source_id, r.retry_at, r.file_ids if host else None))  # fmt: skip
        for m in members:
            if m.source.deleted:  # a deleted host whose post still carries others stays the post's owner
                state = "delivered" if m is d else "deleted"
                settled.append(Settled(m.source.message_id, state, m.source.version, body if m is d else None))
        await self.store.settle(channel_id, settled, last_part)
        for guest, _ in guests:
            lane.items.pop(guest.source.message_id, None)
        for m, r in [*zip(live, renders, strict=True), *guests]:
            key = (m.source.message_id, channel_id)
            if (known := self._translations.get(key)) is not None and known[0] == m.source.version:
                del self._translations[key]
            if self.on_delivered:
                self.on_delivered(m.source.message_id, channel_id, r.translation)
        return None

    async def _render(self, d: Delivery) -> Render:
        """The text one copy should show, with its state and when to retry its translation."""
        translation = await self._translation(d.source, d.channel_id, d.language)
        src, dst = languages.get(d.source.language), languages.get(d.language)
        body = translation.text if translation.ok else f"{translation.text}\n{marker(src, dst, translation)}"
        context = TermContext(await self._guild(d.source.meeting_id), d.source.meeting_id, d.source.message_id)
        file_ids, files, linked = await self.files.plan(d, src, dst, context)
        extra = [f"📎 {' '.join(self.files.link(d.source, f) for f in linked)}"] if linked else []
        if d.source.links:
            extra.append(f"📎 {d.source.links}")
        if extra:
            body = "\n".join([body, *extra] if body else extra)
        if translation.ok or translation.unsupported:
            return Render(body, "delivered", 0.0, translation, file_ids, files)
        retry_at = time.time() + self._translation_backoff(d.attempts)
        return Render(body, "untranslated", retry_at, translation, file_ids, files)

    def _translation_backoff(self, attempts: int) -> float:
        return min(max(self.retry_every, 1.0) * 2 ** min(attempts, 6), 1800.0)

    async def _show(
        self, lane: Lane, d: Delivery, body: str, after: int | None, render: Render | None = None
    ) -> list[tuple[int, int, int]]:
        """Edit the parts already posted whose text changed, post missing ones, delete extras. Posts are
        announced first (`begin_post`: state 'posting', with the text), and each is recorded before the next
        one is made; the last is returned, to be recorded with the new state. A crash in between leaves a
        'posting' row, so the restart looks for the post instead of making it twice."""
        channel_id, source_id = d.channel_id, d.source.message_id
        carries = render is not None and bool(render.file_ids)
        chunks = _chunks(body, carries)
        shown = _chunks(d.body, bool(d.files)) if d.body is not None else []
        parts = list(d.parts)
        keep = None  # the original lost some of its files: the copy keeps the others (by name and size, so the
        if render is not None and d.files is not None and render.file_ids != d.files:  # same edit may come twice)
            keep = tuple((f.filename, f.size) for f in d.source.files if f.id in render.file_ids)
        reply_to = await self._counterpart(d.source.reply_to, channel_id)
        rtl = languages.get(d.language).rtl
        announced = False
        unrecorded: list[tuple[int, int, int]] = []
        for index, chunk in enumerate(chunks):
            out = Outgoing(chunk, d.source.author_name, d.source.avatar_url, reply_to if index == 0 else None, rtl)
            if index < len(parts):
                files_changed = index == 0 and keep is not None
                if d.state != "corrected" and index < len(shown) and shown[index] == chunk and not files_changed:
                    continue  # an edit is sent only when the text (or the files) change
                await self.sink.edit(channel_id, parts[index], replace(out, keep_files=keep if index == 0 else None))
                continue
            if index == 0 and render is not None:
                out = replace(out, files=render.files)
            if not announced:
                await self.store.begin_post(source_id, channel_id, body, parts[-1] if parts else after)
                announced = True
            for _, part, posted in unrecorded:
                await self.store.add_part(source_id, channel_id, part, posted)
            relayed_id = await self.sink.post(channel_id, out)
            lane.posted.append(time.monotonic())
            unrecorded = [(source_id, index, relayed_id)]
            parts.append(relayed_id)
        for extra in parts[len(chunks) :]:
            await self.sink.delete(channel_id, extra)
            await self.store.remove_part(extra)
        return unrecorded

    async def _remove(self, d: Delivery, members: list[Delivery]) -> None:
        """Every message of the post was deleted: delete the relayed parts."""
        for relayed_id in d.parts:
            try:
                await self.sink.delete(d.channel_id, relayed_id)
            except SinkError as exc:
                if not exc.gone:
                    raise
            await self.store.remove_part(relayed_id)
        await self.store.settle(
            d.channel_id, [Settled(m.source.message_id, "deleted", m.source.version, None) for m in members]
        )
        return None

    async def _find_posted(self, d: Delivery) -> None:
        """Before posting again, look for the post a crash or a lost answer left unrecorded."""
        if d.body is None:
            return
        chunks = _chunks(d.body, True)  # an empty body was posted with files
        index, after = len(d.parts), d.parts[-1] if d.parts else (d.posted_after or d.source.message_id)
        rtl = languages.get(d.language).rtl
        while index < len(chunks):
            out = Outgoing(chunks[index], d.source.author_name, d.source.avatar_url, None, rtl)
            try:
                found = await self.sink.find(d.channel_id, after, out)
            except SinkError as exc:
                if exc.retryable:
                    raise
                log.warning("cannot look for an unconfirmed post in %s (%s): posting it again", d.channel_id, exc)
                return
            if found is None:
                return
            log.info("found the post of %s in %s made before a crash or timeout", d.source.message_id, d.channel_id)
            await self.store.add_part(d.source.message_id, d.channel_id, index, found)
            index, after = index + 1, found

    async def _unlinked(self, channel_id: int, live: list[Delivery]) -> None:
        """Posts and edits stop at an unlinked channel; copies already there stay."""
        for m in live:
            await self.store.fail(m.source.message_id, channel_id, "the channel is no longer linked")
            self._translations.pop((m.source.message_id, channel_id), None)

    def _late_line(self, d: Delivery, place: Placement) -> str | None:
        """A first post that comes after copies of later messages says where it belongs."""
        if not place.later:
            return None
        if place.before is None:
            return f"-# {LATE} late: this message was sent before the ones above"
        return f"-# {LATE} late: this message belongs after {self.sink.link(d.channel_id, place.before)}"

    def _behind(self, lane: Lane) -> bool:
        """The channel posts at the platform's rate limit and more messages wait."""
        limit = getattr(self.sink, "rate_limit", None)
        if not limit or len(lane.items) < 3:
            return False
        posts, seconds = limit
        recent = [t for t in lane.posted if t > time.monotonic() - seconds]
        return len(recent) >= posts - 1

    async def _combinable(self, lane: Lane, host: Delivery, body: str) -> list[tuple[Delivery, Render]]:
        """Messages right behind `host` in the lane, by the same speaker, already translated, that fit in one
        post with it (nothing is split for this: a combined post stays within the limit)."""
        found: list[tuple[Delivery, Render]] = []
        length = len(body)
        for item in list(lane.items)[1:]:
            if not isinstance(item, int):
                break
            g = await self.store.delivery(item, lane.channel_id)
            known = self._translations.get((item, lane.channel_id))
            if (
                g is None
                or g.state != "pending"
                or g.parts
                or g.host_id is not None
                or g.source.deleted
                or not g.linked
                or g.source.reply_to is not None
                or g.source.files
                or (g.source.channel_id, g.source.author_name, g.source.avatar_url)
                != (host.source.channel_id, host.source.author_name, host.source.avatar_url)
                or known is None
                or known[0] != g.source.version
                or not known[1].done()
                or _failed(known[1])
            ):
                break
            render = await self._render(g)
            if length + 1 + len(render.body) > DISCORD_LIMIT:
                break
            length += 1 + len(render.body)
            found.append((g, render))
        return found

    async def counterpart(self, message_id: int, channel_id: int) -> int | None:
        """The message in `channel_id` that stands for a message of the meeting (its original, or a copy)."""
        return await self._counterpart(message_id, channel_id)

    async def _counterpart(self, reply_to: int | None, channel_id: int) -> int | None:
        """The message in `channel_id` that stands for `reply_to` (the original, or its relayed copy)."""
        if reply_to is None:
            return None
        origin = await self.store.relayed(reply_to)
        source_id = origin.source_id if origin else reply_to
        source = await self.store.source(source_id)
        if source is None:
            return None
        if source.channel_id == channel_id:
            return source.message_id
        parts = await self.store.parts(source_id, channel_id)
        if not parts:
            copy = await self.store.delivery(source_id, channel_id)
            if copy is not None and copy.host_id is not None:
                parts = await self.store.parts(copy.host_id, channel_id)
        return parts[0] if parts else None

    # --- failures and notices --------------------------------------------------------------------

    async def _sink_failed(self, d: Delivery, exc: SinkError) -> Retry | None:
        channel_id, source_id = d.channel_id, d.source.message_id
        if exc.gone:
            await self.channel_gone(channel_id)
            return None
        if exc.retryable:
            return Retry(str(exc), d.attempts + 1)
        log.warning("delivery of %s to %s failed for good: %s", source_id, channel_id, exc)
        await self.store.fail(source_id, channel_id, str(exc))
        if exc.permission:
            await self._notice_channel(
                channel_id,
                ("permission", exc.permission),
                "⚠️ Concord cannot post in <#{channel}> ({language}): it lacks the **"
                f"{exc.permission}** permission there. Messages for that channel are not delivered until a server "
                "admin gives Concord that permission.",
            )
        else:
            await self._notice_channel(
                channel_id,
                "refused",
                "⚠️ Discord refused a message Concord relayed to <#{channel}> ({language}): "
                f"{exc}. That message was not delivered there.",
            )
        return None

    async def channel_gone(self, channel_id: int) -> None:
        """A linked channel was deleted: unlink it, fail what was owed to it, say so once in the main channel."""
        channel = await self.store.channel(channel_id)
        await self.store.unlink_channel(channel_id)
        await self.store.fail_channel(channel_id, "the channel was deleted")
        if channel is None:
            return
        lane = self._lanes.get(channel_id)
        if lane is not None:
            for item in [i for i in lane.items if i != lane.current]:
                lane.items.pop(item, None)
        language = languages.get(channel.language).english
        await self._notice(
            channel.meeting_id,
            (channel_id, "gone"),
            f"⚠️ The {language} channel <#{channel_id}> was deleted, so Concord unlinked it from this meeting. "
            f"To keep relaying {language}, link another channel there with `/concord link`.",
        )

    async def notice(self, channel_id: int, key: object, text: str) -> None:
        """Say something once to the meeting's main channel about one of its channels (e.g. the sink fell
        back to plain messages). `{channel}` and `{language}` in `text` are filled in."""
        await self._notice_channel(channel_id, key, text)

    async def _notice_channel(self, channel_id: int, key: object, text: str) -> None:
        channel = await self.store.channel(channel_id)
        if channel is None:
            log.warning(text.format(channel=channel_id, language="?"))
            return
        language = languages.get(channel.language).english
        await self._notice(channel.meeting_id, (channel_id, key), text.format(channel=channel_id, language=language))

    async def _notice(self, meeting_id: int, key: tuple, text: str) -> None:
        """One notice per problem and channel (not one per message), in the meeting's main channel."""
        if key in self._noticed:
            return
        self._noticed.add(key)
        log.warning("%s", text)
        main = next((c.channel_id for c in await self.store.meeting_channels(meeting_id) if c.language == "en"), None)
        if main is None or main == key[0]:
            return

        async def post() -> None:
            try:
                await self.sink.post(main, Outgoing(content=text, author_name="Concord"))
            except SinkError as exc:
                log.warning("could not post a notice in %s: %s", main, exc)

        self._lane(main).add(Job(post))

    # --- corrections -----------------------------------------------------------------------------

    async def correct(self, relayed_id: int, text: str, *, by: str, original: str = "") -> Correction:
        """A volunteer's correction: edit the relayed message in place, marked, and store the correction.

        Runs in the channel's lane, so a delivery or retry already queued there cannot overwrite it. The
        outbox row becomes 'corrected': later retries and restarts leave the message as the volunteer left it.
        Raises CorrectionError (nothing changed) for an empty or too long text or a message that is not ours.
        """
        text = text.strip()
        if not text:
            raise CorrectionError("the correction is empty")
        if len(text) > CORRECTION_LIMIT:
            raise CorrectionError(f"the correction is {len(text)} characters long; the limit is {CORRECTION_LIMIT}")
        copy = await self.store.relayed(relayed_id)
        if copy is None:
            raise CorrectionError("this message is not a Concord translation (or it was deleted)")
        return await self.in_lane(copy.channel_id, lambda: self._apply_correction(copy, text, by, original))

    async def settled(self, channel_id: int) -> None:
        """Wait until the deliveries queued in a channel's lane by now are done and recorded."""
        if channel_id in self._lanes:
            await self.in_lane(channel_id, _nothing)

    async def in_lane(self, channel_id: int, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` in a channel's lane, after the deliveries queued there before it (so a correction is not
        overwritten by a delivery already queued, and a thread is started from a copy that is there)."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def job() -> None:
            try:
                result = await work()
            except Exception as exc:
                if not done.cancelled():
                    done.set_exception(exc)
            else:
                if not done.cancelled():
                    done.set_result(result)

        self._lane(channel_id).add(Job(job))
        return await done

    async def _apply_correction(self, copy: Relayed, text: str, by: str, original: str) -> Correction:
        source = await self.store.source(copy.source_id)
        if source is None or source.deleted or await self.store.relayed(copy.relayed_id) is None:
            raise CorrectionError("the original message was deleted")
        reply_to = await self._counterpart(source.reply_to, copy.channel_id) if copy.part == 0 else None
        out = Outgoing(
            content=f"{text}\n{CORRECTED_LINE}",
            author_name=source.author_name,
            avatar_url=source.avatar_url,
            reply_to=reply_to,
            rtl=languages.get(copy.language).rtl,
        )
        await self.sink.edit(copy.channel_id, copy.relayed_id, out)
        correction = Correction(
            relayed_id=copy.relayed_id,
            source_id=copy.source_id,
            channel_id=copy.channel_id,
            language=copy.language,
            source_version=source.version,
            original=original,
            corrected=text,
            by=by,
            at=time.time(),
        )
        return replace(correction, id=await self.store.record_correction(correction))

    # --- retries ---------------------------------------------------------------------------------

    async def retry_now(self) -> int:
        """Queue another attempt for everything owed: posts, edits and deletes not done yet, and translations
        of messages delivered untranslated, whatever their schedule; returns how many."""
        return await self._requeue(await self.store.due(math.inf))

    async def _requeue(self, rows: list[OutboxRow]) -> int:
        """Queue these outbox rows again (oldest source first); each is queued at most once."""
        count = 0
        for row in rows:
            source = await self.store.source(row.source_id)
            if source is None:
                continue
            if row.state == "untranslated" and not source.deleted:
                count += self._retry_translation(source, row)
            else:
                self._schedule(source, row.channel_id, row.language)
                count += 1
        return count

    def _retry_translation(self, source: Source, row: OutboxRow) -> bool:
        """Translate again off the lane; only a success queues an edit, so an outage never clogs the channel."""
        key = (source.message_id, row.channel_id)
        if key in self._retrying or self._lane(row.channel_id).current == source.message_id:
            return False
        self._retrying.add(key)

        async def attempt() -> None:
            try:
                async with self._retry_slots:
                    translation = await self._translation(source, row.channel_id, row.language, again=True)
                if translation.ok or translation.unsupported:
                    self._lane(row.channel_id).add(source.message_id)
                else:
                    self._translations.pop(key, None)
                    retry_at = time.time() + self._translation_backoff(row.attempts + 1)
                    await self.store.retry_later(*key, translation.error or "not translated", retry_at)
            finally:
                self._retrying.discard(key)

        self._spawn(attempt())
        return True

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def purge(self) -> int:
        if self.keep_days is None:
            return 0
        forgotten = await self.store.purge(self.keep_days)
        if forgotten:
            log.info("forgot %d message(s) older than %g days", forgotten, self.keep_days)
        return forgotten

    async def _retry_loop(self) -> None:
        passes = 0
        while True:
            await asyncio.sleep(self.retry_every)
            passes += 1
            try:
                await self._requeue(await self.store.due(time.time()))
                if passes * self.retry_every >= 3600:  # and, about hourly, the retention purge
                    passes = 0
                    await self.purge()
            except Exception:
                log.exception("retry pass failed")


def _broken(future: asyncio.Future[Translation]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


def _failed(future: asyncio.Future[Translation]) -> bool:
    """A finished translation that did not translate: worth asking again."""
    return _broken(future) or (future.done() and not future.result().ok)


def _owed(d: Delivery) -> bool:
    """The channel does not show this copy as it should yet."""
    if d.source.deleted:
        return d.state != "deleted"
    if d.state == "corrected":
        return d.version < d.source.version
    return d.state in ("pending", "posting", "untranslated") or d.version != d.source.version


async def _nothing() -> None:
    return None


def _chunks(body: str, files: bool) -> list[str]:
    """The parts a copy is posted in; a copy of a message with files and no text is one empty post."""
    return split_message(body, DISCORD_LIMIT) or ([""] if files else [])


def _kept(file: Attachment, attachments: tuple[Attachment, ...]) -> bool:
    """Is this recorded file still among a message's attachments (by id, or by URL for files without one)?"""
    return any((a.id == file.id) if file.id else (a.url == file.url) for a in attachments)


def _late_of(body: str) -> str | None:
    return next((line for line in body.split("\n") if line.startswith(f"-# {LATE}")), None)


__all__ = ["Attachment", "Channel", "CorrectionError", "History", "HistoryPage", "Incoming", "RelayEngine"]
