"""A LibreTranslate-compatible server on 127.0.0.1 for offline tests, `simulate` and `bench`.

It speaks the real wire format (`POST /translate` with q, source, target, format, api_key; answers
`{"translatedText": ...}`), so the real deep-translator `LibreTranslator(custom_url=...)` talks to it.
Its "translation" is deterministic: phrases from `dictionary[target]` are replaced, then the text is
tagged `[target] ` (for a target written in another script, a tag in that script, e.g. `[繁] `: a real engine
answers a Chinese channel in Chinese, and Concord rejects Latin answers there). It can add latency and
jitter, and fail on command (429, 500, hang, bad JSON, bad key). Every answer carries `Server-Timing:
app;dur=<ms>`, its own service time, so a benchmark can tell backend time from time queued in Concord.
`POST /_fault?kind=hang&seconds=30` makes every request in the next 30 s hang (for `bench --fault`).

`FakeLibre` is also the engine behind the Google, DeepL, Microsoft and MyMemory stand-ins in
`bot.testing.backends`, which only change the wire format.

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

from bot.testing.apertium import UnsupportedPair

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


# Tags for targets not written in Latin letters (LibreTranslate's codes and the other services' codes).
SCRIPT_TAGS = {
    "zh-Hant": "繁", "zt": "繁", "zh-TW": "繁", "ZH-HANT": "繁", "zh-Hans": "简", "zh-CN": "简", "ZH-HANS": "简",
    "zh": "简", "ZH": "简", "ja": "日", "JA": "日", "ko": "한", "KO": "한", "ar": "ع", "AR": "ع", "fa": "ف", "FA": "ف",
    "ru": "ру", "RU": "ру", "uk": "ук", "UK": "ук", "hi": "हि", "HI": "हि", "pa": "ਪੰ", "PA": "ਪੰ",
    "km": "ខ្មែ", "lo": "ລາວ",
}  # fmt: skip


def _more_script_tags() -> None:
    """Every other language not written in Latin letters is tagged with its own name's first letters, so the
    answer checks (which reject a Latin answer for such a channel) see what a real engine would send."""
    from bot.answers import SCRIPTS
    from bot.languages import LANGUAGES

    for lang in LANGUAGES.values():
        if "LATIN" not in SCRIPTS.get(lang.code, {"LATIN"}):
            for code in lang.codes.values():
                SCRIPT_TAGS.setdefault(code, lang.native[:2])


_more_script_tags()


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
    urls: list[str] = field(default_factory=list)  # path and query of each request: what a proxy log would see
    _faults: list[str] = field(default_factory=list)
    down: bool = False  # answer 503 to everything until switched back
    inflight: int = 0  # requests being answered right now
    peak_inflight: int = 0  # the most answered at once: shows whether a client fans out in parallel
    key: str | None = None  # when set, a request with another key gets 403 (echoing the key, as some do)
    retry_after: float | None = None  # sent with 429 answers when set
    hang_until: float = 0.0  # time.monotonic() before which every request hangs (see `hang_for`)
    # Server-side rate limit (calls per second, burst): beyond it, 429 with Retry-After, as real services do.
    limit: tuple[float, float] | None = None
    throttled: int = 0  # 429s the limit sent
    _bucket: tuple[float, float] = (0.0, -1.0)  # (tokens, at)

    # --- faults ----------------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1) -> None:
        """kind: '429', '500', '503', 'hang' (no answer for 30 s) or 'malformed' (not JSON)."""
        self._faults.extend([kind] * times)

    def hang_for(self, seconds: float) -> None:
        """Every request that arrives in the next `seconds` gets no answer (for 60 s): a dead server."""
        self.hang_until = time.monotonic() + seconds

    # --- the fake engine -------------------------------------------------------------------------

    def render(self, q: str, source: str, target: str) -> str:
        out = q if self.engine is None else self.engine(q, source, target)
        phrases = self.dictionary.get(target, {}) if self.engine is None else {}
        for phrase in sorted(phrases, key=len, reverse=True):
            out = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", phrases[phrase], out, flags=re.IGNORECASE)
        if self.transform:
            out = self.transform(out, q, target)
        return f"[{SCRIPT_TAGS.get(target, target)}] {out}" if self.tag else out

    async def serve(self, q: str, source: str, target: str, key: str | None = None) -> str | web.Response:
        """The engine behind every wire format: the translation, or the error response a fault calls for."""
        started = time.monotonic()
        self.calls.append(Call(q, source, target, started))
        self.inflight += 1
        self.peak_inflight = max(self.peak_inflight, self.inflight)
        try:
            out = await self._answer(q, source, target, key)
        finally:
            self.inflight -= 1
        if isinstance(out, web.Response):
            out.headers["Server-Timing"] = f"app;dur={(time.monotonic() - started) * 1000:.1f}"
        return out

    def _over_limit(self) -> bool:
        if self.limit is None:
            return False
        rate, burst = self.limit
        tokens, at = self._bucket
        now = time.monotonic()
        tokens = burst if at < 0 else min(burst, tokens + (now - at) * rate)
        if tokens < 1:
            self._bucket = (tokens, now)
            self.throttled += 1
            return True
        self._bucket = (tokens - 1, now)
        return False

    async def _answer(self, q: str, source: str, target: str, key: str | None) -> str | web.Response:
        fault = self._faults.pop(0) if self._faults else ("503" if self.down else None)
        if fault is None and self._over_limit():
            fault = "429"
        delay = self.latency + (random.uniform(0, self.jitter) if self.jitter else 0.0)
        if self.delay_for:
            delay += self.delay_for(q, target)
        if fault == "hang" or time.monotonic() < self.hang_until:
            delay += 60 if fault != "hang" else 30
        if delay:
            await asyncio.sleep(delay)
        if fault in ("403", "429", "500", "502", "503"):
            return self.error(int(fault), f"fault {fault}")
        if fault == "malformed":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if self.key is not None and key != self.key:
            return self.error(403, f"Invalid API key: {key}")
        if not q or not target:
            return self.error(400, "Invalid request: missing q or target")
        try:
            return self.render(q, source, target)
        except UnsupportedPair as exc:  # LibreTranslate answers 400 for a language it lacks, not 500
            return self.error(400, str(exc))

    def error(self, status: int, message: str) -> web.Response:
        return _json(json.dumps({"error": message}), status=status, headers=self.retry_headers(status))

    def retry_headers(self, status: int) -> dict[str, str] | None:
        return {"Retry-After": f"{self.retry_after:g}"} if status == 429 and self.retry_after is not None else None

    def timed(self, body: str, started: float) -> web.Response:
        """A 200 JSON answer carrying the service time since `started`."""
        response = _json(body)
        response.headers["Server-Timing"] = f"app;dur={(time.monotonic() - started) * 1000:.1f}"
        return response

    async def _translate(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.urls.append(str(request.rel_url))
        fields = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                fields.update(await request.json())
            else:
                fields.update(await request.post())
        q, source, target = str(fields.get("q", "")), str(fields.get("source", "")), str(fields.get("target", ""))
        out = await self.serve(q, source, target, fields.get("api_key"))
        if isinstance(out, web.Response):
            return out
        return self.timed(json.dumps({"translatedText": out}), started)

    async def _fault(self, request: web.Request) -> web.Response:
        """Test control, never part of a real service: `kind=hang&seconds=S` or `kind=429|500|...&times=N`."""
        kind = request.query.get("kind", "")
        if kind == "hang" and "seconds" in request.query:
            self.hang_for(float(request.query["seconds"]))
        else:
            self.fail_next(kind, int(request.query.get("times", "1")))
        return _json('{"ok": true}')

    async def _languages(self, request: web.Request) -> web.Response:
        return _json(json.dumps([{"code": c, "name": c, "targets": LANGUAGE_CODES} for c in LANGUAGE_CODES]))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/translate", self._translate)
        app.router.add_get("/languages", self._languages)
        app.router.add_post("/_fault", self._fault)
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


def _json(body: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


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


def serve_forever(fake: FakeLibre, port: int, label: str) -> None:
    """Serve `fake` until Ctrl+C; the first line printed says where (callers wait for it)."""
    with ServerThread(fake, port) as server:
        print(f"{label} on {server.url} (Ctrl+C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


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
    serve_forever(fake, args.port, "LibreTranslate-compatible test server")


if __name__ == "__main__":
    main()
