"""deep-translator's services, made safe to depend on during a live meeting.

deep-translator is synchronous and calls `requests` with no timeout, one new connection per call. Here:

- Every HTTP request made on a Concord worker thread gets a connect/read timeout and a total deadline
  (`_send`, installed once around `requests.Session.request`; other threads are untouched). The body is
  read with a size cap. The status, Retry-After and the server's own timing are recorded for the caller.
- Worker threads are daemons: an abandoned call cannot keep the process from exiting, and its socket
  timeout ends it by itself. Concurrency is limited by `Slots` on the event loop, not by the threads, so a
  call given up on frees its slot at once: a hung server never holds a slot a live message needs.
- Per backend: a circuit breaker (skip a dead service, probe it after a cool-down), a token bucket (stay
  under the service's rate; 429 Retry-After pauses it), and a small share of both for retries of
  untranslated messages, which always come after live ones.
- The flow-control pieces are in bot/limits.py; answers are checked (bot/answers.py) by the chain.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import http.cookiejar
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from deep_translator import (
    DeeplTranslator,
    GoogleTranslator,
    LibreTranslator,
    MicrosoftTranslator,
    MyMemoryTranslator,
)
from deep_translator import exceptions as dt

from bot.config import Settings, transport_is_private
from bot.languages import LANGUAGES
from bot.limits import Breaker, Priority, Slots, TokenBucket, Workers, WorkersBusy
from bot.logs import add_secret, redact

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 2_000_000  # a translation page is tens of KB; more is a broken or hostile server
MYMEMORY_NOTICES = ("MYMEMORY WARNING", "QUERY LENGTH LIMIT", "INVALID ", "PLEASE SELECT TWO DISTINCT")
CONNECT_TIMEOUT = 3.05  # seconds; a little over a TCP retransmission window


class TranslationError(Exception):
    """A backend call failed. `retryable`: worth another try later. `kind` says why (see `classify`);
    `retry_after` is the server's Retry-After, in seconds, when it sent one."""

    def __init__(self, message: str, *, retryable: bool, kind: str = "error", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind
        self.retry_after = retry_after


# Failures after which trying the same backend again for this text is pointless: go to the next one.
NEXT_BACKEND_KINDS = {"open", "busy", "throttled", "auth", "refused"}


@dataclass
class Stats:
    calls: int = 0  # requests that went out
    chars: int = 0
    failures: int = 0
    retries: int = 0
    cache_hits: int = 0
    rejected: int = 0  # answers that failed the checks
    skipped: int = 0  # backends skipped: circuit open, no slot or no token within the budget
    fallback: int = 0  # texts answered by a backend other than the route's first


# --- transport: timeouts on deep-translator's requests calls, on Concord's worker threads only ----------

_local = threading.local()


class AnswerTooLarge(requests.RequestException):
    """The server sent more than MAX_ANSWER_BYTES."""


@dataclass
class CallRecord:
    """One backend call as the transport saw it; set on the worker thread for the call's duration."""

    read_timeout: float
    deadline: float  # time.monotonic() after which no more is read
    rewrite: Callable[[str, str, dict[str, Any]], tuple[str, str, dict[str, Any]]] | None = None
    status: int | None = None
    retry_after: float | None = None
    service_ms: float | None = None  # the server's own processing time (Server-Timing), when it says
    error: BaseException | None = None
    requests: int = 0


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


def _server_timing(value: str | None) -> float | None:
    """Sum of `dur=` in a Server-Timing header (ms)."""
    if not value:
        return None
    durations = [float(m) for m in re.findall(r"dur=([0-9.]+)", value)]
    return sum(durations) if durations else None


class _Session(requests.Session):
    """A worker thread's session. requests reads the proxy and CA-bundle variables of the environment again for
    every request (it walks all of os.environ twice: a third of a call's CPU, under the GIL, while a message's
    other calls wait for it); the environment does not change while Concord runs, so this reads it once per
    server and keeps the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # no tracking across texts
        self._environment: dict[tuple, dict[str, Any]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        key = (urlsplit(url)[:2], tuple(sorted((proxies or {}).items())), stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings = self._environment[key]
        return {**settings, "proxies": dict(settings["proxies"])}


def _thread_session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = _Session()
    return session


def _send(original: Callable[..., requests.Response], session: Any, method: str, url: str, kwargs: dict[str, Any]):
    call: CallRecord = _local.call
    remaining = call.deadline - time.monotonic()
    if remaining <= 0:
        call.error = requests.exceptions.Timeout("no time left for the request")
        raise call.error
    if kwargs.get("timeout") is None:
        kwargs["timeout"] = (min(CONNECT_TIMEOUT, remaining), min(call.read_timeout, remaining))
    if call.rewrite is not None:
        method, url, kwargs = call.rewrite(method, url, kwargs)
    kwargs["stream"] = True  # read the body here, under the deadline and the size cap
    call.requests += 1
    response = None
    try:
        # deep-translator opens a new session (a TCP and TLS handshake) per call; this thread's own session
        # keeps the connection alive between calls instead. It keeps no cookies (no tracking across texts).
        response = original(_thread_session(), method, url, **kwargs)
        call.status = response.status_code
        call.retry_after = _retry_after(response.headers.get("Retry-After"))
        call.service_ms = _server_timing(response.headers.get("Server-Timing"))
        body = bytearray()
        for chunk in response.iter_content(16384):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise AnswerTooLarge(f"answer larger than {MAX_ANSWER_BYTES} bytes")
            if time.monotonic() > call.deadline:
                raise requests.exceptions.ReadTimeout("the answer took longer than the call's budget")
        response._content = bytes(body)  # what requests itself does when stream=False
        return response
    except requests.RequestException as exc:
        call.error = exc
        raise
    finally:
        if response is not None:
            response.close()


def _install_transport() -> None:
    """Wrap requests.Session.request once: on a thread running a Concord call (a CallRecord is set),
    requests get our timeouts; everywhere else the wrapper passes straight through."""
    original = requests.Session.request
    if getattr(original, "_concord", False):
        return

    def request(self: Any, method: str, url: str, **kwargs: Any) -> requests.Response:
        if getattr(_local, "call", None) is None:
            return original(self, method, url, **kwargs)
        return _send(original, self, method, url, kwargs)

    request._concord = True  # type: ignore[attr-defined]
    requests.Session.request = request  # type: ignore[method-assign]


_install_transport()


@dataclass(frozen=True)
class Answer:
    text: str
    service_ms: float | None = None  # the server's own time, summed over the requests, when it reports it


@dataclass(frozen=True)
class BackendHealth:
    """What `/concord status` shows about one backend."""

    name: str
    state: str  # closed (healthy) | open (skipped) | half-open (being probed)
    consecutive_failures: int
    retry_in_s: float | None  # open: seconds until the next probe
    last_error: str | None
    in_flight: int
    slots: int
    peak_in_flight: int
    rate_per_s: float | None  # client-side limit; None = none
    paused_s: float  # a 429 asked us to wait this much longer


# --- errors -----------------------------------------------------------------------------------------

_PERMANENT_SERVER_ERRORS = {
    "ERR_BAD_REQUEST",
    "ERR_TEXT_TOO_LONG",
    "ERR_UNPROCESSABLE_TEXT",
    "ERR_LANG_NOT_SUPPORTED",
}
_AUTH_SERVER_ERRORS = {"ERR_KEY_INVALID", "ERR_KEY_BLOCKED", "ERR_DAILY_REQ_LIMIT_EXCEEDED"}


def _describe(exc: BaseException) -> str:
    """An exception's text without the meeting text deep-translator puts in some of them."""
    if isinstance(exc, dt.BaseError):
        return f"{type(exc).__name__}: {exc.message}"  # `val` is the text itself
    if isinstance(exc, dt.AuthorizationException):
        return "the service rejected the API key"  # its message is the key
    text = str(exc)
    if isinstance(exc, requests.ConnectionError):  # urllib3 buries the cause in a few hundred characters
        host = re.search(r"host='([^']+)', port=(\d+)", text)
        cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
        if host and cause:
            return f"cannot connect to {host[1]}:{host[2]}: {cause[1].strip()}"
    return f"{type(exc).__name__}: {text[:300]}"


def classify(exc: BaseException, call: CallRecord | None = None, text: str = "") -> TranslationError:
    """Turn deep-translator's and requests' exceptions into a TranslationError with a kind, using what the
    transport saw (status, Retry-After, timeouts) first: deep-translator's own mapping is lossy (a
    Microsoft timeout surfaces as an AttributeError, Libre's 429 as a ServerException)."""
    if isinstance(exc, TranslationError):
        return exc
    status = call.status if call else None
    transport = call.error if call else None
    retry_after = call.retry_after if call else None
    if isinstance(exc, requests.RequestException) and transport is None:
        transport = exc
    detail = _describe(transport or exc)
    if isinstance(transport, AnswerTooLarge):
        kind, retryable = "bad-answer", False
    elif isinstance(transport, requests.exceptions.Timeout | TimeoutError):
        kind, retryable = "timeout", True
    elif transport is not None and status is None:
        kind, retryable = "connection", True
    elif status == 429 or isinstance(exc, dt.TooManyRequests) or str(exc) == "ERR_TOO_MANY_REQUESTS":
        kind, retryable = "rate-limited", True
    elif status in (401, 403) or isinstance(exc, dt.AuthorizationException) or str(exc) in _AUTH_SERVER_ERRORS:
        kind, retryable = "auth", False
    elif (status or 0) >= 500 or str(exc) in ("ERR_INTERNAL_SERVER_ERROR", "ERR_SERVICE_NOT_AVAIBLE"):
        kind, retryable = "server", True
    elif (status is not None and status >= 400) or str(exc) in _PERMANENT_SERVER_ERRORS:
        kind, retryable = "refused", False
    elif isinstance(exc, dt.NotValidLength | dt.NotValidPayload | dt.LanguageNotSupportedException):
        kind, retryable = "refused", False
    else:  # a page or JSON without the translation: a broken answer, maybe transient
        kind, retryable = "bad-answer", True
    where = f"HTTP {status}, " if status else ""
    message = redact(f"{kind} ({where}{detail})", extra=[text])
    return TranslationError(message, retryable=retryable, kind=kind, retry_after=retry_after)


# --- one backend --------------------------------------------------------------------------------------


class _Microsoft(MicrosoftTranslator):
    """deep-translator's Microsoft class, with its language list taken from our registry: the stock one
    fetches it from a fixed public URL whenever a translator is built (an extra request, and one that
    ignores the configured endpoint)."""

    def _get_supported_languages(self) -> dict[str, str]:
        return {
            lang.english.lower(): lang.codes["microsoft"] for lang in LANGUAGES.values() if lang.supports("microsoft")
        }


def _deepl_rewrite(key: str) -> Callable[[str, str, dict[str, Any]], tuple[str, str, dict[str, Any]]]:
    """deep-translator puts DeepL's key and the text in the URL; send them as a form body and a header."""

    def rewrite(method: str, url: str, kwargs: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        params = dict(kwargs.pop("params", None) or {})
        params.pop("auth_key", None)
        headers = {**(kwargs.pop("headers", None) or {}), "Authorization": f"DeepL-Auth-Key {key}"}
        return "POST", url, {**kwargs, "data": params, "headers": headers}

    return rewrite


def _libre_rewrite(method: str, url: str, kwargs: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """deep-translator posts Libre's fields (text and key) as a query string; send them as a form body."""
    params = kwargs.pop("params", None) or {}
    return method, url, {**kwargs, "data": params}


class Backend:
    """One deep-translator service: slots, rate limit, circuit breaker, daemon worker threads.

    `factory` builds the deep-translator object once; each call works on a shallow copy with its own URL
    parameters (GoogleTranslator and others mutate them while translating)."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Any],
        *,
        workers: int = 16,
        timeout: float = 10.0,
        kind: str | None = None,
        rate: float | None = None,
        burst: float | None = None,
        retry_share: float = 0.25,
        breaker: Breaker | None = None,
        rewrite: Callable[[str, str, dict[str, Any]], tuple[str, str, dict[str, Any]]] | None = None,
        max_chars: int = 4500,
    ) -> None:
        self.name = name
        self.kind = kind or name  # which of a Language's backend codes it takes (two Libre servers: both "libre")
        self.factory = factory
        self.timeout = timeout
        self.slots = Slots(workers, round(workers * retry_share))
        self.threads = Workers(name, limit=workers * 4)
        self.limiter = TokenBucket(rate, burst if burst is not None else rate * 2.5) if rate else None
        self.retry_share = retry_share
        self.breaker = breaker or Breaker(name)
        self.rewrite = rewrite
        self.max_chars = max_chars  # MyMemory refuses 500 characters and more
        self._prototype: Any = None

    def _call(self, call: CallRecord, text: str, source: str, target: str) -> Answer:
        """On a worker thread: one deep-translator call with the transport's limits in force."""
        if self._prototype is None:
            self._prototype = self.factory()
        translator = copy.copy(self._prototype)
        translator._url_params = dict(getattr(self._prototype, "_url_params", None) or {})
        # Set codes after construction: deep-translator's built-in language lists are stale.
        translator.source, translator.target = source, target
        _local.call = call
        try:
            result = translator.translate(text)
        finally:
            _local.call = None
        if not isinstance(result, str):
            raise dt.TranslationNotFound(text)
        if self.kind == "mymemory" and result.lstrip().upper().startswith(MYMEMORY_NOTICES):
            # MyMemory answers its quota and input errors with HTTP 200 and the notice as the "translation".
            quota = "WARNING" in result.upper()[:20]
            raise TranslationError(
                f"{self.name} refused: {result[:80]}",
                retryable=quota,
                kind="rate-limited" if quota else "refused",
                retry_after=3600 if quota else None,
            )
        return Answer(result, call.service_ms)

    async def _reserve_token(self, priority: Priority, budget: float) -> None:
        if self.limiter is None:
            return
        keep = self.limiter.burst * (1 - self.retry_share) if priority == "retry" else 0.0
        wait = self.limiter.reserve(budget * 0.6, keep)  # and leave the call itself time to run
        if wait is None:
            paused = self.limiter.paused_for
            why = f"paused {paused:.0f} s by a 429" if paused else f"over {self.limiter.rate:g} calls/s"
            raise TranslationError(f"{self.name} is rate-limited ({why})", retryable=True, kind="throttled")
        if wait:
            await asyncio.sleep(wait)

    async def translate(self, text: str, source: str, target: str, *, budget: float | None = None,
                        priority: Priority = "live") -> Answer:  # fmt: skip
        """One call within `budget` seconds (default: the backend's timeout). Raises TranslationError."""
        budget = min(budget if budget is not None else self.timeout, self.timeout)
        loop = asyncio.get_running_loop()
        end = loop.time() + budget
        if not self.breaker.allow():
            raise TranslationError(f"{self.name}: circuit open", retryable=True, kind="open")
        kind: str | None = "busy"
        error: str | None = None
        try:
            if not await self.slots.acquire(priority, budget * 0.5):
                raise TranslationError(f"{self.name}: every slot busy", retryable=True, kind="busy")
            try:
                await self._reserve_token(priority, end - loop.time())
                answer = await self._run(text, source, target, end - loop.time())
            finally:
                self.slots.release(priority)
            kind = None
            return answer
        except TranslationError as exc:
            kind, error = exc.kind, str(exc)
            if exc.kind == "rate-limited" and self.limiter is not None:
                self.limiter.pause(exc.retry_after if exc.retry_after is not None else 1.0)
            raise
        finally:
            self.breaker.record(kind, error)

    async def _run(self, text: str, source: str, target: str, budget: float) -> Answer:
        if budget <= 0:
            raise TranslationError(f"{self.name}: no time left", retryable=True, kind="busy")
        pieces = _pieces(text, self.max_chars)
        call = CallRecord(read_timeout=budget, deadline=time.monotonic() + budget, rewrite=self.rewrite)
        try:
            async with asyncio.timeout(budget):
                answers = [await self.threads.submit(self._call, call, piece, source, target) for piece in pieces]
        except WorkersBusy as exc:
            raise TranslationError(str(exc), retryable=True, kind="busy") from exc
        except TimeoutError as exc:
            raise TranslationError(f"timeout ({self.name} gave no answer within {budget:.1f}s)", retryable=True,
                                   kind="timeout") from exc  # fmt: skip
        except Exception as exc:
            raise classify(exc, call, text) from exc
        service = [a.service_ms for a in answers if a.service_ms is not None]
        return Answer("\n".join(a.text for a in answers), sum(service) if service else None)

    def health(self) -> BackendHealth:
        return BackendHealth(
            name=self.name,
            state=self.breaker.state,
            consecutive_failures=self.breaker.failures,
            retry_in_s=self.breaker.retry_in,
            last_error=self.breaker.last_error,
            in_flight=self.slots.in_use,
            slots=self.slots.size,
            peak_in_flight=self.slots.peak,
            rate_per_s=self.limiter.rate if self.limiter else None,
            paused_s=self.limiter.paused_for if self.limiter else 0.0,
        )

    def close(self) -> None:
        """Nothing to join: worker threads are daemons and end with their socket timeouts."""


def _pieces(text: str, limit: int) -> list[str]:
    if len(text) < limit:
        return [text]
    from bot.text import split_message

    return split_message(text, limit - 1)


@dataclass
class Retrying:
    """A backend's retry policy: retryable failures are tried again with jittered backoff, within the time
    the message has left (minus `reserve`, kept for the backends after this one)."""

    backend: Backend
    retries: int = 2
    base_delay: float = 0.25
    stats: Stats = field(default_factory=Stats)

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def kind(self) -> str:
        return self.backend.kind

    async def translate(self, text: str, source: str, target: str, *, budget: float | None = None,
                        deadline_at: float | None = None, reserve: float = 0.0,
                        priority: Priority = "live") -> Answer:  # fmt: skip
        loop = asyncio.get_running_loop()
        tries = self.retries + 1 if priority == "live" else 1  # a retry pass comes back later anyway
        budget = budget if budget is not None else self.backend.timeout
        last: TranslationError | None = None
        for attempt in range(tries):
            left = deadline_at - loop.time() - reserve if deadline_at is not None else budget
            if left < min(budget, 0.5) * 0.5 and last is not None:
                break  # what is left belongs to the backends after this one
            try:
                answer = await self.backend.translate(text, source, target, budget=min(budget, left), priority=priority)
            except TranslationError as exc:
                last = exc
                if exc.kind in ("open", "busy", "throttled"):
                    self.stats.skipped += 1
                else:
                    self.stats.calls += 1
                    self.stats.chars += len(text)
                    self.stats.failures += 1
                if not exc.retryable or exc.kind in NEXT_BACKEND_KINDS or attempt == tries - 1:
                    raise
                delay = self.base_delay * 2**attempt
                delay = delay / 2 + random.uniform(0, delay / 2)
                if exc.retry_after is not None:  # a 429 said when: not before
                    delay = max(delay, exc.retry_after)
                if deadline_at is not None and loop.time() + delay + min(budget, 0.5) * 0.5 > deadline_at - reserve:
                    raise  # no time for another try: the backends after this one get it
                self.stats.retries += 1
                await asyncio.sleep(delay)
                continue
            self.stats.calls += 1
            self.stats.chars += len(text)
            return answer
        raise last or TranslationError(f"{self.name}: no time left", retryable=True, kind="busy")


def service_url(name: str, settings: Settings) -> str:
    """The endpoint deep-translator should call, from the configured base URL."""
    if name == "google":
        return settings.google_url.rstrip("/") + "/m"
    if name == "deepl":
        base = settings.deepl_url or ("https://api-free.deepl.com" if settings.deepl_free else "https://api.deepl.com")
        return base.rstrip("/") + "/v2/"
    if name == "microsoft":
        return settings.microsoft_url.rstrip("/") + "/translate?api-version=3.0"
    if name == "mymemory":
        return settings.mymemory_url.rstrip("/") + "/get"
    assert settings.libre_url
    return settings.libre_url if settings.libre_url.endswith("/") else settings.libre_url + "/"


def build_backend(name: str, settings: Settings) -> Backend | None:
    """A Backend for `name`, or None when it is not configured (no key, no URL)."""

    def secret(value: Any) -> str | None:
        value = value.get_secret_value() if value else None
        add_secret(value)
        return value

    rewrite = None
    max_chars = 4500  # Google refuses 5000 characters and more
    factory: Callable[[], Any]
    if name == "libre" and not settings.libre_url:
        return None
    url = service_url(name, settings)

    def pointed(translator: Any) -> Any:
        translator._base_url = url  # deep-translator has no parameter for it (and MyMemory's is plain http)
        return translator

    if name == "google":
        factory = lambda: pointed(GoogleTranslator(source="en", target="es"))  # noqa: E731
    elif name == "mymemory":
        email_ = settings.mymemory_email
        add_secret(email_)
        max_chars = 500
        factory = lambda: pointed(MyMemoryTranslator(source="en-GB", target="es-ES", email=email_))  # noqa: E731
    elif name == "libre":
        key = secret(settings.libre_api_key) or "unused"  # deep-translator insists on a key; servers may not
        if not transport_is_private(url):
            log.warning("LibreTranslate at %s is reached without encryption: put it behind HTTPS", url)
        factory = lambda: LibreTranslator(source="en", target="es", api_key=key, custom_url=url)  # noqa: E731
        rewrite = _libre_rewrite
    elif name == "deepl":
        key = secret(settings.deepl_api_key)
        if not key:
            return None
        factory = lambda: pointed(DeeplTranslator(source="en", target="es", api_key=key))  # noqa: E731
        rewrite = _deepl_rewrite(key)
    elif name == "microsoft":
        key = secret(settings.microsoft_api_key)
        if not key:
            return None
        region = settings.microsoft_region
        factory = lambda: pointed(_Microsoft(source="en", target="es", api_key=key, region=region))  # noqa: E731
    else:
        raise ValueError(f"unknown backend {name}")
    rate = settings.rate_limits.get(name)
    return Backend(
        name,
        factory,
        workers=settings.translate_workers,
        timeout=settings.translate_timeout,
        rate=rate,
        burst=rate * settings.rate_burst if rate else None,
        retry_share=settings.retry_share,
        breaker=Breaker(name, settings.breaker_failures, settings.breaker_cooldown),
        rewrite=rewrite,
        max_chars=max_chars,
    )
