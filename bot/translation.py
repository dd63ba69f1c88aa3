"""The translation chain around deep-translator.

    TranslationService.translate
      shield Discord markup -> glossary: plan the message's terms -> chunk to the backend limit
        -> Cache -> Chain[ Retrying(Backend) ... ] with answer checks -> the glossary finishes: a term the
           engine got wrong is repaired at its own place (bot/glossary/enforce.py) -> restore markup

Time: a message has `deadline` seconds; each call gets a budget below deadline / (tries + fallbacks), and a
backend keeps retrying only while the backends after it still have a budget each, so a hanging primary
always leaves time for the fallback. The backends themselves (timeouts, breaker, rate limit, worker threads,
answer checks) are in bot/backends.py. Simplified <-> Traditional Chinese is converted here, with OpenCC.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import text as markup
from bot.answers import check_answer
from bot.backends import (  # re-exported: the chain's public names
    Answer,
    Backend,
    BackendHealth,
    Priority,
    Retrying,
    Stats,
    TranslationError,
    build_backend,
    classify,
)
from bot.config import Settings
from bot.glossary import AppliedTerm, EngineFailed, Glossary, TermContext, TermPlan
from bot.languages import BACKENDS, LANGUAGES, Language, for_translation
from bot.limits import call_budget
from bot.store import Store

__all__ = [
    "Backend", "BackendHealth", "Retrying", "Stats", "Translation", "TranslationError", "TranslationService",
    "build_backend", "build_translator", "check_answer", "classify",
]  # fmt: skip

log = logging.getLogger(__name__)

BACKEND_CHUNK = 4500  # Google refuses 5000 characters and more
OPENCC = "opencc"  # the local Simplified <-> Traditional converter, reported as the backend that answered


@dataclass(frozen=True)
class Translation:
    text: str
    ok: bool  # False: every backend failed and `text` is the original
    backend: str | None = None  # None when nothing had to be translated
    cached: bool = False
    backend_ms: float = 0.0  # time spent waiting on backends for this text (queueing in Concord included)
    unsupported: bool = False  # no configured backend translates this pair: a human interpreter is needed
    error: str | None = None
    terms: tuple[AppliedTerm, ...] = ()  # glossary terms in the message: what each became and how
    service_ms: float | None = None  # the backend's own processing time, when it reports it (Server-Timing)
    fallback: bool = False  # answered by a backend other than the first choice for this language pair


COMPACT_S2TWP = Path(__file__).parent / "data" / "opencc"  # see ChineseConverter


def opencc_share_dir() -> Path | None:
    """The dictionaries and configurations of the installed OpenCC (None for a build that has them elsewhere)."""
    import opencc

    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    return share if share.is_dir() else None


class ChineseConverter:
    """zh-CN <-> zh-TW with OpenCC (phrase-level: 软件 -> 軟體), locally: no backend, no cost, no wait.

    zh-CN -> zh-TW is OpenCC's s2twp (Taiwan phrases included) as bot/data/opencc has it: the same dictionaries
    merged into plain files, which OpenCC loads in about 13 MB instead of 43 (benchmarks/opencc_s2twp.py builds
    them and checks the output is the same). It is used only with the OpenCC version and dictionaries it was
    built from; with any other, OpenCC's own s2twp. Converters are loaded once per process, in a worker thread
    (`warm`, when a meeting starts), and shared."""

    CONFIGS = {("zh-CN", "zh-TW"): "s2twp", ("zh-TW", "zh-CN"): "tw2sp"}

    def __init__(self, compact: Path = COMPACT_S2TWP) -> None:
        self.compact = compact  # the folder of the compact s2twp
        self._converters: dict[str, Any] = {}

    def handles(self, source: Language, target: Language) -> bool:
        return (source.code, target.code) in self.CONFIGS

    async def convert(self, text: str, source: Language, target: Language) -> str:
        config = self.CONFIGS[(source.code, target.code)]
        converter = self._converters.get(config) or await asyncio.to_thread(self.converter, config)
        return converter.convert(text)

    def warm(self, codes: Iterable[str]) -> None:
        """Load, on this thread, the converters translating among these languages needs."""
        langs = {for_translation(LANGUAGES[code]).code for code in codes if code in LANGUAGES}
        for pair, config in self.CONFIGS.items():
            if set(pair) <= langs:
                self.converter(config)

    def converter(self, config: str) -> Any:
        """The converter for an OpenCC configuration name, loaded (once per process) on this thread."""
        if config not in self._converters:
            import opencc

            compact = config == "s2twp" and _compact_matches(str(self.compact), opencc.__version__)
            self._converters[config] = _opencc(str(self.compact / "s2twp.json") if compact else config)
        return self._converters[config]


_converters: dict[str, Any] = {}  # OpenCC configuration (a name or a file) -> its converter, one per process
_loading = threading.Lock()


def _opencc(config: str) -> Any:
    with _loading:
        if config not in _converters:
            import opencc

            _converters[config] = opencc.OpenCC(config)
        return _converters[config]


@functools.cache
def _compact_matches(folder: str, version: str) -> bool:
    """Whether the compact s2twp in `folder` was built from exactly the installed OpenCC (version and files)."""
    try:
        built = json.loads((Path(folder) / "sources.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        built = {}
    share = opencc_share_dir()
    same = (
        share is not None
        and built.get("opencc") == version
        and all(
            (share / name).is_file() and hashlib.sha256((share / name).read_bytes()).hexdigest() == digest
            for name, digest in built.get("sha256", {}).items()
        )
    )
    if not same:
        log.warning(
            "OpenCC %s is not the version Concord's compact zh-CN -> zh-TW dictionaries were built from (%s): "
            "using OpenCC's own s2twp (same output, about 30 MB more memory). To rebuild them: "
            "python benchmarks/opencc_s2twp.py build",
            version,
            built.get("opencc", "unknown"),
        )
    return same


@dataclass(frozen=True)
class _Result:
    text: str
    backend: str
    ms: float
    service_ms: float | None
    rank: int  # position of `backend` in the route: 0 = first choice


def source_code(backend: str, lang: Language) -> str:
    code = lang.codes[backend]
    return code.split("-")[0] if backend == "deepl" else code  # DeepL sources have no region (EN, PT, ZH)


@dataclass
class _Call:
    """One message's translation in progress: its time limit, priority and what the backends reported."""

    deadline_at: float
    priority: Priority
    service_ms: float | None = None
    fallback: bool = False

    def add(self, result: _Result) -> None:
        if result.service_ms is not None:
            self.service_ms = (self.service_ms or 0.0) + result.service_ms
        self.fallback = self.fallback or result.rank > 0


