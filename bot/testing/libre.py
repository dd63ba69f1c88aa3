"""A LibreTranslate-compatible server on 127.0.0.1 for offline tests, `simulate` and `bench`.

It speaks the real wire format (`POST /translate` with q, source, target, format, api_key; answers
`{"translatedText": ...}`), so the real deep-translator `LibreTranslator(custom_url=...)` talks to it.
Its "translation" is deterministic: phrases from `dictionary[target]` are replaced, then the text is
tagged `[target] `. It can add latency and jitter, and fail on command (429, 500, hang, bad JSON).

Run it alone: `python -m bot.testing.libre --port 5055 --latency-ms 150`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

# What a LibreTranslate with the published models answers on /languages (zt: Traditional Chinese).
LANGUAGE_CODES = [
    "en", "es", "vi", "zh", "zt", "ko", "tl", "ar", "fa", "ru", "ja", "pt", "uk", "hi", "ur", "bn", "fr",
]  # fmt: skip


@dataclass
class Call:
    q: str
    source: str
    target: str
    at: float


@dataclass
class FakeLibre:
    latency: float = 0.0  # seconds added to every answer
    jitter: float = 0.0  # plus uniform(0, jitter)
    dictionary: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> {phrase: rendering}
    delay_for: Callable[[str, str], float] | None = None  # (q, target) -> extra seconds
    transform: Callable[[str, str, str], str] | None = None  # (translated, q, target) -> text, e.g. mangling
    engine: Callable[[str, str, str], str] | None = None  # a real MT engine (q, source, target) instead of `dictionary`
    tag: bool = True  # prefix "[target] " so a test can see a text went through translation
    calls: list[Call] = field(default_factory=list)
    _faults: list[str] = field(default_factory=list)
    down: bool = False  # answer 503 to everything until switched back
    inflight: int = 0  # requests being answered right now
    peak_inflight: int = 0  # the most answered at once: shows whether a client fans out in parallel

    # --- faults ----------------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1) -> None:
        """kind: '429', '500', '503', 'hang' (no answer for 30 s) or 'malformed' (not JSON)."""
        self._faults.extend([kind] * times)

    # --- the fake engine -------------------------------------------------------------------------

    def render(self, q: str, source: str, target: str) -> str:
        out = q if self.engine is None else self.engine(q, source, target)
        phrases = self.dictionary.get(target, {}) if self.engine is None else {}
        for phrase in sorted(phrases, key=len, reverse=True):
            out = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", phrases[phrase], out, flags=re.IGNORECASE)
        if self.transform:
            out = self.transform(out, q, target)
        return f"[{target}] {out}" if self.tag else out

    async def _translate(self, request: web.Request) -> web.Response:
        fields = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                fields.update(await request.json())
            else:
                fields.update(await request.post())
        q, source, target = str(fields.get("q", "")), str(fields.get("source", "")), str(fields.get("target", ""))
        self.calls.append(Call(q, source, target, time.monotonic()))
        self.inflight += 1
        self.peak_inflight = max(self.peak_inflight, self.inflight)
        try:
            return await self._answer(q, source, target)
        finally:
            self.inflight -= 1

    async def _answer(self, q: str, source: str, target: str) -> web.Response:
        fault = self._faults.pop(0) if self._faults else ("503" if self.down else None)
        delay = self.latency + (random.uniform(0, self.jitter) if self.jitter else 0.0)
        if self.delay_for:
            delay += self.delay_for(q, target)
        if fault == "hang":
            delay += 30
        if delay:
            await asyncio.sleep(delay)
        if fault in ("429", "500", "503"):
            return _json(f'{{"error": "fault {fault}"}}', status=int(fault))
        if fault == "malformed":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if not q or not target:
            return _json('{"error": "Invalid request: missing q or target"}', status=400)
        return _json(json.dumps({"translatedText": self.render(q, source, target)}))

    async def _languages(self, request: web.Request) -> web.Response:
        return _json(json.dumps([{"code": c, "name": c, "targets": LANGUAGE_CODES} for c in LANGUAGE_CODES]))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/translate", self._translate)
        app.router.add_get("/languages", self._languages)
        return app


# --- placeholder mangling, as real engines do it (for `FakeLibre.transform`) ---------------------------

_TOKEN = re.compile(r"ZQX(\d+)Z")
Transform = Callable[[str, str, str], str]


def mangle_tokens(
    *,
    spaces: bool = False,
    lower: bool = False,
    reorder: bool = False,
    drop: bool | Callable[[int], bool] = False,
) -> Transform:
    """A `transform` that mangles the ZQX placeholders in an answer: "ZQX 3 Z", "zqx3z", tokens moved to
    the end in reverse order, or dropped (all, or those whose index `drop(i)` picks)."""

    def transform(out: str, q: str, target: str) -> str:
        tokens = _TOKEN.findall(out)
        if reorder and tokens:
            out = _TOKEN.sub("", out).rstrip() + " " + " ".join(f"ZQX{t}Z" for t in reversed(tokens))
        if drop:
            picked = drop if callable(drop) else (lambda _i: True)
            out = _TOKEN.sub(lambda m: "" if picked(int(m[1])) else m[0], out)
        if spaces:
            out = _TOKEN.sub(lambda m: f"ZQX {m[1]} Z", out)
        if lower:
            out = re.sub(r"ZQX ?(\d+) ?Z", lambda m: m[0].lower(), out)
        return out

    return transform


def chain(*transforms: Transform) -> Transform:
    def transform(out: str, q: str, target: str) -> str:
        for step in transforms:
            out = step(out, q, target)
        return out

    return transform


def _json(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json")


class ServerThread:
    """Runs a FakeLibre on its own event loop in a thread, so it never competes with the code under test."""

    def __init__(self, fake: FakeLibre | None = None, port: int = 0) -> None:
        self.fake = fake or FakeLibre()
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-libre", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"  # deep-translator needs the trailing slash

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.fake.app(), access_log=None, shutdown_timeout=0.1)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # the port the OS picked
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake LibreTranslate did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner:
                await self._runner.cleanup()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--apertium", action="store_true", help="translate en<->es with Apertium (untagged)")
    args = parser.parse_args()
    fake = FakeLibre(latency=args.latency_ms / 1000, jitter=args.jitter_ms / 1000)
    if args.apertium:
        from bot.testing.apertium import Apertium

        fake.engine, fake.tag = Apertium(), False
    with ServerThread(fake, args.port) as server:
        print(f"LibreTranslate-compatible test server on {server.url} (Ctrl+C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
