"""Every backend under failure: deep-translator's real classes against loopback servers speaking each
service's HTTP (bot/testing/backends.py), configured the way a deployer configures them (Settings)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from bot.config import Settings
from bot.languages import LANGUAGES
from bot.testing.backends import FAKES, FakeMicrosoft
from bot.testing.libre import ServerThread
from bot.translation import TranslationService, build_translator

EN, ES, VI, ZH = (LANGUAGES[c] for c in ("en", "es", "vi", "zh-TW"))
DEEPL_KEY = "dk-7f3a9c1e-secret:fx"
MS_KEY = "ms0a1b2c3d4e5f6secret"
LIBRE_KEY = "lt-key-5e6f7a8b"
KEYS = {"deepl": DEEPL_KEY, "microsoft": MS_KEY, "libre": LIBRE_KEY, "mymemory": "parent.liaison@district.example"}
SERVICES = ["google", "deepl", "microsoft", "mymemory", "libre"]
# What each fake sees as the target code for Spanish (each service's own code, passed by Concord).
SPANISH = {"google": "es", "deepl": "ES", "microsoft": "es", "mymemory": "es", "libre": "es"}


@pytest.fixture
def servers():
    """Start loopback servers on demand: servers("google") -> ServerThread; all stopped at the end."""
    started: list[ServerThread] = []

    def start(kind: str, **options) -> ServerThread:
        fake = FAKES[kind](key=KEYS.get(kind), **options)
        server = ServerThread(fake).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def configure(primary: str, urls: dict[str, ServerThread], **overrides) -> Settings:
    """Settings as a deployer writes them, every service pointed at its loopback server."""
    values: dict = {
        "translator": primary,
        "fallbacks": [n for n in urls if n != primary],
        "deepl_api_key": DEEPL_KEY,
        "microsoft_api_key": MS_KEY,
        "libre_api_key": LIBRE_KEY,
        "mymemory_email": KEYS["mymemory"],
        "translate_timeout": 2.0,
        "translate_retries": 1,
        "rate_limits": {},
    }
    for name, server in urls.items():
        values[f"{name}_url"] = server.url if name == "libre" else server.url.rstrip("/")
    return Settings(_env_file=None, **{**values, **overrides})


def chain(settings: Settings, store=None) -> TranslationService:
    service = build_translator(settings, store)
    service.retry_jitter = 0.0
    return service


@pytest.mark.parametrize("kind", SERVICES)
async def test_each_service_translates_through_deep_translators_real_class(servers, kind):
    server = servers(kind)
    result = await chain(configure(kind, {kind: server})).translate("Good evening, families.", EN, ES)
    assert result.ok and result.backend == kind
    assert result.text == "[es] Good evening, families." if kind != "deepl" else "[ES] Good evening, families."
    (call,) = server.fake.calls
    assert (call.q, call.target) == ("Good evening, families.", SPANISH[kind])
    assert result.service_ms is not None  # the server's own time travels back (Server-Timing)


@pytest.mark.parametrize("kind", SERVICES)
async def test_each_service_429_is_retried_after_the_time_it_asks_for(servers, kind):
    server = servers(kind, retry_after=0.3)
    server.fake.fail_next("429")
    result = await chain(configure(kind, {kind: server})).translate("Next slide please.", EN, VI)
    assert result.ok and result.backend == kind
    first, second = server.fake.calls
    assert second.at - first.at >= 0.3  # not before the server said (measured at the server)


@pytest.mark.parametrize("kind", SERVICES)
async def test_each_service_5xx_is_retried_then_falls_back(servers, kind):
    server = servers(kind)
    spare = servers("libre" if kind != "libre" else "google")
    server.fake.fail_next("500", times=1)
    service = chain(configure(kind, {kind: server, spare.fake.__class__.__name__[4:].lower(): spare}))
    assert (await service.translate("The vote is tonight.", EN, VI)).backend == kind  # one 500, then success
    server.fake.fail_next("503", times=10)
    result = await service.translate("The budget is ready.", EN, VI)
    assert result.ok and result.fallback and result.backend != kind
    assert len(server.fake.calls) == 2 + 2  # two tries each time, then the spare


@pytest.mark.parametrize("kind", SERVICES)
async def test_each_service_hanging_gives_way_to_the_fallback_within_the_deadline(servers, kind):
    server = servers(kind)
    spare_kind = "libre" if kind != "libre" else "google"
    spare = servers(spare_kind)
    server.fake.hang_for(60)
    # Production shape, scaled down: 3 tries of the primary + 1 fallback must fit in the deadline.
    service = chain(configure(kind, {kind: server, spare_kind: spare}, translate_deadline=1.2, translate_retries=2))
    result = await service.translate("Is there a class for parents?", EN, ES)
    assert result.ok and result.backend == spare_kind and len(spare.fake.calls) == 1


@pytest.mark.parametrize("kind", ["deepl", "microsoft", "libre", "mymemory", "google"])
async def test_each_service_rejecting_the_key_opens_its_circuit_and_never_shows_the_key(servers, kind, caplog):
    server = servers(kind)
    server.fake.key = "another-key-entirely"  # the configured key is now wrong; the server echoes it back
    if kind == "google":
        server.fake.fail_next("403", times=5)  # no key: Google's equivalent is a blocked address
    service = chain(configure(kind, {kind: server}))
    result = await service.translate("My son needs help with math.", EN, ES)
    assert not result.ok and result.text == "My son needs help with math."
    assert "auth" in result.error
    assert len(server.fake.calls) == 1  # a bad key is not retried
    (health,) = service.health()
    assert health.state == "open"  # and the backend is skipped until the cool-down ends
    await service.translate("Second message.", EN, ES)
    assert len(server.fake.calls) == 1
    logged = caplog.text + result.error + str(health)
    assert KEYS.get(kind, "\0") not in logged and "My son needs help" not in logged


async def test_a_hung_server_never_holds_the_slots_live_messages_need(servers):
    primary = servers("libre")
    primary.fake.fail_next("hang", times=4)  # twice as many hung calls as the backend has slots
    service = chain(configure("libre", {"libre": primary}, translate_workers=2, translate_retries=0,
                              translate_deadline=0.6))  # fmt: skip
    for wave in range(2):
        results = await asyncio.gather(*(service.translate(f"Question {wave}.{i}?", EN, ES) for i in range(2)))
        assert not any(r.ok for r in results)
    # All 4 calls are still hung at the server (it answers in 30 s): a slot is freed when Concord gives up.
    assert primary.fake.inflight == 4
    later = await service.translate("The server is healthy again.", EN, ES)
    assert later.ok and later.text == "[es] The server is healthy again."


def test_the_process_exits_at_once_although_a_call_is_still_hung(servers, tmp_path):
    server = servers("libre")
    server.fake.hang_for(3600)
    script = textwrap.dedent(f"""
        import asyncio
        from bot.config import Settings
        from bot.languages import LANGUAGES
        from bot.translation import build_translator

        async def main():
            settings = Settings(_env_file=None, translator="libre", fallbacks=[], libre_url="{server.url}",
                                translate_timeout=120, translate_deadline=0.5, translate_retries=0)
            result = await build_translator(settings, None).translate("hello", LANGUAGES["en"], LANGUAGES["es"])
            print("delivered untranslated" if not result.ok else "translated", flush=True)

        asyncio.run(main())
    """)
    # The worker thread is blocked reading a socket for up to 120 s; exit must not wait for it.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "delivered untranslated", done.stderr
    assert server.fake.inflight == 1  # the server never answered


async def test_microsoft_translator_makes_no_languages_request(servers):
    server = servers("microsoft")
    service = chain(configure("microsoft", {"microsoft": server}))
    for text in ("One.", "Two more words.", "Three words here."):
        assert (await service.translate(text, EN, VI)).ok
    assert isinstance(server.fake, FakeMicrosoft) and server.fake.languages_calls == 0
    assert len(server.fake.calls) == 3


async def test_mymemory_daily_quota_notice_is_a_failure_not_a_translation(servers):
    mymemory, spare = servers("mymemory"), servers("libre")
    mymemory.fake.fail_next("quota")
    result = await chain(configure("mymemory", {"mymemory": mymemory, "libre": spare})).translate(
        "Thank you all for coming.", EN, ES
    )
    assert result.ok and result.backend == "libre" and "MYMEMORY WARNING" not in result.text


async def test_mymemory_gets_pieces_under_its_500_character_limit(servers):
    server = servers("mymemory")
    text = "The council reviews the budget line by line, with the families. " * 12  # ~780 characters
    result = await chain(configure("mymemory", {"mymemory": server})).translate(text, EN, ES)
    assert result.ok and len(server.fake.calls) == 2 and all(len(c.q) < 500 for c in server.fake.calls)


@pytest.mark.parametrize("kind", ["deepl", "libre"])
async def test_key_and_text_travel_in_the_body_not_the_url(servers, kind):
    """deep-translator puts them in the query string, which proxies and access logs keep."""
    server = servers(kind)
    result = await chain(configure(kind, {kind: server})).translate("Private matter about my son.", EN, ES)
    assert result.ok and server.fake.calls[0].q == "Private matter about my son."
    (url,) = server.fake.urls
    assert "Private" not in url and KEYS[kind] not in url


def test_services_must_be_reached_over_https():
    assert Settings(_env_file=None).mymemory_url.startswith("https://")
    with pytest.raises(ValueError, match="https"):
        Settings(_env_file=None, mymemory_url="http://api.mymemory.translated.net")
    with pytest.raises(ValueError, match="https"):
        Settings(_env_file=None, deepl_url="http://api-free.deepl.com")
    with pytest.raises(ValueError, match="https"):
        Settings(_env_file=None, libre_url="http://translate.example.org/")
    # Loopback, and for a self-hosted LibreTranslate a private network, may use plain http.
    assert Settings(_env_file=None, libre_url="http://10.0.0.5:5000/").libre_url
    assert Settings(_env_file=None, google_url="http://127.0.0.1:8080").google_url
