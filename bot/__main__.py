"""Command line: `python -m bot run | check | simulate | glossary | languages | bench`.

Every bad setting, path or argument ends as one `error:` line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bot import bench_cli, config, simulate
from bot.config import ConfigError, Settings
from bot.languages import BACKENDS, UnknownLanguage
from bot.logs import setup_logging
from bot.store import UnusableDatabase

if TYPE_CHECKING:
    from bot.glossary import Glossary


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def load_settings(
    overrides: dict[str, object] | None = None, *, flags: dict[str, str] | None = None, translating: bool = False
) -> Settings:
    """Settings for a command: invalid ones raise ConfigError (one line each); warnings go to stderr."""
    settings, warnings = config.load(overrides, flags=flags, translating=translating)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return settings


async def prepare_database(settings: Settings) -> None:
    """Create the SQLite file, apply migrations and, on first run, load the seed glossaries."""
    from bot.glossary import Glossary
    from bot.store import Store

    async with await Store.open(settings.database) as store:
        await seed(Glossary.configured(store, settings), settings)
    print(f"database ready: {settings.database}", file=sys.stderr)


async def seed(glossary: Glossary, settings: Settings) -> None:
    """Load the seed glossaries into an empty database (first run); a broken seed only warns."""
    from bot.glossary import GlossaryError

    if not settings.glossary_dir.is_dir():
        print(f"warning: no seed glossaries at {settings.glossary_dir} (set CONCORD_GLOSSARY_DIR)", file=sys.stderr)
        return
    try:
        summary = await glossary.seed(settings.glossary_dir)
    except GlossaryError as exc:  # a broken seed must not keep the bot from starting
        print(f"warning: seed glossaries not loaded: {exc}", file=sys.stderr)
    else:
        if summary is not None:
            print(f"glossary seeded from {settings.glossary_dir}: {summary.render()}", file=sys.stderr)


def cmd_glossary(args: argparse.Namespace) -> int:
    from bot.glossary import Glossary, GlossaryError, WouldOverwrite
    from bot.store import Store

    settings = load_settings()
    exported: list[str] = []

    async def work() -> int:
        async with await Store.open(settings.database) as store:
            glossary = Glossary.configured(store, settings)
            await seed(glossary, settings)  # as on the bot's first run, so a new install has its terms
            if args.action == "import":
                try:
                    summary = await glossary.import_file(
                        Path(args.file), by=args.by, force=args.force, language=args.language,
                        guild_id=args.guild, status=args.status, max_bytes=settings.glossary_import_max_kb * 1024,
                    )  # fmt: skip
                except WouldOverwrite as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 3
                print(summary.render())
                return 0
            if args.action == "export":
                exported.append(await glossary.export(args.language, args.format, args.guild))
                return 0
            if args.action == "stats":
                from bot.glossary import stats as glossary_stats

                stats = await glossary_stats.compute(store, args.guild)
                render = glossary_stats.as_json if args.format == "json" else glossary_stats.as_table
                exported.append(render(stats) + ("\n" if args.format == "json" else ""))
                return 0
            problems = await glossary.lint()
            for p in problems:
                print(f"{p.kind}: {p.concept} [{p.language}] {p.message}")
            print(f"{len(problems)} problem(s)", file=sys.stderr)
            return 1 if problems else 0

    try:
        code = asyncio.run(work())
    except GlossaryError as exc:
        raise UsageError(str(exc)) from None
    for text in exported:
        if args.output:
            try:
                Path(args.output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
        else:
            sys.stdout.write(text)
    return code


def cmd_languages(args: argparse.Namespace) -> int:
    from bot import languages

    entries = [languages.describe(lang) for lang in languages.LANGUAGES.values()]
    if args.json:
        print(json.dumps(entries, ensure_ascii=False))
        return 0
    for e in entries:
        route = ", ".join(e["backends"]) or "interpreter only"
        if e["translated_as"]:
            route += f" (as {e['translated_as']})"
        print(f"{e['code']:<6} {e['english']:<40} #{e['channel']:<16} {'RTL' if e['rtl'] else '   '}  {route}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(translating=True)
    setup_logging(settings.log_level, settings)  # redacts keys, tokens and meeting text at every level
    asyncio.run(prepare_database(settings))
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise UsageError(
            "no Discord bot token: set DISCORD_TOKEN in the environment or in .env "
            "(README, 'Discord setup', says where to get one)"
        )
    import aiohttp
    import discord

    from bot.discord.bot import run  # imports discord only when the bot really starts
    from bot.store import DatabaseLocked

    try:
        asyncio.run(run(settings, sync=args.sync))
    except discord.LoginFailure:
        raise UsageError("Discord rejected the bot token: copy a fresh one from the developer portal") from None
    except discord.PrivilegedIntentsRequired:
        raise UsageError(
            "Discord refused the Message Content intent: enable it under Bot -> Privileged Gateway Intents"
        ) from None
    except DatabaseLocked as exc:
        raise UsageError(str(exc)) from None
    except (aiohttp.ClientConnectionError, OSError, discord.GatewayNotFound) as exc:
        raise UsageError(f"cannot reach Discord ({exc}); check the network and try again") from None
    except discord.HTTPException as exc:
        raise UsageError(f"Discord answered {exc.status} {exc.text} at login; try again in a few minutes") from None
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {"translator": args.translator, "libre_url": args.libre_url}
    if args.translator:
        overrides["fallbacks"] = []  # an explicit choice means: this backend only
    settings = load_settings(overrides, flags=SIMULATE_FLAGS, translating=True)
    if args.database is not None and not args.database.strip():
        raise UsageError("--database is empty: give a file path, or leave it out for a temporary database")
    setup_logging(logging.ERROR if not args.verbose else logging.INFO, settings)
    try:
        script = Path(args.script).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read script {args.script}: {exc}") from None
    folder = Path(args.transcripts) if args.transcripts else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise UsageError(f"--transcripts {folder}: not a folder")
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(args.database) if args.database else Path(tmp) / "simulate.db"
        report = asyncio.run(
            simulate.run(
                script,
                args.languages,
                settings,
                database,
                live=args.live,
                burst=args.burst,
                glossary=not args.no_glossary,
                transcripts=folder is not None,
                name=Path(args.script).stem,
            )
        )
    print(report.render())
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for file in report.transcripts:
                (folder / file.filename).write_text(file.content, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--transcripts {folder}: cannot write there: {exc}") from None
        print(f"transcripts: {len(report.transcripts)} files in {folder}")
    return 0 if report.lost == 0 else 1


SIMULATE_FLAGS = {"translator": "--translator", "libre_url": "--libre-url"}


def cmd_check(args: argparse.Namespace) -> int:
    from bot import check

    settings, warnings = config.load()
    report = asyncio.run(check.run(settings, warnings, discord=not args.no_discord))
    print(report.render_json() if args.json else report.render())
    return 0 if report.ok else 1


def cmd_bench(args: argparse.Namespace) -> int:
    """bench reads the deployer's settings only for a real backend, but bad settings are refused either way."""
    real = args.translator != "local"
    overrides = {"translator": args.translator, "libre_url": args.libre_url, "fallbacks": []} if real else {}
    load_settings(overrides, flags=SIMULATE_FLAGS, translating=real)
    return bench_cli.cmd_bench(args)


