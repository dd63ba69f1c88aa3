"""Command line: `python -m bot run | simulate | glossary | bench`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from bot import simulate
from bot.config import Settings
from bot.languages import BACKENDS, UnknownLanguage


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
    """Create the SQLite file and apply migrations (and seed glossaries once the glossary exists)."""
    from bot.store import Store

    store = await Store.open(settings.database)
    await store.close()
    print(f"database ready: {settings.database}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(prepare_database(settings))
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise UsageError(
            "no Discord bot token: set DISCORD_TOKEN in the environment or in .env "
            "(README, 'Discord setup', says where to get one)"
        )
    from bot.app import run  # imports discord only when the bot really starts

    asyncio.run(run(settings))
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
        report = asyncio.run(simulate.run(script, args.languages, settings, database, live=args.live, burst=args.burst))
    print(report.render())
    return 0 if report.lost == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Concord: live interpretation of parent meetings."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the Discord bot (token from DISCORD_TOKEN or .env)")
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser("simulate", help="relay a meeting script through the real engine, printed per channel")
    sim.add_argument("script", help="one message per line: 'speaker[@language]: text' (# starts a comment)")
    sim.add_argument("--languages", default="es,vi,zh-TW", help="language channels besides English, e.g. es,vi,zh-TW")
    sim.add_argument("--translator", choices=BACKENDS, help="backend to use (default: CONCORD_TRANSLATOR or google)")
    sim.add_argument("--libre-url", help="LibreTranslate-compatible server, e.g. http://127.0.0.1:5000/")
    sim.add_argument("--database", help="SQLite file to use (default: a temporary one)")
    sim.add_argument("--live", action="store_true", help="also print each delivery as it happens")
    sim.add_argument("--burst", action="store_true", help="send all lines at once instead of one after another")
    sim.add_argument("-v", "--verbose", action="store_true", help="log translation warnings")
    sim.set_defaults(func=cmd_simulate)
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
