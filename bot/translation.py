"""The translation chain around deep-translator.

    TranslationService.translate
      shield Discord markup -> glossary: plan the message's terms -> chunk to the backend limit
        -> Cache -> Chain[ Retrying(Backend) ... ] -> the glossary finishes: a term the engine got wrong is
           repaired at its own place (bot/glossary/enforce.py) -> restore markup

deep-translator is synchronous and has no timeout, so each call runs in a bounded thread pool (one per
backend, so a hung service cannot starve the others) under a hard deadline. A fresh deep-translator
object is made per call: GoogleTranslator mutates its own URL params while translating.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
from deep_translator import (
    DeeplTranslator,
    GoogleTranslator,
    LibreTranslator,
    MicrosoftTranslator,
    MyMemoryTranslator,
)
from deep_translator import exceptions as dt

from bot import text as markup
from bot.config import Settings
from bot.glossary import AppliedTerm, EngineFailed, Glossary, TermContext, TermPlan
from bot.languages import BACKENDS, Language, for_translation
from bot.store import Store

log = logging.getLogger(__name__)

BACKEND_CHUNK = 4500  # Google refuses 5000 characters and more


class TranslationError(Exception):
    """A backend call failed. `retryable`: 429, 5xx, timeouts, refused connections."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Translation:
    text: str
    ok: bool  # False: every backend failed and `text` is the original
    backend: str | None = None  # None when nothing had to be translated
    cached: bool = False
    backend_ms: float = 0.0  # time spent waiting on backends for this text
    unsupported: bool = False  # no configured backend translates this pair: a human interpreter is needed
    error: str | None = None
    terms: tuple[AppliedTerm, ...] = ()  # glossary terms in the message: what each became and how


@dataclass
class Stats:
    calls: int = 0
    chars: int = 0
    failures: int = 0
    retries: int = 0
    cache_hits: int = 0


_PERMANENT_SERVER_ERRORS = {
    "ERR_BAD_REQUEST",
    "ERR_KEY_INVALID",
    "ERR_KEY_BLOCKED",
    "ERR_TEXT_TOO_LONG",
    "ERR_UNPROCESSABLE_TEXT",
    "ERR_LANG_NOT_SUPPORTED",
    "ERR_DAILY_REQ_LIMIT_EXCEEDED",
    "ERR_DAILY_CHAR_LIMIT_EXCEEDED",
}


def classify(exc: BaseException) -> TranslationError:
    """Turn deep-translator's and requests' exceptions into retryable or permanent errors."""
    if isinstance(exc, TranslationError):
        return exc
    if isinstance(exc, TimeoutError | dt.TooManyRequests | dt.RequestError | requests.RequestException):
        return TranslationError(f"{type(exc).__name__}: {exc}", retryable=True)
    if isinstance(exc, dt.ServerException):
        return TranslationError(str(exc), retryable=str(exc) not in _PERMANENT_SERVER_ERRORS)
    if isinstance(exc, dt.ElementNotFoundInGetRequest | dt.TranslationNotFound | ValueError):
        return TranslationError(f"{type(exc).__name__}: {exc}", retryable=True)
    # Bad key, unsupported language, invalid payload: trying again will not help.
    return TranslationError(f"{type(exc).__name__}: {exc}", retryable=False)


