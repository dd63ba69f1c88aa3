"""The relay engine: routes each meeting message to every other language channel of its meeting.

- Fan-out in parallel: every target's translation starts at once, so 12 languages cost one round trip.
- Order per channel: each target channel has a FIFO lane; a lane delivers in posting order even when a
  later message's translation finishes first.
- Nothing lost: an outbox row exists for every (message, target channel) before any network call. When
  translation fails, the original is delivered, marked, and a retry later edits the translation in place.
- Volunteers' corrections win over machines: `correct()` edits a relayed message in place (marked as
  corrected), stores the correction and marks its outbox row 'corrected', so retries and restarts leave it
  alone. An edit of the original by its author is new text: it is translated again and replaces the
  correction (which stays in the store's history).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot import languages
from bot.glossary import TermContext
from bot.languages import Language
from bot.sinks import Outgoing, Sink, SinkError
from bot.store import Channel, Correction, OutboxRow, Relayed, Source, Store
from bot.text import split_message
from bot.translation import Translation, TranslationService

log = logging.getLogger(__name__)

DISCORD_LIMIT = 1900  # Discord allows 2000; the sink may add a reply link or the author's name
UNTRANSLATED = "⏳"  # marks an original delivered because translation failed; replaced when a retry succeeds
NEEDS_INTERPRETER = "🗣️"  # marks an original in a language no engine covers
CORRECTED = "✅"  # marks a message a volunteer corrected
CORRECTED_LINE = f"-# {CORRECTED} corrected by a volunteer"
CORRECTION_LIMIT = DISCORD_LIMIT - len(CORRECTED_LINE) - 1  # the longest correction that fits with its marker


class CorrectionError(Exception):
    """A correction that cannot be made; the message says why, and nothing was changed."""


def without_markers(text: str) -> str:
    """A relayed text without Concord's marker lines (untranslated, needs an interpreter, corrected)."""
    marks = (UNTRANSLATED, NEEDS_INTERPRETER, CORRECTED)
    kept = [line for line in text.split("\n") if not (line.startswith("-# ") and line[3:].lstrip().startswith(marks))]
    return "\n".join(kept).strip()


@dataclass(frozen=True)
class Attachment:
    url: str
    filename: str


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


def marker(source: Language, target: Language, translation: Translation) -> str:
    """The line that tells a reader this text is not (yet) in their language."""
    if translation.unsupported:
        why = f"no machine translation for {target.english}" if source.machine_translated else "no machine translation"
        return f"-# {NEEDS_INTERPRETER} original in {source.english} ({why}); an interpreter may follow"
    note = target.untranslated_note or languages.LANGUAGES["en"].untranslated_note
    return f"-# {UNTRANSLATED} {note} (original)"


Job = Callable[[], Awaitable[None]]


class Lane:
    """A FIFO of deliveries for one target channel, worked by one task so order is kept."""

    def __init__(self, name: str) -> None:
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.task = asyncio.create_task(self._work(), name=f"lane-{name}")

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await job()
            except Exception:
                log.exception("delivery failed")
            finally:
                self.queue.task_done()


