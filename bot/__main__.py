"""Command line: `python -m bot run | simulate | glossary | bench`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot import bench, simulate
from bot.config import Settings
from bot.languages import BACKENDS, UnknownLanguage

if TYPE_CHECKING:
    from bot.glossary import Glossary


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise UsageError(f"invalid setting {where}: {first['msg']}") from None


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
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(prepare_database(settings))
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise UsageError(
            "no Discord bot token: set DISCORD_TOKEN in the environment or in .env "
            "(README, 'Discord setup', says where to get one)"
        )
    import aiohttp
    import discord

    from bot.app import run  # imports discord only when the bot really starts

    try:
        asyncio.run(run(settings, sync=args.sync))
    except discord.LoginFailure:
        raise UsageError("Discord rejected the bot token: copy a fresh one from the developer portal") from None
    except discord.PrivilegedIntentsRequired:
        raise UsageError(
            "Discord refused the Message Content intent: enable it under Bot -> Privileged Gateway Intents"
        ) from None
    except (aiohttp.ClientConnectionError, OSError) as exc:
        raise UsageError(f"cannot reach Discord ({exc}); check the network and try again") from None
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {"translator": args.translator, "libre_url": args.libre_url}
    if args.translator:
        overrides["fallbacks"] = []  # an explicit choice means: this backend only
    settings = load_settings(**overrides)
    if settings.translator == "libre" and not settings.libre_url:
        raise UsageError("--translator libre needs --libre-url http://HOST:PORT/ (or CONCORD_LIBRE_URL)")
    logging.basicConfig(level=logging.ERROR if not args.verbose else logging.INFO)
    try:
        script = Path(args.script).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read script {args.script}: {exc}") from None
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
            )
        )
    print(report.render())
    return 0 if report.lost == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Concord: live interpretation of parent meetings."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the Discord bot (token from DISCORD_TOKEN or .env)")
    run.add_argument("--sync", action="store_true", help="publish slash commands globally (once, after upgrades)")
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser("simulate", help="relay a meeting script through the real engine, printed per channel")
    sim.add_argument("script", help="one message per line: 'speaker[@language]: text' (# starts a comment)")
    sim.add_argument("--languages", default="es,vi,zh-TW", help="language channels besides English, e.g. es,vi,zh-TW")
    sim.add_argument("--translator", choices=BACKENDS, help="backend to use (default: CONCORD_TRANSLATOR or google)")
    sim.add_argument("--libre-url", help="LibreTranslate-compatible server, e.g. http://127.0.0.1:5000/")
    sim.add_argument("--database", help="SQLite file to use (default: a temporary one)")
    sim.add_argument("--live", action="store_true", help="also print each delivery as it happens")
    sim.add_argument("--no-glossary", action="store_true", help="translate without the education glossary")
    sim.add_argument("--burst", action="store_true", help="send all lines at once instead of one after another")
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
    glossary.set_defaults(func=cmd_glossary)
    bench.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, UnknownLanguage, simulate.ScriptError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
