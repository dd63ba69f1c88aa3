"""The translation chain: real deep-translator LibreTranslator against local servers that misbehave on command."""

from __future__ import annotations

import asyncio

import pytest
from deep_translator import LibreTranslator

from bot.config import Settings
from bot.languages import LANGUAGES
from bot.testing.libre import FakeLibre, ServerThread
from bot.translation import Backend, Retrying, Stats, TranslationService, build_translator

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
