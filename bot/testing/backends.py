"""Stand-ins for Google's web endpoint, DeepL, Microsoft Translator and MyMemory on 127.0.0.1.

Each speaks the HTTP that deep-translator 1.11.4's real class sends and parses, so tests run the real
`GoogleTranslator`, `DeeplTranslator`, `MicrosoftTranslator` and `MyMemoryTranslator` against them (the
base URL set through `CONCORD_<SERVICE>_URL`). The engine, faults and bookkeeping are `FakeLibre`'s
(`latency`, `dictionary`, `fail_next("429" | "500" | "503" | "403" | "hang" | "malformed")`, `key`,
`retry_after`, `calls`); only the wire format differs:

- Google: `GET /m?sl=..&tl=..&q=..` -> an HTML page with `<div class="result-container">`; errors are HTML.
- DeepL: `GET|POST /v2/translate` (auth_key parameter or `Authorization: DeepL-Auth-Key ...`) ->
  `{"translations": [{"text": ...}]}`; a wrong key gets 403 with the key echoed back.
- Microsoft: `POST /translate?api-version=3.0&from=..&to=..`, JSON `[{"text": ...}]`, key in
  `Ocp-Apim-Subscription-Key` -> `[{"translations": [{"text": ..., "to": ...}]}]`; errors
  `{"error": {"code": 401000, "message": ...}}`. `GET /languages` is counted in `languages_calls`.
- MyMemory: `GET /get?q=..&langpair=en|es&de=email` -> `{"responseData": {"translatedText": ...}, ...}`;
  `fail_next("quota")` answers 200 with its daily-quota notice as the "translation", as MyMemory does.

Run one alone: `python -m bot.testing.backends --kind mymemory --port 5056`.
"""

from __future__ import annotations

import argparse
import html
import json
import time
from dataclasses import dataclass

from aiohttp import web

from bot.testing.libre import FakeLibre, _json, serve_forever

QUOTA_NOTICE = "MYMEMORY WARNING: YOU USED ALL AVAILABLE FREE TRANSLATIONS FOR TODAY. NEXT AVAILABLE IN 10 HOURS"


@dataclass
class FakeGoogle(FakeLibre):
    """translate.google.com/m, the page deep-translator's GoogleTranslator scrapes."""

    def error(self, status: int, message: str) -> web.Response:
        headers = self.retry_headers(status)
        page = f"<html><body><h1>Error {status}</h1><p>{html.escape(message)}</p></body></html>"
        return web.Response(text=page, status=status, content_type="text/html", headers=headers)

    async def _page(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.urls.append(str(request.rel_url))
        q = request.query
        out = await self.serve(q.get("q", ""), q.get("sl", ""), q.get("tl", ""))
        if isinstance(out, web.Response):
            return out
        page = (
            '<html><body><div class="other">Google Translate</div>'
            f'<div class="result-container">{html.escape(out)}</div></body></html>'
        )
        response = web.Response(text=page, content_type="text/html")
        response.headers["Server-Timing"] = f"app;dur={(time.monotonic() - started) * 1000:.1f}"
        return response

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/m", self._page)
        return app


@dataclass
class FakeDeepL(FakeLibre):
    def error(self, status: int, message: str) -> web.Response:
        return _json(json.dumps({"message": message}), status=status, headers=self.retry_headers(status))

    async def _translate_v2(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.urls.append(str(request.rel_url))
        fields = dict(request.query)
        if request.can_read_body:
            fields.update(await request.post())
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("DeepL-Auth-Key ").strip() if auth else fields.get("auth_key")
        out = await self.serve(
            str(fields.get("text", "")), str(fields.get("source_lang", "")), str(fields.get("target_lang", "")), key
        )
        if isinstance(out, web.Response):
            return out
        body = {"translations": [{"detected_source_language": fields.get("source_lang", "EN"), "text": out}]}
        return self.timed(json.dumps(body), started)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_route("*", "/v2/translate", self._translate_v2)
        return app


@dataclass
class FakeMicrosoft(FakeLibre):
    languages_calls: int = 0

    def error(self, status: int, message: str) -> web.Response:
        body = {"error": {"code": status * 1000, "message": message}}
        return _json(json.dumps(body), status=status, headers=self.retry_headers(status))

    async def _translate_v3(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.urls.append(str(request.rel_url))
        try:
            items = await request.json()
            text = str(items[0]["text"])
        except (ValueError, LookupError, TypeError):
            return self.error(400, "The body of the request is not valid JSON.")
        q = request.query
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        out = await self.serve(text, q.get("from", ""), q.get("to", ""), key)
        if isinstance(out, web.Response):
            return out
        return self.timed(json.dumps([{"translations": [{"text": out, "to": q.get("to", "")}]}]), started)

    async def _ms_languages(self, request: web.Request) -> web.Response:
        self.languages_calls += 1
        return _json(json.dumps({"translation": {"en": {"name": "English"}, "es": {"name": "Spanish"}}}))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/translate", self._translate_v3)
        app.router.add_get("/languages", self._ms_languages)
        app.router.add_post("/_fault", self._fault)
        return app


@dataclass
class FakeMyMemory(FakeLibre):
    def error(self, status: int, message: str) -> web.Response:
        body = {"responseData": {"translatedText": message.upper()}, "responseStatus": status, "matches": []}
        return _json(json.dumps(body), status=status, headers=self.retry_headers(status))

    async def _get(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.urls.append(str(request.rel_url))
        q = request.query
        source, _, target = q.get("langpair", "").partition("|")
        if self._faults and self._faults[0] == "quota":
            self._faults.pop(0)
            out: str | web.Response = QUOTA_NOTICE
        else:
            out = await self.serve(q.get("q", ""), source, target, q.get("de"))
        if isinstance(out, web.Response):
            return out
        body = {
            "responseData": {"translatedText": out, "match": 1},
            "quotaFinished": False,
            "responseStatus": 200,
            "matches": [{"translation": out, "quality": "74"}],
        }
        return self.timed(json.dumps(body), started)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/get", self._get)
        return app


FAKES: dict[str, type[FakeLibre]] = {
    "libre": FakeLibre,
    "google": FakeGoogle,
    "deepl": FakeDeepL,
    "microsoft": FakeMicrosoft,
    "mymemory": FakeMyMemory,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(FAKES), default="libre")
    parser.add_argument("--port", type=int, default=5056)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args()
    fake = FAKES[args.kind](latency=args.latency_ms / 1000, jitter=args.jitter_ms / 1000)
    serve_forever(fake, args.port, f"{args.kind} test server")


if __name__ == "__main__":
    main()
