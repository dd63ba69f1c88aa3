"""The command line as a deployer or volunteer uses it: real subprocesses, real files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONCORD_", "DISCORD_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env={**clean, **(env or {})},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_run_without_token_exits_with_one_actionable_line(tmp_path):
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "DISCORD_TOKEN" in error_lines[0]
    assert (tmp_path / "concord.db").exists()  # first run still prepares the database


def test_simulate_relays_the_example_meeting_into_three_languages_offline(libre, tmp_path):
    result = cli(
        "simulate", str(ROOT / "examples/elac.txt"), "--languages", "es,vi,zh-TW",
        "--translator", "libre", "--libre-url", libre.url, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for header in ("== #english (en", "== #español (es", "== #tiếng-việt (vi", "== #繁體中文 (zh-TW"):
        assert header in out
    # The seed glossary is on: first mention expanded, the MT trap "principal" replaced.
    assert (
        "Carmen: [es] Good evening, families, and welcome to our Comité Asesor de Padres de Aprendices de Inglés "
        "(ELAC, por sus siglas en inglés) meeting." in out
    )
    assert "Carmen: [es] Our director/a, Mr. Davis, will join us in a few minutes." in out
    assert "Rosa · Español: [en] ¿Cuándo recibiremos los resultados del ELPAC?" in out
    assert "20 messages, 60 deliveries, 0 delivered untranslated (marked), 0 lost" in out


def test_simulate_writes_the_meetings_transcripts_in_every_language(libre, tmp_path):
    out = tmp_path / "transcripts"
    result = cli(
        "simulate", str(ROOT / "examples/elac.txt"), "--languages", "es,ar", "--translator", "libre",
        "--libre-url", libre.url, "--transcripts", str(out), cwd=tmp_path,
        env={"CONCORD_TIMEZONE": "America/Los_Angeles"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"transcripts: 10 files in {out}"
    names = sorted(re.sub(r"^transcript-elac-\d{4}-\d\d-\d\d-", "", p.name) for p in out.iterdir())
    assert names == ["ar.html", "ar.md", "en.html", "en.md", "es.html", "es.md", "vi.html", "vi.md", "zh-TW.html",
                     "zh-TW.md"]  # fmt: skip
    spanish = next(out.glob("*-es.md")).read_text(encoding="utf-8")
    assert "# Transcripción: elac" in spanish and "Horas en America/Los_Angeles" in spanish
    assert "¿Cuándo recibiremos los resultados del ELPAC?" in spanish  # Rosa's own words, as she wrote them
    assert "> Original: Good evening, families, and welcome to our ELAC meeting." in spanish
    assert '<html lang="ar" dir="rtl">' in next(out.glob("*-ar.html")).read_text(encoding="utf-8")


def test_simulate_refuses_a_transcripts_path_that_is_a_file(libre, tmp_path):
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    result = cli("simulate", str(ROOT / "examples/elac.txt"), "--translator", "libre", "--libre-url", libre.url,
                 "--transcripts", "taken", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip() == "error: --transcripts taken: not a folder"


def test_simulate_without_glossary_shows_the_raw_machine_translation(libre, tmp_path):
    script = tmp_path / "m.txt"
    script.write_text("Carmen: Our principal will explain the IEP.\n", encoding="utf-8")
    args = ["simulate", str(script), "--languages", "es", "--translator", "libre", "--libre-url", libre.url]
    raw = cli(*args, "--no-glossary", cwd=tmp_path)
    assert "Carmen: [es] Our principal will explain the IEP." in raw.stdout
    enforced = cli(*args, cwd=tmp_path)
    assert "Carmen: [es] Our director/a will explain the Programa de Educación Individualizada" in enforced.stdout


def test_simulate_reads_indented_lines_as_part_of_the_message_above(libre, tmp_path):
    script = tmp_path / "m.txt"
    script.write_text("Carmen: Agenda:\n  1. Budget\n  2. Questions\nLan@vi: Cảm ơn\n", encoding="utf-8")
    result = cli("simulate", str(script), "--languages", "es", "--translator", "libre", "--libre-url", libre.url,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Carmen: [es] Agenda:\n1. Budget\n2. Questions" in result.stdout
    assert "2 messages, 4 deliveries" in result.stdout


def test_simulate_with_translation_down_delivers_marked_originals(libre, tmp_path):
    libre.fake.down = True
    script = tmp_path / "m.txt"
    script.write_text("Carmen: The meeting starts now.\n", encoding="utf-8")
    result = cli("simulate", str(script), "--languages", "es", "--translator", "libre", "--libre-url", libre.url,
                 cwd=tmp_path, env={"CONCORD_TRANSLATE_RETRIES": "0"})  # fmt: skip
    assert result.returncode == 0
    assert "Carmen: The meeting starts now.\n-# ⏳ aún sin traducir (original)" in result.stdout
    assert "1 delivered untranslated (marked), 0 lost" in result.stdout


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("Carmen: hello\nthis line has no speaker\n", "line 2: expected 'speaker[@language]: text'"),
        ("Lan@xx: xin chào\n", "line 1: Unknown language 'xx'"),
        ("# only a comment\n", "the script has no messages"),
    ],
)
def test_simulate_rejects_a_bad_script_politely(tmp_path, script, message):
    path = tmp_path / "bad.txt"
    path.write_text(script, encoding="utf-8")
    result = cli("simulate", str(path), "--translator", "libre", "--libre-url", "http://127.0.0.1:9/", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_simulate_names_a_missing_script(tmp_path):
    result = cli("simulate", "nope.txt", "--translator", "libre", "--libre-url", "http://127.0.0.1:9/", cwd=tmp_path)
    assert result.returncode == 2 and "cannot read script nope.txt" in result.stderr


def test_simulate_with_libre_but_no_url_says_what_is_missing(tmp_path):
    (tmp_path / "m.txt").write_text("Carmen: hi\n", encoding="utf-8")
    result = cli("simulate", "m.txt", "--translator", "libre", cwd=tmp_path)
    assert result.returncode == 2 and "--libre-url" in result.stderr


def test_glossary_export_on_a_new_install_has_the_seed_terms(tmp_path):
    result = cli("glossary", "export", "--language", "es", "--format", "tsv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pairs = dict(line.split("\t") for line in result.stdout.splitlines())
    assert pairs["Individualized Education Program"] == "Programa de Educación Individualizada"
    assert pairs["principal"] == "director/a" and pairs["IEP"] == "IEP"  # keep-and-expand: the acronym stays


class FakeResponse:
    """What discord.HTTPException reads from an aiohttp response."""

    def __init__(self, status: int) -> None:
        self.status, self.reason = status, "Service Unavailable"


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("login", "Discord rejected the bot token"),
        ("intents", "enable it under Bot -> Privileged Gateway Intents"),
        ("network", "cannot reach Discord"),
        ("outage", "Discord answered 503 upstream connect error at login; try again in a few minutes"),
    ],
)
def test_run_turns_discord_refusals_into_one_actionable_line(tmp_path, monkeypatch, capsys, failure, message):
    import discord

    import bot.discord.bot
    from bot.__main__ import main

    async def refused(settings, *, sync=False):  # Discord's answer is the outermost edge
        if failure == "login":
            raise discord.LoginFailure("Improper token has been passed.")
        if failure == "intents":
            raise discord.PrivilegedIntentsRequired(None)
        if failure == "outage":
            raise discord.DiscordServerError(FakeResponse(503), "upstream connect error")
        raise OSError("Name or service not known")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def.ghi")
    monkeypatch.setattr(bot.discord.bot, "run", refused)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_simulate_keeps_an_indented_markdown_heading_and_skips_only_unindented_comments(libre, tmp_path):
    script = tmp_path / "m.txt"
    script.write_text(
        "# ELAC, March: a remark for whoever runs this script\n"
        "Carmen: Tonight's plan\n"
        "    # Agenda\n"
        "    1. Budget\n"
        "#  another remark\n"
        "Lan@vi: Cảm ơn\n",
        encoding="utf-8",
    )
    result = cli("simulate", str(script), "--languages", "es,vi", "--translator", "libre", "--libre-url", libre.url,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Carmen: [es] Tonight's plan\n# Agenda\n1. Budget" in result.stdout
    assert "remark" not in result.stdout
    assert "2 messages, 4 deliveries" in result.stdout  # es and vi for Carmen; en and es for Lan


def test_simulate_help_documents_the_script_format(tmp_path):
    result = cli("simulate", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "script format" in result.stdout and "speaker" not in result.stdout.split("script format")[0]
    assert "Lan@vi:" in result.stdout and "indented line continues" in result.stdout
    assert "not indented) is a comment" in result.stdout


def test_glossary_export_to_a_folder_that_does_not_exist_is_one_line(tmp_path):
    result = cli("glossary", "export", "--language", "es", "-o", "nowhere/es.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: cannot write nowhere/es.csv: No such file or directory"
    assert "Traceback" not in result.stderr