_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("concord_translation", default=None)


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
        retry_jitter: float = 2.0,
    ) -> None:
        self.backends = {b.name: b for b in backends}
        self.deadline = deadline  # longest a message waits for its translation, retries and fallbacks included
        self.order = [b.name for b in backends]
        self.by_language = by_language or {}
        self.store = store
        self.stats = stats or Stats()
        self.glossary = glossary
        self.retry_jitter = retry_jitter  # retries of untranslated messages start spread over this many seconds
        self.chinese = ChineseConverter()
        self._memory: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[str, asyncio.Future[_Result]] = {}

    def forget_cached(self) -> None:
        """Drop the translations kept in memory (a meeting's text was purged from the store), and the glossary's
        first mentions (purged with it)."""
        self._memory.clear()
        if self.glossary is not None:
            self.glossary.forget_mentions()

    def route(self, source: Language, target: Language) -> list[str]:
        """Backends to try, in order, for this pair: per-language choice first, then the chain."""
        preferred = [self.by_language[target.code]] if target.code in self.by_language else []
        names = dict.fromkeys([*preferred, *self.order])
        return [
            n
            for n in names
            if n in self.backends and source.supports(self.backends[n].kind) and target.supports(self.backends[n].kind)
        ]

    def budget(self, route: list[str]) -> float:
        """Seconds one call may take on this route: below deadline / (tries of the first + one per fallback)."""
        if not route or route == [OPENCC]:
            return self.deadline
        tries = self.backends[route[0]].retries + 1 + len(route) - 1
        return call_budget(min(self.backends[n].backend.timeout for n in route), self.deadline, tries)

    def health(self) -> list[BackendHealth]:
        """Each backend's circuit, slots and rate limit, in chain order (for `/concord status` and the log)."""
        return [b.backend.health() for b in self.backends.values()]

    @property
    def glossary_version(self) -> int:
        return max(self.glossary.version, 0) if self.glossary is not None else 0

    async def translate(
        self,
        text: str,
        source: Language,
        target: Language,
        *,
        context: TermContext | None = None,
        priority: Priority = "live",
    ) -> Translation:
        """Translate one message; `context` (server, meeting, message) scopes glossary terms and first mentions.

        `priority="retry"` is for messages already delivered untranslated: one try per backend, none on a
        backend whose circuit is open, a small share of each backend's slots and rate, after live messages."""
        source, target = for_translation(source), for_translation(target)
        if source.code == target.code or not text.strip():
            return Translation(text, ok=True)
        route = [OPENCC] if self.chinese.handles(source, target) else self.route(source, target)
        if not route:
            return Translation(text, ok=False, unsupported=True, error=f"no backend translates {target.code}")
        if priority == "retry":
            if route != [OPENCC] and not any(self.backends[n].backend.breaker.available() for n in route):
                return Translation(text, ok=False, error="every backend for this language is down; retry later")
            await asyncio.sleep(random.uniform(0, self.retry_jitter))
        shielded, holder = markup.shield(text)
        plan = None
        if self.glossary is not None:
            plan = await self.glossary.plan(shielded, holder, source, target, context)
        call = _Call(asyncio.get_running_loop().time() + self.deadline, priority)
        token = _current.set(call)
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
        finally:
            _current.reset(token)
        return Translation(
            out,
            ok=True,
            backend=used,
            cached=cached,
            backend_ms=backend_ms + extra_ms,
            terms=terms,
            service_ms=call.service_ms,
            fallback=call.fallback,
        )

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

    def _key(self, backend: str, text: str, source: Language, target: Language) -> str:
        """Cache key of one backend's answer: each backend's answers are kept apart, so a fallback's text
        never passes for the first choice's and is replaced when the first choice answers again."""
        raw = "\x1f".join([backend, source.code, target.code, str(self.glossary_version), text])
        return hashlib.sha256(raw.encode()).hexdigest()

    async def _cached(self, chunk: str, source: Language, target: Language, route: list[str]) -> _Result | None:
        """The best cached answer on this route (lowest rank), from memory or SQLite."""
        keys = [self._key(name, chunk, source, target) for name in route]
        for rank, key in enumerate(keys):
            if key in self._memory:
                text, backend = self._memory[key]
                self._memory.move_to_end(key)
                return _Result(text, backend, 0.0, None, rank)
        if self.store is None:
            return None
        found = await self.store.cached_translations(keys)
        for rank, key in enumerate(keys):
            if key in found:
                text, backend, _tier = found[key]
                self._remember(key, (text, backend))
                return _Result(text, backend, 0.0, None, rank)
        return None

    async def _translate_chunk(
        self, chunk: str, source: Language, target: Language, route: list[str]
    ) -> tuple[str, str, float, bool]:
        call = _current.get() or _Call(asyncio.get_running_loop().time() + self.deadline, "live")
        if route == [OPENCC]:
            return await self.chinese.convert(chunk, source, target), OPENCC, 0.0, False
        hit = await self._cached(chunk, source, target, route)
        better = route[: hit.rank] if hit else route
        if hit and not any(self.backends[n].backend.breaker.available() for n in better):
            self.stats.cache_hits += 1  # the best answer we can get now; first choice is down (or it is ours)
            call.add(hit)
            return hit.text, hit.backend, 0.0, True
        shared = "\x1f".join([source.code, target.code, str(self.glossary_version), chunk])
        if shared in self._inflight:  # the same text for the same pair is already on its way
            self.stats.cache_hits += 1
            result = await asyncio.shield(self._inflight[shared])
            call.add(result)
            return result.text, result.backend, 0.0, True
        future: asyncio.Future[_Result] = asyncio.get_running_loop().create_future()
        self._inflight[shared] = future
        try:
            result = await self._call_chain(chunk, source, target, better, call)
            result = _Result(result.text, result.backend, result.ms, result.service_ms, route.index(result.backend))
            future.set_result(result)
        except TranslationError as exc:
            if hit is None:
                future.set_exception(exc)
                future.exception()  # retrieved here, so waiting-less failures are not logged as unhandled
                raise
            # The first choice failed again: the fallback's cached answer is still good to show.
            result = hit
            future.set_result(result)
            call.add(result)
            self.stats.cache_hits += 1
            return result.text, result.backend, 0.0, True
        except asyncio.CancelledError:
            # Our caller gave up (deadline); whoever shares this call gets a failure, not a cancellation.
            future.set_exception(TranslationError("abandoned before the backend answered", retryable=True))
            future.exception()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._inflight[shared]
        call.add(result)
        if result.rank > 0:
            self.stats.fallback += 1
        key = self._key(result.backend, chunk, source, target)
        self._remember(key, (result.text, result.backend))
        if self.store is not None:
            await self.store.cache_translation(key, result.text, result.backend, result.rank)
        return result.text, result.backend, result.ms, False

    async def _call_chain(
        self, chunk: str, source: Language, target: Language, route: list[str], call: _Call
    ) -> _Result:
        """Ask the backends in order until one gives an answer that passes the checks."""
        errors = []
        started = time.perf_counter()
        budget = self.budget(route)
        for index, name in enumerate(route):
            retrying = self.backends[name]
            backend = retrying.backend
            later = [n for n in route[index + 1 :] if self.backends[n].backend.breaker.available()]
            try:
                answer: Answer = await retrying.translate(
                    chunk,
                    source_code(backend.kind, source),
                    target.codes[backend.kind],
                    budget=budget,
                    deadline_at=call.deadline_at,
                    reserve=budget * len(later),
                    priority=call.priority,
                )
            except TranslationError as exc:
                if exc.kind not in ("open", "busy", "throttled"):
                    log.warning("translation via %s failed (%s -> %s): %s", name, source.code, target.code, exc)
                errors.append(f"{name}: {exc}")
                continue
            problem = check_answer(chunk, answer.text, source.code, target.code)
            if problem:
                self.stats.rejected += 1
                log.warning("answer from %s rejected (%s -> %s): %s", name, source.code, target.code, problem)
                errors.append(f"{name}: {problem}")
                continue
            ms = (time.perf_counter() - started) * 1000
            return _Result(answer.text, name, ms, answer.service_ms, index)
        raise TranslationError("; ".join(errors) or "no backend available", retryable=True)

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
    service = TranslationService(
        backends,
        store=store,
        by_language=settings.translator_by_language,
        stats=stats,
        glossary=glossary,
        deadline=settings.translate_deadline,
    )
    log.info(
        "translation: %s; %.1f s per call, %g s per message",
        " -> ".join(service.order),
        service.budget(service.order),
        service.deadline,
    )
    return service
