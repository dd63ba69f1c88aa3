"""Every bad setting a deployer can type gets one clear line, exit code 2, and changes nothing.

The matrix runs `main()` in-process (the real CLI code, fast); a few cases run as real subprocesses to show
there is no traceback and no hang. Settings come from the environment, as a deployer sets them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Literal, get_args, get_origin

import annotated_types
import pytest
from pydantic import SecretStr
from test_cli import ROOT, cli

from bot.__main__ import main
from bot.config import ConfigError, Settings, env_name, load

# (variable, value, what the line must say besides the variable)
BAD_VALUES = [
    ("CONCORD_FALLBACKS", "notjson", "unknown translator 'notjson'"),
    ("CONCORD_FALLBACKS", '["mymemory"', "is not valid JSON"),
    ("CONCORD_FALLBACKS", '{"a": 1}', "unknown translator"),
    ("CONCORD_TRANSLATOR_BY_LANGUAGE", "notjson", "is not language=backend"),
    ("CONCORD_TRANSLATOR_BY_LANGUAGE", '{"hmn":"nonexistent"}', "unknown translator 'nonexistent' for hmn"),
    ("CONCORD_TRANSLATOR_BY_LANGUAGE", '{"xx":"google"}', "unknown language 'xx'"),
    ("CONCORD_TRANSLATOR_BY_LANGUAGE", '{"hmn":', "is not valid JSON"),
    ("CONCORD_TRANSLATOR", "nope", "allowed: google, deepl, microsoft, libre, mymemory"),
    ("CONCORD_TRANSLATOR", "", "must be one of google"),
    ("CONCORD_LOG_LEVEL", "bogus", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("CONCORD_TRANSLATE_WORKERS", "0", "a whole number from 1 to 512"),
    ("CONCORD_TRANSLATE_WORKERS", "many", "a whole number from 1 to 512"),
    ("CONCORD_TRANSLATE_TIMEOUT", "-1", "a number above 0 and at most 120"),
    ("CONCORD_TRANSLATE_TIMEOUT", "0", "a number above 0"),
    ("CONCORD_TRANSLATE_DEADLINE", "0", "a number above 0"),
    ("CONCORD_TRANSLATE_DEADLINE", "1", "leaves each backend call 0.21s"),
    ("CONCORD_TRANSLATE_RETRIES", "-1", "a whole number from 0 to 10"),
    ("CONCORD_TRANSLATE_RETRIES", "1.5", "a whole number"),
    ("CONCORD_KEEP_DAYS", "0", "the purge at start would forget messages still being retried"),
    ("CONCORD_KEEP_DAYS", "-1", "a number from 1 to 3650"),
    ("CONCORD_KEEP_DAYS", "0.5", "a number from 1 to 3650"),
    ("CONCORD_KEEP_DAYS", "", "is empty"),
    ("CONCORD_RETRY_UNTRANSLATED_EVERY", "-30", "a number from 0 to 86400"),
    ("CONCORD_DATABASE", "", "is empty"),
    ("CONCORD_GLOSSARY_DIR", " ", "is empty: give a path, e.g. glossaries"),
    ("CONCORD_LIBRE_URL", "notaurl", "must be an http:// or https:// URL"),
    ("CONCORD_LIBRE_URL", "ftp://10.0.0.5/", "must be an http:// or https:// URL"),
    ("CONCORD_TIMEZONE", "Pacific", "must be an IANA time zone name"),
    ("CONCORD_TIMEZONE", "../../etc/passwd", "must be an IANA time zone name"),
    ("CONCORD_TEST_GUILD_ID", "my-school", "a whole number above 0"),
    ("CONCORD_TEST_GUILD_ID", "-5", "a whole number above 0"),
    ("CONCORD_DEEPL_FREE", "maybe", "true or false"),
    ("CONCORD_MYMEMORY_EMAIL", "not-an-email", "must be an e-mail address"),
    ("CONCORD_VOLUNTEER_ROLE", "x" * 101, "at most 100 characters"),
    ("DISCORD_TOKEN", "abc def", "contains spaces"),
]
COMMANDS = {
    "run": ["run"],
    "check": ["check", "--no-discord"],
    "simulate": ["simulate", "meeting.txt"],
    "glossary": ["glossary", "lint"],
    "bench": ["bench", "--messages", "1"],
}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


@pytest.fixture
def deployer(tmp_path, monkeypatch):
    """A fresh install folder as the working directory, with a meeting script and no CONCORD_ settings."""
    for name in list(__import__("os").environ):
        if name.startswith(("CONCORD_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meeting.txt").write_text("Carmen: Welcome.\n", encoding="utf-8")
    return tmp_path


def no_database_thread_left() -> bool:
    """aiosqlite runs each connection in a non-daemon thread: one left running keeps the process from exiting.
    A closed connection's thread ends just after `close()` returns, so give it a moment."""
    for _ in range(200):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            return True
        time.sleep(0.01)
    return False


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("variable", "value", "says"), BAD_VALUES)
def test_a_bad_setting_is_one_line_naming_it_and_changes_nothing(
    deployer, monkeypatch, capsys, command, variable, value, says
):
    monkeypatch.setenv(variable, value)
    before = snapshot(deployer)

    assert main(COMMANDS[command]) == 2

    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {variable}=") or line.startswith(f"error: {variable} is empty")
    assert says in line
    if variable == "DISCORD_TOKEN":
        assert value not in line and "(hidden)" in line
    elif value.strip():
        assert f"{variable}={value[:77]}" in line  # the value as typed
    assert snapshot(deployer) == before
    assert no_database_thread_left()