class RelayEngine:
    def __init__(
        self,
        store: Store,
        translator: TranslationService,
        sink: Sink,
        *,
        retry_every: float = 30.0,
        sink_attempts: int = 4,
        sink_backoff: float = 0.5,
        fan_out: int | None = None,
        keep_days: float | None = None,
    ) -> None:
        self.store = store
        self.translator = translator
        self.sink = sink
        self.retry_every = retry_every
        self.keep_days = keep_days  # None: keep meeting text forever
        self.sink_attempts = sink_attempts
        self.sink_backoff = sink_backoff
        # None: every target's translation starts at once. 1: one at a time (the peers' design, for bench).
        self._fan_out = asyncio.Semaphore(fan_out) if fan_out else None
        self._lanes: dict[int, Lane] = {}
        self._retry_task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[Translation]] = set()
        self._guilds: dict[int, int | None] = {}  # meeting id -> server id, for per-server glossary terms
        self.on_delivered: Callable[[int, int, Translation], None] | None = None  # (source, channel, result)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Forget expired meeting text, deliver whatever a previous run left pending, then retry untranslated
        messages periodically."""
        await self.purge()
        await self._requeue(await self.store.outbox_in_state("pending"))
        if self.retry_every > 0 and self._retry_task is None:
            self._retry_task = asyncio.create_task(self._retry_loop(), name="relay-retry")

    async def drain(self) -> None:
        """Wait until every queued delivery is done."""
        while any(lane.queue._unfinished_tasks for lane in self._lanes.values()):
            await asyncio.gather(*(lane.queue.join() for lane in self._lanes.values()))

    async def close(self) -> None:
        tasks = [lane.task for lane in self._lanes.values()]
        if self._retry_task:
            tasks.append(self._retry_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()
        self._retry_task = None

    # --- inbound events --------------------------------------------------------------------------

    async def handle_message(self, msg: Incoming) -> bool:
        if msg.is_bot or msg.webhook_id is not None:
            return False  # never relay bots, webhooks (ours included) or relayed copies
        channel = await self.store.channel(msg.channel_id)
        if channel is None or await self.store.relayed(msg.message_id) is not None:
            return False
        links = " ".join(f"[{a.filename}](<{a.url}>)" for a in msg.attachments)
        if not msg.content.strip() and not links:
            return False
        targets = [c for c in await self.store.meeting_channels(channel.meeting_id) if c.channel_id != msg.channel_id]
        source = Source(
            message_id=msg.message_id,
            meeting_id=channel.meeting_id,
            channel_id=msg.channel_id,
            language=channel.language,
            author_name=author_label(msg.author_name, channel.language),
            avatar_url=msg.avatar_url,
            content=msg.content,
            reply_to=msg.reply_to,
            links=links,
        )
        await self.store.add_source(source, targets)  # the outbox rows exist before any network call
        for target in targets:
            self._enqueue_sync(source, target)
        return True

    async def handle_edit(self, channel_id: int, message_id: int, content: str) -> bool:
        source = await self.store.source(message_id)
        if source is None or source.channel_id != channel_id:
            return False
        version = await self.store.edit_source(message_id, content)
        if version is None:
            return False
        source = replace(source, content=content, version=version)
        for row in await self.store.outbox(message_id):
            if row.state != "deleted":
                self._enqueue_sync(source, Channel(row.channel_id, source.meeting_id, row.language))
        return True

    async def handle_delete(self, channel_id: int, message_id: int) -> bool:
        if await self.store.relayed(message_id) is not None:
            # Someone removed a relayed copy: forget it so later edits do not fail.
            await self.store.remove_part(message_id)
            return False
        source = await self.store.source(message_id)
        if source is None or source.channel_id != channel_id or not await self.store.delete_source(message_id):
            return False
        for row in await self.store.outbox(message_id):
            self._lane(row.channel_id).queue.put_nowait(lambda row=row: self._delete_copies(message_id, row.channel_id))
        return True

    # --- delivery --------------------------------------------------------------------------------

    def _lane(self, channel_id: int) -> Lane:
        lane = self._lanes.get(channel_id)
        if lane is None:
            lane = self._lanes[channel_id] = Lane(str(channel_id))
        return lane

    def _enqueue_sync(self, source: Source, target: Channel) -> None:
        """Start translating now; deliver in the target's lane, in order."""
        translation = asyncio.ensure_future(self._translate(source, target))
        self._lane(target.channel_id).queue.put_nowait(lambda: self._deliver(source, target, translation))

    async def _translate(self, source: Source, target: Channel) -> Translation:
        src, dst = languages.get(source.language), languages.get(target.language)
        if source.meeting_id not in self._guilds:
            self._guilds[source.meeting_id] = await self.store.meeting_guild(source.meeting_id)
        context = TermContext(self._guilds[source.meeting_id], source.meeting_id, source.message_id)
        if self._fan_out is None:
            return await self.translator.translate(source.content, src, dst, context=context)
        async with self._fan_out:
            return await self.translator.translate(source.content, src, dst, context=context)

    async def _deliver(self, source: Source, target: Channel, translation_task: Awaitable[Translation]) -> None:
        translation = await translation_task
        now = await self.store.delivery(source.message_id, target.channel_id)
        if now is None or now.source_deleted or now.source_version != source.version or now.state == "deleted":
            return  # a newer edit or a delete is queued behind us and will do the work
        if now.state == "corrected" and now.version >= source.version:
            return  # a volunteer corrected this copy; only a newer version of the original replaces it
        if now.state == "delivered" and now.version == source.version and translation.ok:
            return  # already there (e.g. a retry raced a later success)
        dst = languages.get(target.language)
        src = languages.get(source.language)
        body = translation.text if translation.ok else f"{translation.text}\n{marker(src, dst, translation)}"
        if source.links:
            body = f"{body}\n📎 {source.links}"
        reply_to = await self._counterpart(source.reply_to, target.channel_id)
        state = "delivered" if translation.ok or translation.unsupported else "untranslated"
        try:
            await self._write_parts(source, target.channel_id, body, reply_to, dst.rtl, now.parts, state)
        except SinkError as exc:
            log.warning("could not deliver %s to %s: %s", source.message_id, target.channel_id, exc)
            await self.store.set_outbox(source.message_id, target.channel_id, "pending", error=str(exc))
            return
        if self.on_delivered:
            self.on_delivered(source.message_id, target.channel_id, translation)

    async def _write_parts(
        self,
        source: Source,
        channel_id: int,
        body: str,
        reply_to: int | None,
        rtl: bool,
        existing: list[int],
        state: str,
    ) -> None:
        """Make the channel show `body`: edit the parts already posted, post missing ones, delete extras;
        then record the new state. Each posted part is recorded before the next post, so a crash never
        makes a restart post it twice; the last one is recorded together with the state."""
        chunks = split_message(body, DISCORD_LIMIT)
        unrecorded: list[tuple[int, int]] = []
        for index, chunk in enumerate(chunks):
            out = Outgoing(
                content=chunk,
                author_name=source.author_name,
                avatar_url=source.avatar_url,
                reply_to=reply_to if index == 0 else None,
                rtl=rtl,
            )
            if index < len(existing):
                await self._sink_call(lambda out=out, mid=existing[index]: self.sink.edit(channel_id, mid, out))
                continue
            for part, relayed_id in unrecorded:
                await self.store.add_part(source.message_id, channel_id, part, relayed_id)
            relayed_id = await self._sink_call(lambda out=out: self.sink.post(channel_id, out))
            unrecorded = [(index, relayed_id)]
        for extra in existing[len(chunks) :]:
            await self._sink_call(lambda extra=extra: self.sink.delete(channel_id, extra))
            await self.store.remove_part(extra)
        await self.store.delivered(source.message_id, channel_id, unrecorded, state, source.version)

    async def _delete_copies(self, source_id: int, channel_id: int) -> None:
        try:
            for relayed_id in await self.store.parts(source_id, channel_id):
                await self._sink_call(lambda relayed_id=relayed_id: self.sink.delete(channel_id, relayed_id))
                await self.store.remove_part(relayed_id)
        except SinkError as exc:
            log.warning("could not delete copy of %s in %s: %s", source_id, channel_id, exc)
        await self.store.set_outbox(source_id, channel_id, "deleted")

    async def _sink_call(self, call: Callable[[], Awaitable]):
        for attempt in range(self.sink_attempts):
            try:
                return await call()
            except SinkError as exc:
                if not exc.retryable or attempt == self.sink_attempts - 1:
                    raise
                await asyncio.sleep(self.sink_backoff * 2**attempt)
        raise AssertionError("unreachable")

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
        return parts[0] if parts else None

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
        done: asyncio.Future[Correction] = asyncio.get_running_loop().create_future()

        async def job() -> None:
            try:
                result = await self._apply_correction(copy, text, by, original)
            except Exception as exc:
                if not done.cancelled():
                    done.set_exception(exc)
            else:
                if not done.cancelled():
                    done.set_result(result)

        self._lane(copy.channel_id).queue.put_nowait(job)
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
        await self._sink_call(lambda: self.sink.edit(copy.channel_id, copy.relayed_id, out))
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
        """Queue another attempt for every message delivered untranslated or not delivered; returns how many."""
        rows = await self.store.outbox_in_state("untranslated", "pending")
        # A pending row never attempted is a first delivery still on its way.
        return await self._requeue([r for r in rows if r.state != "pending" or r.attempts > 0])

    async def _requeue(self, rows: list[OutboxRow]) -> int:
        """Queue delivery again for these outbox rows (skipping deleted originals); returns how many."""
        count = 0
        for row in rows:
            source = await self.store.source(row.source_id)
            if source is not None and not source.deleted:
                self._enqueue_sync(source, Channel(row.channel_id, source.meeting_id, row.language))
                count += 1
        return count

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
                await self.retry_now()
                if passes * self.retry_every >= 3600:  # and, about hourly, the retention purge
                    passes = 0
                    await self.purge()
            except Exception:
                log.exception("retry pass failed")


def author_label(name: str, language: str) -> str:
    """Parents' messages carry their language, so the facilitator knows who needs an answer in which."""
    if language == "en":
        return name
    return f"{name} · {languages.get(language).native}"
