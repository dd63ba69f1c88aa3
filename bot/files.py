"""Attachments relayed as files: which ones a copy carries (`CopyFiles`), and downloading them with a cap.

A message's files are downloaded once and uploaded into every language channel, so the bytes are shared: a
small cache bounded in bytes holds them while the copies are posted, and one download serves every channel
asking for the same file at the same time. A download never holds more than its cap in memory: a file whose
size is unknown or lies is cut off at the cap and counts as too large (it is then linked, not copied).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bot.glossary import TermContext
    from bot.languages import Language
    from bot.store import Attachment, Delivery, Source
    from bot.translation import TranslationService

log = logging.getLogger(__name__)

MAX_FILES = 10  # Discord takes at most 10 files per message
REQUEST_SLACK = 16 * 1024  # room left in an upload request for the message's text and the form's framing
CACHE_BYTES = 64 * 1024 * 1024  # downloaded files kept for the other channels' posts
DOWNLOAD_TIMEOUT = 60.0


@dataclass(frozen=True)
class OutFile:
    """A file to upload with a post: its name, its bytes and its (translated) alt text."""

    filename: str
    data: bytes
    description: str | None = None


def fitting(files: Sequence[Attachment], limit: int) -> tuple[list[Attachment], list[Attachment]]:
    """Split a message's files into those uploaded with the copy (in order, together within the server's upload
    limit for one request, at most MAX_FILES) and those linked instead."""
    upload: list[Attachment] = []
    link: list[Attachment] = []
    room = limit - REQUEST_SLACK
    for file in files:
        if len(upload) < MAX_FILES and 0 < file.size <= room:
            upload.append(file)
            room -= file.size
        else:
            link.append(file)
    return upload, link


class CopyFiles:
    """The relay's side of files: which ones a copy carries and which it links, in each channel."""

    def __init__(self, sink: Any, translator: TranslationService, fetcher: FileFetcher) -> None:
        self.sink = sink  # file_limit(channel) and link(channel, message); a sink without file_limit links all
        self.translator = translator
        self.fetcher = fetcher
        self._caps: dict[int, int] = {}  # channel -> bytes a post there took at most (after a 413)

    async def plan(
        self, d: Delivery, src: Language, dst: Language, context: TermContext
    ) -> tuple[tuple[int, ...], tuple[OutFile, ...], list[Attachment]]:
        """The message's files this copy carries (ids; with their bytes and translated alt text when it is about
        to be posted) and those it links instead: too large for the channel, or not downloadable."""
        files = d.source.files
        if not files:
            return (), (), []
        if getattr(self.sink, "file_limit", None) is None:
            return (), (), list(files)
        cap = self.cap(d.channel_id)
        upload, linked = fitting(files, cap)
        if d.parts:  # posted already: the copy keeps what it carries (an edit can only take files away)
            if d.files is None:
                return tuple(f.id for f in upload), (), linked
            return tuple(f.id for f in files if f.id in d.files), (), [f for f in files if f.id not in d.files]

        async def alt_text(file: Attachment) -> str | None:
            if not file.description:
                return file.description
            translated = await self.translator.translate(file.description, src, dst, context=context)
            return translated.text if translated.ok else file.description

        data = await asyncio.gather(*(self.fetcher.get(f.url, cap) for f in upload))
        descriptions = await asyncio.gather(*(alt_text(f) for f in upload))
        carried = [(f, b, text) for f, b, text in zip(upload, data, descriptions, strict=True) if b is not None]
        missing = {f.id for f, b in zip(upload, data, strict=True) if b is None}
        linked = [f for f in files if f.id in missing or f in linked]
        return tuple(f.id for f, _, _ in carried), tuple(OutFile(f.filename, b, t) for f, b, t in carried), linked

    def cap(self, channel_id: int) -> int:
        """Bytes one post may upload in a channel: the server's limit, or less after Discord refused more."""
        limit = self.sink.file_limit(channel_id)
        return min(limit, self._caps.get(channel_id, limit))

    def refused(self, channel_id: int, files: Sequence[Attachment]) -> None:
        """Discord refused a post of these files as too large (413): the next try carries fewer of them."""
        took = sum(f.size for f in fitting(files, self.cap(channel_id))[0])
        self._caps[channel_id] = min(self.cap(channel_id), took + REQUEST_SLACK - 1)

    def link(self, source: Source, file: Attachment) -> str:
        """A file the copy does not carry: its name, linking to the original message (a file's URL expires)."""
        name = file.filename.replace("]", "").replace("[", "")
        size = f" ({file.size / 1_000_000:.1f} MB)" if file.size >= 1_000_000 else ""
        return f"[{name}](<{self.sink.link(source.channel_id, source.message_id)}>){size}"

    async def close(self) -> None:
        await self.fetcher.close()


class FileFetcher:
    """Downloads attachments with a cap, shares each download between the channels that need it."""

    def __init__(self, *, cache_bytes: int = CACHE_BYTES, timeout: float = DOWNLOAD_TIMEOUT) -> None:
        self.cache_bytes = cache_bytes
        self.timeout = timeout
        self.downloads = 0  # completed downloads (for tests and logs)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._held = 0
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def get(self, url: str, cap: int) -> bytes | None:
        """The file at `url`, or None when it is larger than `cap` bytes or cannot be downloaded."""
        if (data := self._cache.get(url)) is not None:
            self._cache.move_to_end(url)
            return data if len(data) <= cap else None
        future = self._inflight.get(url)
        if future is None:
            future = self._inflight[url] = asyncio.ensure_future(self._download(url, cap))
            future.add_done_callback(lambda _: self._inflight.pop(url, None))
        data = await asyncio.shield(future)
        return data if data is not None and len(data) <= cap else None

    async def _download(self, url: str, cap: int) -> bytes | None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        for attempt in range(2):
            try:
                async with self._session.get(url) as response:
                    if response.status >= 500 and attempt == 0:
                        continue
                    if response.status != 200:
                        log.warning("attachment %s: download answered %s; linking it", _name(url), response.status)
                        return None
                    if (response.content_length or 0) > cap:
                        return None
                    chunks, size = [], 0
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        size += len(chunk)
                        if size > cap:
                            log.info("attachment %s is larger than %d bytes; linking it", _name(url), cap)
                            return None
                        chunks.append(chunk)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                if attempt == 0:
                    continue
                log.warning("attachment %s could not be downloaded (%r); linking it", _name(url), exc)
                return None
            data = b"".join(chunks)
            self.downloads += 1
            self._keep(url, data)
            return data
        return None

    def _keep(self, url: str, data: bytes) -> None:
        if len(data) > self.cache_bytes:
            return
        self._cache[url] = data
        self._held += len(data)
        while self._held > self.cache_bytes:
            _, dropped = self._cache.popitem(last=False)
            self._held -= len(dropped)

    async def close(self) -> None:
        for future in list(self._inflight.values()):
            future.cancel()
        if self._session is not None:
            await self._session.close()
        self._cache.clear()
        self._held = 0


def _name(url: str) -> str:
    """The file name of an attachment URL, for logs (the query string of a signed URL is left out)."""
    return url.split("?", 1)[0].rsplit("/", 1)[-1]