def test_the_same_bad_setting_in_dot_env_is_named_the_same_way(deployer, capsys):
    (deployer / ".env").write_text("CONCORD_TRANSLATE_RETRIES=-1\n", encoding="utf-8")
    assert main(["glossary", "lint"]) == 2
    assert "CONCORD_TRANSLATE_RETRIES=-1: must be a whole number from 0 to 10" in capsys.readouterr().err


def test_several_bad_settings_get_one_line_each(deployer, monkeypatch, capsys):
    monkeypatch.setenv("CONCORD_KEEP_DAYS", "0")
    monkeypatch.setenv("CONCORD_LOG_LEVEL", "loud")
    assert main(["glossary", "lint"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert {line.split("=")[0] for line in lines} == {"error: CONCORD_KEEP_DAYS", "error: CONCORD_LOG_LEVEL"}


@pytest.mark.parametrize("command", ["run", "simulate", "bench"])
def test_commands_that_translate_refuse_a_chain_where_no_backend_can_work(deployer, monkeypatch, capsys, command):
    monkeypatch.setenv("CONCORD_TRANSLATOR", "deepl")
    monkeypatch.setenv("CONCORD_FALLBACKS", "")
    args = COMMANDS[command] if command != "bench" else ["bench", "--translator", "deepl", "--messages", "1"]
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "no translation backend can work (deepl: CONCORD_DEEPL_API_KEY is not set)" in line
    assert not (deployer / "concord.db").exists()


def test_flags_are_named_as_typed_on_the_command_line(deployer, capsys):
    assert main(["simulate", "meeting.txt", "--translator", "libre", "--libre-url", "notaurl"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        "error: --libre-url=notaurl: must be an http:// or https:// URL, e.g. http://10.0.0.5:5000/"
    )
    assert main(["bench", "--translator", "libre", "--libre-url", "10.0.0.5:5000"]) == 2
    assert "--libre-url=10.0.0.5:5000: must be an http://" in capsys.readouterr().err


# --- what is accepted ---------------------------------------------------------------------------------


def test_blank_optional_settings_copied_from_env_example_mean_not_set(deployer, capsys):
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    (deployer / ".env").write_text(example, encoding="utf-8")
    settings, warnings = load()
    assert settings.test_guild_id is None and settings.libre_url is None and settings.deepl_api_key is None
    assert settings.discord_token is None
    assert warnings == []


def test_friendly_spellings_are_accepted(deployer, monkeypatch):
    monkeypatch.setenv("CONCORD_LOG_LEVEL", "debug")
    monkeypatch.setenv("CONCORD_TRANSLATOR", "DeepL")
    monkeypatch.setenv("CONCORD_DEEPL_API_KEY", "k")
    monkeypatch.setenv("CONCORD_FALLBACKS", "mymemory, google")
    monkeypatch.setenv("CONCORD_TRANSLATOR_BY_LANGUAGE", "HMN=microsoft, zh-tw:google")
    monkeypatch.setenv("CONCORD_LIBRE_URL", "http://10.0.0.5:5000")
    monkeypatch.setenv("CONCORD_VOLUNTEER_ROLE", "<@&1234567890>")
    monkeypatch.setenv("DISCORD_TOKEN", "  Bot abc.def.ghi  ")
    settings, _ = load()
    assert settings.log_level == "DEBUG" and settings.translator == "deepl"
    assert settings.fallbacks == ["mymemory", "google"]
    assert settings.translator_by_language == {"hmn": "microsoft", "zh-TW": "google"}
    assert settings.libre_url == "http://10.0.0.5:5000/"  # deep-translator needs the slash
    assert settings.volunteer_role == "1234567890"
    assert settings.discord_token.get_secret_value() == "abc.def.ghi"


def test_risky_but_legal_values_are_accepted_with_the_reason(deployer, monkeypatch):
    monkeypatch.setenv("CONCORD_TRANSLATE_TIMEOUT", "0.5")
    monkeypatch.setenv("CONCORD_RETRY_UNTRANSLATED_EVERY", "0")
    monkeypatch.setenv("CONCORD_KEEP_DAYS", "1000")
    monkeypatch.setenv("CONCORD_TRANSLATOR_BY_LANGUAGE", '{"to": "deepl"}')
    monkeypatch.setenv("CONCORD_DEEPL_API_KEY", "k")
    monkeypatch.setenv("CONCORD_TRANSLATE_TIMOUT", "3")
    _, warnings = load(translating=True)
    text = "\n".join(warnings)
    assert (
        "CONCORD_TRANSLATE_TIMOUT is not a Concord setting and is ignored (did you mean CONCORD_TRANSLATE_TIMEOUT?)"
        in text
    )
    assert "CONCORD_TRANSLATE_TIMEOUT=0.5, CONCORD_TRANSLATE_DEADLINE=15: each backend call gets 0.50s" in text
    assert "CONCORD_RETRY_UNTRANSLATED_EVERY=0: messages shown untranslated are never translated later" in text
    assert "CONCORD_KEEP_DAYS=1000: parents' messages are kept that long" in text
    assert "deepl does not translate Tongan (to)" in text
    assert len(warnings) == 5


def test_a_chosen_backend_without_its_key_warns_that_messages_go_elsewhere(deployer, monkeypatch, capsys):
    monkeypatch.setenv("CONCORD_TRANSLATOR", "microsoft")
    _, warnings = load(translating=True)
    assert warnings == [
        "CONCORD_TRANSLATOR=microsoft cannot work (CONCORD_MICROSOFT_API_KEY is not set): every message goes to "
        "mymemory"
    ]


# --- any field, including ones added later, gets the same line ---------------------------------------


def _outside(field: str) -> list[str]:
    """Values just outside each bound of a field, as the deployer would type them."""
    info = Settings.model_fields[field]
    whole = int in (info.annotation, *get_args(info.annotation))
    values = []
    for bound in info.metadata:
        if isinstance(bound, annotated_types.Ge):
            values.append(bound.ge - 1)
        elif isinstance(bound, annotated_types.Gt):
            values.append(bound.gt - (1 if whole else 0.5))
        elif isinstance(bound, annotated_types.Le):
            values.append(bound.le + 1)
        elif isinstance(bound, annotated_types.Lt):
            values.append(bound.lt)
    return [str(v) for v in values]


BOUNDED = [(f, v) for f in Settings.model_fields for v in _outside(f)]


@pytest.mark.parametrize(("field", "value"), BOUNDED)
def test_every_bounded_setting_refuses_a_value_past_its_bounds_in_one_line(deployer, monkeypatch, field, value):
    monkeypatch.setenv(env_name(field), value)
    with pytest.raises(ConfigError) as refused:
        load()
    (line,) = refused.value.lines
    assert line.startswith(f"{env_name(field)}={value}: must be a ")


CHOICES = [f for f, info in Settings.model_fields.items() if get_origin(info.annotation) is Literal]


@pytest.mark.parametrize("field", CHOICES)
def test_every_choice_setting_lists_what_is_allowed(deployer, monkeypatch, field):
    monkeypatch.setenv(env_name(field), "surely-not-allowed")
    with pytest.raises(ConfigError) as refused:
        load()
    (line,) = refused.value.lines
    allowed = ", ".join(get_args(Settings.model_fields[field].annotation))
    assert line == f"{env_name(field)}=surely-not-allowed: must be one of {allowed}"


def test_secrets_are_never_shown_in_an_error(deployer, monkeypatch):
    secret_fields = [f for f, i in Settings.model_fields.items() if SecretStr in get_args(i.annotation)]
    assert "discord_token" in secret_fields and "deepl_api_key" in secret_fields
    monkeypatch.setenv("DISCORD_TOKEN", "s3cr3t token")
    with pytest.raises(ConfigError) as refused:
        load()
    assert "s3cr3t" not in str(refused.value)


# --- the real process --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_real_process_prints_one_line_and_exits_2(tmp_path, command):
    (tmp_path / "meeting.txt").write_text("Carmen: Welcome.\n", encoding="utf-8")
    result = cli(*COMMANDS[command], cwd=tmp_path, env={"CONCORD_FALLBACKS": "notjson"})
    assert result.returncode == 2
    assert one_error_line(result.stderr) == (
        "error: CONCORD_FALLBACKS=notjson: unknown translator 'notjson'; allowed: google, deepl, microsoft, libre, "
        "mymemory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meeting.txt"]


def test_a_home_folder_path_is_expanded_as_a_shell_would(deployer, monkeypatch):
    monkeypatch.setenv("CONCORD_DATABASE", "~/concord/concord.db")
    settings, _ = load()
    assert settings.database == Path.home() / "concord" / "concord.db"


def test_a_dot_env_saved_as_utf16_is_one_line(deployer, capsys):
    (deployer / ".env").write_bytes("CONCORD_KEEP_DAYS=30\n".encode("utf-16"))
    assert main(["glossary", "lint"]) == 2
    assert one_error_line(capsys.readouterr().err) == "error: .env cannot be read: is not UTF-8 text; save it as UTF-8"
