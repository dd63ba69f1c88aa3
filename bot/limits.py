"""Flow control for calls to a backend, all on the event loop except the worker threads.

- `Workers`: daemon threads for blocking calls. Not joined at exit (unlike ThreadPoolExecutor's), so a hung
  call never delays shutdown.
- `Slots`: calls in flight per backend, live messages first, retries of untranslated messages in a share.
- `TokenBucket`: calls per second with a burst; a 429's Retry-After pauses it.
- `Breaker`: a circuit breaker; its transitions are logged.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

BUDGET_SHARE = 0.85  # of deadline / tries: room for backoff sleeps and the glossary
MIN_CALL_SECONDS = 0.5  # below this, no real backend answers: every message would be shown untranslated


def call_budget(timeout: float, deadline: float, tries: int) -> float:
    """Seconds one backend call may take: at most `timeout`, and short enough that all `tries` (the first
    backend's retries, then one per fallback) fit in the message's deadline."""
    return min(timeout, BUDGET_SHARE * deadline / max(tries, 1))


log = logging.getLogger("bot.backends")

Priority = Literal["live", "retry"]
# Failures that say the service is down (they open the circuit); the others are about one text or our own
# limits (no slot, no token, circuit open) and say nothing about the service's health.
BREAKER_KINDS = frozenset({"timeout", "connection", "server", "auth"})


class WorkersBusy(Exception):
    """Too many threads are still busy with calls the event loop gave up on."""


class Workers:
    """Daemon threads for blocking calls. Not joined at exit (unlike ThreadPoolExecutor's), so a hung
    call never delays shutdown; idle threads end after a minute. `limit` bounds threads still busy with
    calls the event loop already gave up on."""

    IDLE_S = 60.0

    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit = name, limit
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self.threads = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(setter: Callable[[Any], None], value: Any) -> None:
            if not future.done():
                setter(value)

        def job() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the caller
                outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, exc)
            else:
                outcome = (future.set_result, result)
            try:
                loop.call_soon_threadsafe(settle, *outcome)
            except RuntimeError:
                pass  # the event loop is gone: nobody waits for this answer any more

        with self._lock:
            if self._idle:
                self._idle -= 1
            elif self.threads >= self.limit:
                raise WorkersBusy(f"{self.threads} calls to {self.name} still running")
            else:
                self.threads += 1
                threading.Thread(target=self._work, name=f"translate-{self.name}", daemon=True).start()
            self._jobs.put(job)
        return future

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if not self._jobs.empty():
                        continue
                    self._idle -= 1
                    self.threads -= 1
                    return
            job()
            with self._lock:
                self._idle += 1


class Slots:
    """How many calls a backend has in flight, with priority: live messages are served first, and retries
    of untranslated messages may hold at most `retry_size` slots."""

    def __init__(self, size: int, retry_size: int) -> None:
        self.size, self.retry_size = size, max(1, min(size, retry_size))
        self.live = self.retry = self.peak = 0
        self._waiting: dict[str, collections.deque[asyncio.Future[None]]] = {
            "live": collections.deque(),
            "retry": collections.deque(),
        }

    @property
    def in_use(self) -> int:
        return self.live + self.retry

    def _grantable(self, priority: Priority) -> bool:
        return self.in_use < self.size and (priority == "live" or self.retry < self.retry_size)

    def _take(self, priority: Priority) -> None:
        if priority == "live":
            self.live += 1
        else:
            self.retry += 1
        self.peak = max(self.peak, self.in_use)

    async def acquire(self, priority: Priority, wait: float) -> bool:
        ahead = self._waiting["live"] or (priority == "retry" and self._waiting["retry"])
        if not ahead and self._grantable(priority):
            self._take(priority)
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[priority].append(waiter)
        try:
            async with asyncio.timeout(max(0.0, wait)):
                await asyncio.shield(waiter)
            return True
        except TimeoutError:
            return waiter.done()  # granted at the last moment: keep it
        except asyncio.CancelledError:
            if waiter.done():
                self.release(priority)
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
                self._waiting[priority].remove(waiter)

    def release(self, priority: Priority) -> None:
        if priority == "live":
            self.live -= 1
        else:
            self.retry -= 1
        for kind in ("live", "retry"):
            waiting = self._waiting[kind]
            while waiting and self._grantable(kind):  # type: ignore[arg-type]
                waiter = waiting.popleft()
                if not waiter.done():
                    self._take(kind)  # type: ignore[arg-type]
                    waiter.set_result(None)
            if waiting:
                return  # live waiters still queued: retries wait behind them


class TokenBucket:
    """Calls per second with a burst; a 429's Retry-After pauses it. Reservations queue in order: a call
    that would wait longer than its budget takes no token and goes to the next backend instead."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.at = self.burst, time.monotonic()

    def reserve(self, max_wait: float, keep: float = 0.0) -> float | None:
        """Seconds to wait for a token (taken now), or None when it would be more than `max_wait`.
        `keep`: tokens that must remain afterwards (retries leave the burst to live messages)."""
        now = time.monotonic()
        if now >= self.at:
            self.tokens, self.at = min(self.burst, self.tokens + (now - self.at) * self.rate), now
        ready = self.at + max(0.0, 1 + keep - self.tokens) / self.rate
        wait = max(0.0, ready - now)
        if wait > max_wait:
            return None
        self.tokens -= 1
        return wait

    def pause(self, seconds: float) -> None:
        now = time.monotonic()
        self.tokens, self.at = min(self.tokens, 0.0), max(self.at, now + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self.at - time.monotonic())


class Breaker:
    """closed -> (N consecutive failures) -> open -> (cool-down) -> half-open: one probe -> closed or open.
    A bad key opens it at once, for longer."""

    def __init__(self, name: str, threshold: int = 5, cooldown: float = 30.0) -> None:
        self.name, self.threshold, self.cooldown = name, threshold, cooldown
        self.state: Literal["closed", "open", "half-open"] = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.open_for = cooldown
        self.last_error: str | None = None
        self._probing = False

    def available(self) -> bool:
        """Would a call be let through now (without taking the probe)?"""
        if self.state == "open":
            return time.monotonic() >= self.opened_at + self.open_for
        return not (self.state == "half-open" and self._probing)

    def allow(self) -> bool:
        if self.state == "open":
            if time.monotonic() < self.opened_at + self.open_for:
                return False
            self.state = "half-open"
            log.info("translation backend %s: circuit half-open, probing it", self.name)
        if self.state == "half-open":
            if self._probing:
                return False
            self._probing = True
        return True

    def record(self, kind: str | None, error: str | None = None) -> None:
        """After an allowed call: kind None = success; a BREAKER_KINDS failure counts; others are neutral."""
        probing, self._probing = self._probing, False
        if kind is None:
            if self.state != "closed":
                log.warning("translation backend %s: circuit closed, the service answers again", self.name)
            self.state, self.failures, self.open_for = "closed", 0, self.cooldown
            return
        if kind not in BREAKER_KINDS:
            return
        self.failures += 1
        self.last_error = error
        if self.state == "open":
            return  # a call started before the circuit opened: already counted as down
        if probing or kind == "auth" or self.failures >= self.threshold:
            self.open_for = min(self.open_for * 2, 600.0) if probing else self.cooldown
            if kind == "auth":
                self.open_for = max(self.open_for, 300.0)
            self.state, self.opened_at = "open", time.monotonic()
            log.warning(
                "translation backend %s: circuit open after %d consecutive failure(s) (last: %s); "
                "skipping it for %.0f s",
                self.name,
                self.failures,
                error,
                self.open_for,
            )

    @property
    def retry_in(self) -> float | None:
        return max(0.0, self.opened_at + self.open_for - time.monotonic()) if self.state == "open" else None
