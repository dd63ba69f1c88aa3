"""The translation chain: real deep-translator LibreTranslator against local servers that misbehave on command."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from deep_translator import LibreTranslator

from bot.config import Settings
from bot.languages import LANGUAGES
from bot.limits import Breaker, Slots
from bot.testing.libre import FakeLibre, ServerThread
from bot.translation import (
    COMPACT_S2TWP,
    Backend,
    ChineseConverter,
    Retrying,
    Stats,
    TranslationService,
    build_translator,
    check_answer,
)

EN, ES, VI, TL, TO, YUE = (LANGUAGES[c] for c in ("en", "es", "vi", "tl", "to", "yue"))


def libre_backend(url: str, name: str = "libre", timeout: float = 2.0) -> Backend:
    return Backend(
        name,
        lambda: LibreTranslator(source="en", target="es", api_key="k", custom_url=url),
        timeout=timeout,
        kind="libre",
    )


def service(*backends: Backend, store=None, retries: int = 2) -> TranslationService:
    stats = Stats()
    return TranslationService(
        [Retrying(b, retries=retries, base_delay=0.01, stats=stats) for b in backends], store=store, stats=stats
    )


async def test_translates_through_the_real_libre_client(libre):
    result = await service(libre_backend(libre.url)).translate("Good evening, families.", EN, ES)
    assert result.ok and result.text == "[es] Good evening, families." and result.backend == "libre"
    assert libre.fake.calls[0].source == "en" and libre.fake.calls[0].target == "es"


@pytest.mark.parametrize("fault", ["429", "500", "503", "malformed"])
async def test_transient_failures_are_retried(libre, fault):
    libre.fake.fail_next(fault, times=2)
    chain = service(libre_backend(libre.url), retries=2)
    result = await chain.translate("Next slide please.", EN, VI)
    assert result.ok and result.text == "[vi] Next slide please."
    assert chain.stats.retries == 2 and len(libre.fake.calls) == 3


async def test_a_hanging_backend_hits_the_deadline_and_falls_back(libre):
    libre.fake.fail_next("hang", times=5)
    with ServerThread(FakeLibre(dictionary={"es": {"hello": "hola"}}, tag=False)) as spare:
        chain = service(libre_backend(libre.url, timeout=0.3), libre_backend(spare.url, "spare"), retries=0)
        result = await chain.translate("hello", EN, ES)
    # Had the deadline not held, the first server would have answered "[es] hello" 30 s later.
    assert result.ok and result.text == "hola" and result.backend == "spare"


async def test_a_deployers_proxy_setting_carries_every_call(libre, monkeypatch):
    # The service's name does not resolve here: only through the proxy (the test server, which answers requests
    # for any host) can a call get an answer. Each worker thread reads the environment once, then keeps it.
    monkeypatch.setenv("HTTP_PROXY", libre.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    chain = service(libre_backend("http://libre.invalid:5000/"), retries=0)
    first = await chain.translate("Good evening, families.", EN, ES)
    second = await chain.translate("Next slide please.", EN, ES)
    assert first.ok and second.ok and second.text == "[es] Next slide please."
    assert len(libre.fake.calls) == 2


async def test_every_backend_down_returns_the_original_marked_not_ok(libre):
    libre.fake.down = True
    result = await service(libre_backend(libre.url), retries=1).translate("The vote is tonight.", EN, ES)
    assert not result.ok and result.text == "The vote is tonight."
    assert "NOT_AVAIBLE" in result.error  # sic: deep-translator's spelling of 503


async def test_refused_connection_is_a_failure_not_a_crash():
    result = await service(libre_backend("http://127.0.0.1:9/"), retries=0).translate("hello", EN, ES)
    assert not result.ok and result.text == "hello"


async def test_repeated_phrase_is_served_from_cache_not_resent(libre, store):
    chain = service(libre_backend(libre.url), store=store)
    first = await chain.translate("Any questions?", EN, ES)
    second = await chain.translate("Any questions?", EN, ES)
    assert first.text == second.text and second.cached and not first.cached
    assert len(libre.fake.calls) == 1 and chain.stats.cache_hits == 1
    # The cache lives in SQLite too: a restarted bot does not re-send it either.
    restarted = service(libre_backend(libre.url), store=store)
    assert (await restarted.translate("Any questions?", EN, ES)).cached
    assert len(libre.fake.calls) == 1


async def test_identical_texts_in_flight_share_one_backend_call(libre):
    libre.fake.latency = 0.2
    chain = service(libre_backend(libre.url))
    results = await asyncio.gather(*(chain.translate("Welcome!", EN, ES) for _ in range(5)))
    assert {r.text for r in results} == {"[es] Welcome!"} and len(libre.fake.calls) == 1


async def test_language_no_backend_serves_is_reported_unsupported(libre):
    result = await service(libre_backend(libre.url)).translate("hello", EN, LANGUAGES["quc"])
    assert result.unsupported and not result.ok and result.text == "hello"


async def test_filipino_is_sent_with_its_own_code_despite_deep_translators_stale_list(libre):
    result = await service(libre_backend(libre.url)).translate("hello", EN, TL)
    assert result.ok and libre.fake.calls[0].target == "tl"


async def test_tongan_is_not_sent_to_libretranslate_which_has_no_tongan_model(libre):
    result = await service(libre_backend(libre.url)).translate("hello", EN, TO)
    assert result.unsupported and result.text == "hello" and libre.fake.calls == []


async def test_cantonese_channel_is_translated_as_traditional_chinese(libre):
    result = await service(libre_backend(libre.url)).translate("hello", EN, YUE)
    assert result.ok and libre.fake.calls[0].target == "zt"  # LibreTranslate's Traditional Chinese


async def test_text_over_the_backend_limit_is_sent_in_chunks(libre):
    text = "The council reviews the budget line by line. " * 150  # ~6,900 characters
    result = await service(libre_backend(libre.url)).translate(text, EN, ES)
    assert result.ok and len(libre.fake.calls) == 2
    assert all(len(c.q) < 5000 for c in libre.fake.calls)
    assert result.text.count("budget") == 150


async def test_markup_never_reaches_the_backend(libre):
    await service(libre_backend(libre.url)).translate("Ask <@42> at https://school.example/lcap", EN, ES)
    sent = libre.fake.calls[0].q
    assert "<@42>" not in sent and "https://" not in sent


def test_unconfigured_backends_are_skipped_and_none_configured_is_a_clear_error(tmp_path):
    settings = Settings(_env_file=None, translator="deepl", fallbacks=["libre"])
    with pytest.raises(ValueError, match="no translator is configured"):
        build_translator(settings, None)
    settings = Settings(_env_file=None, translator="deepl", fallbacks=["google"])
    assert list(build_translator(settings, None).backends) == ["google"]


def test_secrets_never_appear_in_settings_repr():
    settings = Settings(_env_file=None, discord_token="tok-123-secret", deepl_api_key="dl-secret")
    assert "tok-123-secret" not in repr(settings) and "dl-secret" not in str(settings)


# --- failure handling: circuit breaker, rate limit, retry priority ---------------------------------------


def two_backends(primary_url: str, spare_url: str, retries: int = 1) -> tuple[TranslationService, Backend, Backend]:
    first = libre_backend(primary_url)
    spare = libre_backend(spare_url, "spare")
    return service(first, spare, retries=retries), first, spare


async def test_circuit_opens_after_consecutive_failures_then_a_probe_closes_it(libre, caplog):
    libre.fake.down = True
    with ServerThread(FakeLibre()) as spare:
        chain, first, _ = two_backends(libre.url, spare.url)
        first.breaker = Breaker("libre", threshold=3, cooldown=0.3)
        for i in range(5):
            assert (await chain.translate(f"Message {i}.", EN, ES)).backend == "spare"
        assert len(libre.fake.calls) == 3  # after 3 failures the primary is skipped, straight to the spare
        health = {h.name: h for h in chain.health()}
        assert health["libre"].state == "open" and health["libre"].retry_in_s > 0
        assert "circuit open after 3 consecutive failure(s)" in caplog.text

        libre.fake.down = False
        await asyncio.sleep(0.35)  # the cool-down passes: the next message probes the primary
        result = await chain.translate("After the outage.", EN, ES)
        assert result.backend == "libre" and len(libre.fake.calls) == 4
        assert chain.health()[0].state == "closed" and "circuit closed" in caplog.text


async def test_client_side_rate_limit_keeps_a_twelve_language_burst_under_the_service_limit(libre):
    # The service allows 6 calls/s with a burst of 12 (Concord keeps to 5); messages fan out to 12 languages.
    libre.fake.limit = (6.0, 12.0)
    libre.fake.retry_after = 1.0
    targets = [LANGUAGES[c] for c in ("es", "vi", "zh-TW", "ko", "tl", "ar", "fa", "ru", "ja", "pt", "uk", "hi")]
    limited = Backend("libre", libre_backend(libre.url).factory, kind="libre", rate=5.0, burst=12.0, timeout=6.0)
    chain = TranslationService([Retrying(limited, retries=2, base_delay=0.01)], deadline=20.0)
    results = await asyncio.gather(*(chain.translate(f"Line {n}.", EN, t) for n in range(2) for t in targets))
    assert [r.error for r in results if not r.ok] == []
    assert libre.fake.throttled == 0  # not one 429 earned


async def test_without_the_client_side_limit_the_same_burst_earns_429s(libre):
    libre.fake.limit = (6.0, 12.0)
    libre.fake.retry_after = 0.2
    targets = [LANGUAGES[c] for c in ("es", "vi", "zh-TW", "ko", "tl", "ar", "fa", "ru", "ja", "pt", "uk", "hi")]
    chain = service(libre_backend(libre.url, timeout=5.0), retries=3)
    await asyncio.gather(*(chain.translate(f"Line {n}.", EN, t) for n in range(2) for t in targets))
    assert libre.fake.throttled > 0  # what the limiter above prevents


async def test_retries_of_untranslated_messages_wait_behind_live_ones(libre):
    # One slot, so the server sees calls in the order they got it (two slots would race on the wire); a long
    # timeout, so the last in line may wait for six calls before its own.
    libre.fake.latency = 0.15
    backend = libre_backend(libre.url, timeout=8.0)
    backend.slots = Slots(size=1, retry_size=1)
    chain = service(backend)
    chain.retry_jitter = 0.0
    retries = [asyncio.create_task(chain.translate(f"retry {i}", EN, ES, priority="retry")) for i in range(3)]
    for _ in range(1000):  # until the first retry holds the slot; the other two queue for it
        if libre.fake.calls:
            break
        await asyncio.sleep(0.005)
    live = [asyncio.create_task(chain.translate(f"live {i}", EN, ES)) for i in range(4)]
    results = await asyncio.gather(*retries, *live)
    assert [r.error for r in results if not r.ok] == []
    assert [c.q for c in libre.fake.calls] == ["retry 0", "live 0", "live 1", "live 2", "live 3", "retry 1", "retry 2"]


async def test_retries_of_untranslated_messages_keep_to_their_share(libre):
    libre.fake.latency = 0.1
    backend = libre_backend(libre.url)
    backend.slots = Slots(size=2, retry_size=1)
    chain = service(backend)
    chain.retry_jitter = 0.0
    results = await asyncio.gather(*(chain.translate(f"retry {i}", EN, ES, priority="retry") for i in range(3)))
    assert all(r.ok for r in results) and libre.fake.peak_inflight == 1  # one slot of two, however many wait
    results = await asyncio.gather(*(chain.translate(f"live {i}", EN, ES) for i in range(3)))
    assert all(r.ok for r in results) and libre.fake.peak_inflight == 2  # live messages may use both


async def test_retries_stop_while_the_circuit_is_open(libre):
    libre.fake.down = True
    backend = libre_backend(libre.url)
    backend.breaker = Breaker("libre", threshold=2, cooldown=60)
    chain = service(backend, retries=1)
    assert not (await chain.translate("Live message.", EN, ES)).ok
    calls = len(libre.fake.calls)
    result = await chain.translate("Live message.", EN, ES, priority="retry")
    assert not result.ok and "down" in result.error
    assert len(libre.fake.calls) == calls  # no thundering herd on a dead service


# --- answers checked before use or caching -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "target", "why"),
    [
        ("", "es", "empty"),
        ("Any questions about the budget?", "vi", "the source text"),
        ("Any questions about the budget? [vi]", "zh-TW", "script"),
        ("¿Alguna pregunta sobre el presupuesto?", "ko", "script"),
        ("x" * 200_000, "es", "characters long"),
    ],
)
def test_bad_answers_are_recognised(answer, target, why):
    assert why in check_answer("Any questions about the budget?", answer, "en", target)


@pytest.mark.parametrize(
    ("source", "answer", "target"),
    [
        ("Any questions about the budget?", "¿Alguna pregunta sobre el presupuesto?", "es"),
        ("Please ask Mr. Davis about the ELPAC.", "請向 Mr. Davis 詢問 ELPAC。", "zh-TW"),
        ("LCAP", "LCAP", "ko"),  # one acronym may stay as it is
        ("12/3, 6:30 pm", "12/3, 6:30 pm", "es"),  # numbers and names need no translation
        ("Carmen Lopez, Mr. Davis", "Carmen Lopez, Mr. Davis", "vi"),
        ("Mr. Davis", "Mr. Davis", "zh-TW"),
        ("Thank you.", "Cảm ơn.", "vi"),
        ("我的孩子需要补课吗?", "Does my child need tutoring?", "en"),
    ],
)
def test_good_answers_pass(source, answer, target):
    assert check_answer(source, answer, "zh-CN" if source.startswith("我") else "en", target) is None


async def test_an_echoing_server_is_skipped_for_the_fallback_and_its_answer_never_cached(store):
    echo = FakeLibre(tag=False)  # answers the source text unchanged
    with ServerThread(echo) as primary, ServerThread(FakeLibre()) as spare:
        chain, _, _ = two_backends(primary.url, spare.url)
        chain.store = store
        result = await chain.translate("Any questions about the budget?", EN, VI)
        assert result.ok and result.backend == "spare" and result.fallback
        assert result.text == "[vi] Any questions about the budget?"
        # The primary recovers; after a restart it is asked again (its echo was never stored).
        echo.tag = True
        restarted, _, _ = two_backends(primary.url, spare.url)
        restarted.store = store
        again = await restarted.translate("Any questions about the budget?", EN, VI)
        assert again.backend == "libre" and not again.cached and len(echo.calls) == 2


async def test_a_huge_answer_is_rejected_not_posted_in_pieces(libre):
    libre.fake.transform = lambda out, q, target: out + " filler" * 30_000  # ~200 KB
    result = await service(libre_backend(libre.url)).translate("Any questions?", EN, ES)
    assert not result.ok and result.text == "Any questions?" and "characters long" in result.error


async def test_a_fallback_answer_is_cached_under_the_fallback_and_replaced_when_the_primary_returns(store):
    with ServerThread(FakeLibre()) as primary, ServerThread(FakeLibre(dictionary={"es": {"hi": "hola"}})) as spare:
        primary.fake.down = True
        chain, _, _ = two_backends(primary.url, spare.url)
        chain.store = store
        assert (await chain.translate("hi", EN, ES)).text == "[es] hola"  # from the spare

        primary.fake.down = False  # a later message: the primary is healthy, so it is asked, not the cache
        better = await chain.translate("hi", EN, ES)
        assert better.text == "[es] hi" and better.backend == "libre" and not better.cached
        third = await chain.translate("hi", EN, ES)
        assert third.cached and third.text == "[es] hi"
        assert len(primary.fake.calls) == 2 + 1 and len(spare.fake.calls) == 1  # 2 failed tries, then 1 answer


async def test_a_cached_fallback_answer_is_used_while_the_primary_is_down(store):
    with ServerThread(FakeLibre()) as primary, ServerThread(FakeLibre()) as spare:
        primary.fake.down = True
        chain, first, _ = two_backends(primary.url, spare.url)
        chain.store = store
        first.breaker = Breaker("libre", threshold=2, cooldown=60)
        await chain.translate("See you next week.", EN, ES)  # two failed tries open the primary's circuit
        assert first.breaker.state == "open"
        again = await chain.translate("See you next week.", EN, ES)
        assert again.cached and again.backend == "spare" and len(spare.fake.calls) == 1


# --- Chinese: converted here, not sent anywhere ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "text", "expected"),
    [
        ("zh-CN", "zh-TW", "我的孩子需要补课吗?软件", "我的孩子需要補課嗎?軟體"),
        ("zh-TW", "zh-CN", "我的孩子需要補課嗎?軟體", "我的孩子需要补课吗?软件"),
        ("zh-CN", "yue", "会议什么时候结束?", "會議什麼時候結束?"),
    ],
)
async def test_simplified_and_traditional_chinese_are_converted_locally(libre, source, target, text, expected):
    result = await service(libre_backend(libre.url)).translate(text, LANGUAGES[source], LANGUAGES[target])
    assert result.ok and result.text == expected and result.backend == "opencc"
    assert libre.fake.calls == []


# Taiwan phrases a parent reading #繁體中文 expects (OpenCC's s2twp; 仙童 -> 快捷 is from its regional phrases).
TAIWAN_PHRASES = {
    "家长会在学校的网络上发布视频和信息。": "家長會在學校的網路上釋出影片和資訊。",
    "请用打印机打印成绩单，然后坐出租车回家。": "請用印表機列印成績單，然後坐計程車回家。",
    "服务器的内存不够，程序要重新启动。": "伺服器的記憶體不夠，程式要重新啟動。",
    "孩子的软件、鼠标和U盘都在书包里。": "孩子的軟體、滑鼠和隨身碟都在書包裡。",
    "我们下周一开家长会，讨论特殊教育计划（IEP）。": "我們下週一開家長會，討論特殊教育計劃（IEP）。",
    "仙童半导体厂的笔记本电脑和自行车": "快捷半導體廠的筆記型電腦和腳踏車",
}


async def test_simplified_chinese_reaches_taiwan_readers_with_taiwan_phrases_from_the_compact_dictionaries():
    import opencc

    converter = ChineseConverter()
    compact = converter.converter("s2twp")
    assert Path(compact.config) == COMPACT_S2TWP / "s2twp.json"  # this OpenCC is the one they were built from
    stock = opencc.OpenCC("s2twp")
    for text, expected in TAIWAN_PHRASES.items():
        assert await converter.convert(text, LANGUAGES["zh-CN"], LANGUAGES["zh-TW"]) == expected == stock.convert(text)


async def test_another_opencc_version_converts_with_its_own_s2twp(tmp_path, caplog):
    folder = tmp_path / "opencc"
    shutil.copytree(COMPACT_S2TWP, folder)
    built = json.loads((folder / "sources.json").read_text())
    (folder / "sources.json").write_text(json.dumps({**built, "opencc": "1.0.0"}))
    converter = ChineseConverter(compact=folder)
    assert Path(converter.converter("s2twp").config).parent != folder
    for text, expected in TAIWAN_PHRASES.items():
        assert await converter.convert(text, LANGUAGES["zh-CN"], LANGUAGES["zh-TW"]) == expected
    assert "using OpenCC's own s2twp" in caplog.text
