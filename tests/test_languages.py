"""The language registry: every language routes to a backend that serves it, or to a volunteer interpreter;
every channel name is one Discord accepts, in the language's own script."""

from __future__ import annotations

import json
import string
import unicodedata
import urllib.request

import pytest
from deep_translator import LibreTranslator

from bot import languages
from bot.languages import BACKENDS, LANGUAGES
from bot.translation import Backend, Retrying, TranslationService
from tests.test_cli import cli

EN = LANGUAGES["en"]
# Families US districts serve that engines rarely cover; the issue names each of them.
REQUIRED = ("ilo", "ch", "mh", "so", "prs", "ps", "uk", "ht", "my", "ne", "am", "ti", "sw", "ur", "bn", "fr", "pt",
            "hi", "mix", "zap", "mam", "quc")  # fmt: skip
INTERPRETER_ONLY = {"mix", "zap", "mam", "quc"}


def discord_channel_name_problem(name: str) -> str | None:
    """Why Discord would refuse or rewrite this text-channel name (None: it keeps it as is)."""
    if not 1 <= len(name) <= 100:
        return "length must be 1-100"
    if name != name.lower():
        return "has upper case"
    if name.startswith("-") or name.endswith("-"):
        return "starts or ends with a dash"
    for ch in name:
        if ch in string.punctuation and ch not in "-_":
            return f"punctuation {ch!r}"
        if unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cc", "Cn", "Co", "Cs"):
            return f"space or invalid character U+{ord(ch):04X}"
    return None


def scripts(text: str) -> set[str]:
    """The scripts of the letters in a text, by Unicode name (LATIN, ARABIC, CJK, HANGUL, ETHIOPIC...)."""
    return {unicodedata.name(ch).split()[0] for ch in text if unicodedata.category(ch).startswith("L")}


def test_registry_reaches_every_language_the_issue_names_and_at_least_forty():
    assert len(LANGUAGES) >= 40
    assert set(REQUIRED) <= set(LANGUAGES)


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_every_language_routes_to_a_backend_that_serves_it_or_is_interpreter_only(code):
    lang = LANGUAGES[code]
    if lang.interpreter_only:
        assert lang.backends == () and not lang.machine_translated
        return
    assert lang.backends, f"{code} is machine translated but no backend serves it"
    target = languages.for_translation(lang)
    for backend in lang.backends:
        assert backend in BACKENDS and target.codes[backend].strip()


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_channel_name_is_a_valid_discord_name_in_the_languages_own_script(code):
    lang = LANGUAGES[code]
    assert discord_channel_name_problem(lang.channel) is None, discord_channel_name_problem(lang.channel)
    assert scripts(lang.channel) <= scripts(lang.native) | scripts(lang.english), (lang.channel, lang.native)


def test_channel_names_and_codes_are_unique():
    assert len({lang.channel for lang in LANGUAGES.values()}) == len(LANGUAGES)
    assert len({lang.code.lower() for lang in LANGUAGES.values()}) == len(LANGUAGES)


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_right_to_left_flag_matches_the_script(code):
    lang = LANGUAGES[code]
    strong = [unicodedata.bidirectional(ch) for ch in lang.native if unicodedata.bidirectional(ch) in ("L", "R", "AL")]
    assert lang.rtl == (strong[0] in ("R", "AL")), lang.native


def test_named_newcomer_and_pacific_languages_have_the_routes_their_services_publish():
    assert LANGUAGES["prs"].codes == {"google": "fa-AF", "microsoft": "prs"}  # Dari is not Farsi
    assert LANGUAGES["prs"].rtl and LANGUAGES["ps"].rtl and LANGUAGES["ur"].rtl
    for code in ("ilo", "ch", "mh"):  # only Google's 2024 list has them
        assert LANGUAGES[code].backends == ("google",)
    assert LANGUAGES["hmn"].codes["microsoft"] == "mww" and LANGUAGES["tl"].codes["microsoft"] == "fil"
    assert LANGUAGES["zh-TW"].codes["libre"] == "zt"  # LibreTranslate rejects zh-Hant
    assert LANGUAGES["yue"].backends == LANGUAGES["zh-TW"].backends
    assert {c for c, lang in LANGUAGES.items() if lang.interpreter_only} == INTERPRETER_ONLY


def test_aliases_families_and_districts_use_find_the_language():
    assert languages.get("fa-AF").code == "prs"
    assert languages.get("FIL").code == "tl"
    assert languages.get("zh-Hant").code == "zh-TW"
    assert languages.get("mww").code == "hmn"
    assert [lang.code for lang in languages.search("somali")] == ["so"]
    with pytest.raises(languages.UnknownLanguage):
        languages.get("klingon")


def test_libretranslate_is_only_sent_codes_its_languages_endpoint_lists(libre):
    with urllib.request.urlopen(f"{libre.url}languages", timeout=5) as answer:
        served = {entry["code"] for entry in json.load(answer)}
    sent = {lang.codes["libre"] for lang in LANGUAGES.values() if "libre" in lang.codes}
    assert sent <= served, sent - served


async def test_every_language_gets_a_translation_from_a_backend_that_serves_it_or_goes_to_an_interpreter(libre):
    # Five backends of each kind, all talking to the local server, so the code each one is sent is visible.
    backends = [
        Backend(kind, lambda: LibreTranslator(source="en", target="es", api_key="k", custom_url=libre.url), kind=kind)
        for kind in ("libre", "deepl", "microsoft", "google", "mymemory")
    ]
    service = TranslationService([Retrying(b, retries=0) for b in backends])
    try:
        for lang in LANGUAGES.values():
            if lang.code == "en":
                continue
            libre.fake.calls.clear()
            result = await service.translate(f"Welcome to the meeting ({lang.english}).", EN, lang)
            if lang.interpreter_only:
                assert result.unsupported and not libre.fake.calls, lang.code
                continue
            target = languages.for_translation(lang)
            first = next(b.name for b in backends if b.name in target.codes)
            assert result.ok and result.backend == first, lang.code
            assert libre.fake.calls[0].target == target.codes[first], lang.code
    finally:
        service.close()


def test_languages_command_lists_the_registry_as_json(tmp_path):
    result = cli("languages", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout.strip().splitlines()[-1])
    assert [e["code"] for e in entries] == list(LANGUAGES)
    by_code = {e["code"]: e for e in entries}
    for entry in entries:
        assert {"code", "english", "native", "channel", "rtl", "backends"} <= set(entry)
        assert isinstance(entry["rtl"], bool) and all(b in BACKENDS for b in entry["backends"])
    assert by_code["quc"]["backends"] == [] and by_code["mam"]["backends"] == []
    assert by_code["prs"] == {**by_code["prs"], "native": "دری", "channel": "دری", "rtl": True}
    assert by_code["ch"]["backends"] == ["google"]


def test_languages_command_table_says_which_channels_get_an_interpreter(tmp_path):
    result = cli("languages", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "interpreter only" in lines["mix"] and "#mixteco" in lines["mix"]
    assert "RTL" in lines["ps"] and "google" in lines["ps"]
    assert "(as zh-TW)" in lines["yue"]


def test_every_language_has_a_script_the_answer_checks_know():
    # Without one, a Latin answer for (say) a Burmese channel would be accepted as a translation.
    from bot.answers import SCRIPTS

    assert [code for code in LANGUAGES if code not in SCRIPTS] == []