class Backend:
    """One deep-translator service behind its own bounded thread pool and a hard deadline per call."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Any],
        *,
        workers: int = 16,
        timeout: float = 10.0,
        kind: str | None = None,
    ) -> None:
        self.name = name
        self.kind = kind or name  # which of a Language's backend codes it takes (two Libre servers: both "libre")
        self.factory = factory
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"translate-{name}")

    def _call(self, text: str, source: str, target: str) -> str:
        translator = self.factory()
        # Set codes after construction: deep-translator's built-in language lists are stale.
        translator.source, translator.target = source, target
        result = translator.translate(text)
        if not isinstance(result, str) or (text.strip() and not result.strip()):
            raise dt.TranslationNotFound(text)
        return result

    async def translate(self, text: str, source: str, target: str) -> str:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.pool, self._call, text, source, target)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            raise TranslationError(f"{self.name} timed out after {self.timeout:.1f}s", retryable=True) from exc
        except Exception as exc:
            raise classify(exc) from exc

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class Retrying:
    """Retries retryable failures with exponential backoff and full jitter."""

    def __init__(self, backend: Backend, *, retries: int = 2, base_delay: float = 0.25, stats: Stats | None = None):
        self.backend = backend
        self.name = backend.name
        self.kind = backend.kind
        self.retries = retries
        self.base_delay = base_delay
        self.stats = stats or Stats()

    async def translate(self, text: str, source: str, target: str) -> str:
        for attempt in range(self.retries + 1):
            self.stats.calls += 1
            self.stats.chars += len(text)
            try:
                return await self.backend.translate(text, source, target)
            except TranslationError as exc:
                self.stats.failures += 1
                if not exc.retryable or attempt == self.retries:
                    raise
                self.stats.retries += 1
                delay = self.base_delay * 2**attempt
                await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))
        raise AssertionError("unreachable")


def build_backend(name: str, settings: Settings) -> Backend | None:
    """A Backend for `name`, or None when it is not configured (no key, no URL)."""

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value else None

    factory: Callable[[], Any]
    if name == "google":
        factory = lambda: GoogleTranslator(source="en", target="es")  # noqa: E731
    elif name == "mymemory":
        email = settings.mymemory_email
        factory = lambda: MyMemoryTranslator(source="en-GB", target="es-ES", email=email)  # noqa: E731
    elif name == "libre":
        if not settings.libre_url:
            return None
        url = settings.libre_url if settings.libre_url.endswith("/") else settings.libre_url + "/"
        key = secret(settings.libre_api_key) or "unused"  # deep-translator insists on a key; servers may not
        factory = lambda: LibreTranslator(source="en", target="es", api_key=key, custom_url=url)  # noqa: E731
    elif name == "deepl":
        key = secret(settings.deepl_api_key)
        if not key:
            return None
        free = settings.deepl_free
        factory = lambda: DeeplTranslator(source="en", target="es", api_key=key, use_free_api=free)  # noqa: E731
    elif name == "microsoft":
        key = secret(settings.microsoft_api_key)
        if not key:
            return None
        region = settings.microsoft_region
        factory = lambda: MicrosoftTranslator(source="en", target="es", api_key=key, region=region)  # noqa: E731
    else:
        raise ValueError(f"unknown backend {name}")
    return Backend(name, factory, workers=settings.translate_workers, timeout=settings.translate_timeout)


def source_code(backend: str, lang: Language) -> str:
    code = lang.codes[backend]
    return code.split("-")[0] if backend == "deepl" else code  # DeepL sources have no region (EN, PT, ZH)


class TranslationService:
    """Translates one message for one language pair, with caching and fallbacks; never raises for
    backend failures: a failed translation comes back as the original with ok=False."""

    def __init__(
        self,
        backends: list[Retrying],
        *,
        store: Store | None = None,
        by_language: dict[str, str] | None = None,
        cache_size: int = 5000,
        stats: Stats | None = None,
        glossary: Glossary | None = None,
        deadline: float = 15.0,
    ) -> None:
        self.backends = {b.name: b for b in backends}
        self.deadline = deadline  # longest a message waits for its translation, retries and fallbacks included
        self.order = [b.name for b in backends]
        self.by_language = by_language or {}
        self.store = store
        self.stats = stats or Stats()
        self.glossary = glossary
        self._memory: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[str, asyncio.Future[tuple[str, str, float]]] = {}

    def route(self, source: Language, target: Language) -> list[str]:
        """Backends to try, in order, for this pair: per-language choice first, then the chain."""
        preferred = [self.by_language[target.code]] if target.code in self.by_language else []
        names = dict.fromkeys([*preferred, *self.order])
        return [
            n
            for n in names
            if n in self.backends and source.supports(self.backends[n].kind) and target.supports(self.backends[n].kind)
        ]

    @property
    def glossary_version(self) -> int:
        return max(self.glossary.version, 0) if self.glossary is not None else 0

    async def translate(
        self, text: str, source: Language, target: Language, *, context: TermContext | None = None
    ) -> Translation:
        """Translate one message; `context` (server, meeting, message) scopes glossary terms and first mentions."""
        source, target = for_translation(source), for_translation(target)
        if source.code == target.code or not text.strip():
            return Translation(text, ok=True)
        route = self.route(source, target)
        if not route:
            return Translation(text, ok=False, unsupported=True, error=f"no backend translates {target.code}")
        shielded, holder = markup.shield(text)
        plan = None
        if self.glossary is not None:
            plan = await self.glossary.plan(shielded, holder, source, target, context)
        try:
            async with asyncio.timeout(self.deadline):
                translated, used, backend_ms, cached = await self._translate_text(
                    plan.text if plan else shielded, source, target, route
                )
                if plan is None:
                    out, terms, extra_ms = markup.unshield(translated, holder), (), 0.0
                else:
                    out, terms, extra_ms = await self._apply_glossary(plan, translated, source, target, route)
        except TranslationError as exc:
            return Translation(text, ok=False, error=str(exc))
        except TimeoutError:
            # The reader gets the original now, marked; the retry pass edits the translation in later.
            self.stats.failures += 1
            return Translation(text, ok=False, error=f"no translation within {self.deadline:g}s")
        return Translation(out, ok=True, backend=used, cached=cached, backend_ms=backend_ms + extra_ms, terms=terms)

    async def _translate_text(
        self, shielded: str, source: Language, target: Language, route: list[str]
    ) -> tuple[str, str, float, bool]:
        """(translation with tokens, backend, ms waiting on backends, all from cache) of a shielded text."""
        pieces: list[str] = []
        backend_ms, cached, used = 0.0, True, route[0]
        for chunk in markup.split_message(shielded, BACKEND_CHUNK):
            translated, used, ms, hit = await self._translate_chunk(chunk, source, target, route)
            pieces.append(translated)
            backend_ms += ms
            cached = cached and hit
        return "\n".join(pieces), used, backend_ms, cached

    async def _apply_glossary(
        self, plan: TermPlan, translated: str, source: Language, target: Language, route: list[str]
    ) -> tuple[str, tuple[AppliedTerm, ...], float]:
        """The glossary's finish: follow-up translations (the text with placeholders, a term alone) go through
        the same chain and cache; a failed one leaves the term appended, never the message lost."""
        assert self.glossary is not None
        extra_ms = 0.0

        async def engine(text: str) -> str:
            nonlocal extra_ms
            try:
                out, _, ms, _ = await self._translate_text(text, source, target, route)
            except TranslationError as exc:
                log.warning("glossary follow-up translation failed (%s -> %s): %s", source.code, target.code, exc)
                raise EngineFailed(str(exc)) from exc
            extra_ms += ms
            return out

        finished = await plan.finish(translated, engine)
        self.glossary.record(finished.outcomes)
        return finished.text, plan.applied(finished.outcomes), extra_ms

    def _key(self, text: str, source: Language, target: Language, route: list[str]) -> str:
        raw = "\x1f".join([route[0], source.code, target.code, str(self.glossary_version), text])
        return hashlib.sha256(raw.encode()).hexdigest()

    async def _translate_chunk(
        self, chunk: str, source: Language, target: Language, route: list[str]
    ) -> tuple[str, str, float, bool]:
        key = self._key(chunk, source, target, route)
        hit = self._memory.get(key)
        if hit is None and self.store is not None:
            hit = await self.store.cached_translation(key)
        if hit is not None:
            self._remember(key, hit)
            self.stats.cache_hits += 1
            return hit[0], hit[1], 0.0, True
        if key in self._inflight:  # the same text for the same pair is already on its way
            self.stats.cache_hits += 1
            translated, backend, _ = await asyncio.shield(self._inflight[key])
            return translated, backend, 0.0, True
        future: asyncio.Future[tuple[str, str, float]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._call_chain(chunk, source, target, route)
            future.set_result(result)
        except asyncio.CancelledError:
            # Our caller gave up (deadline); whoever shares this call gets a failure, not a cancellation.
            future.set_exception(TranslationError("abandoned before the backend answered", retryable=True))
            future.exception()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so waiting-less failures are not logged as unhandled
            raise
        finally:
            del self._inflight[key]
        translated, backend, ms = result
        self._remember(key, (translated, backend))
        if self.store is not None:
            await self.store.cache_translation(key, translated, backend)
        return translated, backend, ms, False

    async def _call_chain(self, chunk: str, source: Language, target: Language, route: list[str]):
        errors = []
        started = time.perf_counter()
        for name in route:
            backend = self.backends[name]
            try:
                translated = await backend.translate(
                    chunk, source_code(backend.kind, source), target.codes[backend.kind]
                )
                return translated, name, (time.perf_counter() - started) * 1000
            except TranslationError as exc:
                log.warning("translation via %s failed (%s -> %s): %s", name, source.code, target.code, exc)
                errors.append(f"{name}: {exc}")
        raise TranslationError("; ".join(errors), retryable=True)

    def _remember(self, key: str, value: tuple[str, str]) -> None:
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self._cache_size:
            self._memory.popitem(last=False)

    def close(self) -> None:
        for backend in self.backends.values():
            backend.backend.close()


def build_translator(settings: Settings, store: Store | None, glossary: Glossary | None = None) -> TranslationService:
    """The chain the settings describe; `glossary` (built by the caller, shared with the cogs) is enforced."""
    stats = Stats()
    names = dict.fromkeys([settings.translator, *settings.fallbacks, *settings.translator_by_language.values()])
    backends = []
    for name in names:
        if name not in BACKENDS:
            raise ValueError(f"unknown translator '{name}'")
        backend = build_backend(name, settings)
        if backend is None:
            log.warning("translator %s is not configured (missing key or URL); skipping it", name)
            continue
        backends.append(Retrying(backend, retries=settings.translate_retries, stats=stats))
    if not backends:
        raise ValueError("no translator is configured: check CONCORD_TRANSLATOR and its key or URL")
    return TranslationService(
        backends,
        store=store,
        by_language=settings.translator_by_language,
        stats=stats,
        glossary=glossary,
        deadline=settings.translate_deadline,
    )