SCRIPT_FORMAT = """\
script format, one message per line:
  Carmen: Welcome to the ELAC meeting.      a message in the English main channel
  Lan@vi: Con tôi cần giúp đỡ về IEP.       a parent writing in the Vietnamese channel (any code from the README)
      Cảm ơn.                               an indented line continues the message above (so can "# Agenda")
  # a note                                  a line starting with # (not indented) is a comment
Blank lines are skipped. A parent's language gets a channel even when --languages does not name it.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Concord: live interpretation of parent meetings."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the Discord bot (token from DISCORD_TOKEN or .env)")
    run.add_argument("--sync", action="store_true", help="publish slash commands globally (once, after upgrades)")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check",
        help="check the settings, database, glossaries, translation backends and Discord, and say what to fix",
        description="Prints the effective settings (secrets hidden), then checks the database, the seed glossary "
        "folder, each translation backend (one short test call each) and, when a token is set, the Discord login, "
        "the Message Content intent and the invite scope (applications.commands) in each server. Changes nothing.",
        epilog="exit code: 0 all well, 1 something to fix (listed last), 2 a setting is invalid",
    )
    check.add_argument("--no-discord", action="store_true", help="skip the Discord checks")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    check.set_defaults(func=cmd_check)

    sim = sub.add_parser(
        "simulate",
        help="relay a meeting script through the real engine, printed per channel",
        description="Relay a meeting script through the real engine and print what each channel shows.",
        epilog=SCRIPT_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("script", help="the meeting script, format below")
    sim.add_argument("--languages", default="es,vi,zh-TW", help="language channels besides English, e.g. es,vi,zh-TW")
    sim.add_argument("--translator", choices=BACKENDS, help="backend to use (default: CONCORD_TRANSLATOR or google)")
    sim.add_argument("--libre-url", help="LibreTranslate-compatible server, e.g. http://127.0.0.1:5000/")
    sim.add_argument("--database", help="SQLite file to use (default: a temporary one)")
    sim.add_argument("--live", action="store_true", help="also print each delivery as it happens")
    sim.add_argument("--no-glossary", action="store_true", help="translate without the education glossary")
    sim.add_argument("--burst", action="store_true", help="send all lines at once instead of one after another")
    sim.add_argument(
        "--transcripts", metavar="DIR", help="write the meeting's transcripts there: Markdown and HTML per language"
    )
    sim.add_argument("-v", "--verbose", action="store_true", help="log translation warnings")
    sim.set_defaults(func=cmd_simulate)

    glossary = sub.add_parser("glossary", help="import, export or check the glossary (database: CONCORD_DATABASE)")
    actions = glossary.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help="import a file or directory: concepts.csv, <lang>.csv (our full format), two-column CSV/TSV "
        "(DeepL, Google Cloud) or a header of language codes (Google equivalent term sets)",
    )
    imp.add_argument("file", help="file or directory (a directory imports concepts.csv first)")
    imp.add_argument("--language", help="target language of a two-column or language file not named like es.csv")
    imp.add_argument("--force", action="store_true", help="allow changes to approved entries")
    imp.add_argument("--guild", type=int, help="import for one Discord server only (default: every server)")
    imp.add_argument("--status", default="draft", help="status of rows from two-column files (default: draft)")
    imp.add_argument("--by", default="cli", help="who makes the change, for the history (default: cli)")
    exp = actions.add_parser("export", help="print one language's glossary")
    exp.add_argument("--language", required=True)
    exp.add_argument(
        "--format", default="full", choices=("csv", "tsv", "full"),
        help="csv/tsv: two columns for DeepL or Google Cloud; full: ours, with status and notes (re-importable)",
    )  # fmt: skip
    exp.add_argument("--guild", type=int, help="a Discord server's view (its own terms over the shared ones)")
    exp.add_argument("-o", "--output", help="write to this file instead of standard output")
    actions.add_parser("lint", help="find duplicates, conflicts, empty renderings, forbidden == preferred")
    stats = actions.add_parser("stats", help="per language: concepts approved / draft / missing, sources cited")
    stats.add_argument("--format", default="table", choices=("table", "json"))
    stats.add_argument("--guild", type=int, help="a Discord server's view (its own terms over the shared ones)")
    stats.add_argument("-o", "--output", help="write to this file instead of standard output")
    glossary.set_defaults(func=cmd_glossary)
    langs = sub.add_parser("languages", help="the language registry: channel names, direction, backends")
    langs.add_argument("--json", action="store_true", help="one JSON list (backends: [] = interpreter only)")
    langs.set_defaults(func=cmd_languages)
    bench_cli.add_parser(sub)
    sub.choices["bench"].set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except UnusableDatabase as exc:
        name = "--database" if getattr(args, "database", None) else config.env_name("database")
        print(f"error: {name}={exc.path}: {exc}", file=sys.stderr)
        return 2
    except (UsageError, UnknownLanguage, simulate.ScriptError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
