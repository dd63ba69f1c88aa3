"""`python -m bot bench` on the command line: options, and which benchmark runs (bench.py: one meeting;
bench_meetings.py: a district's evening and the hanging primary; crashbench.py: kills at random points)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import fields
from typing import Any

from bot import bench_meetings, crashbench
from bot.bench import (
    LANGUAGE_ORDER,
    SEQUENTIAL_BUDGET_S,
    BenchConfig,
    bench,
    pick_languages,
    render,
    sequential_size,
)
from bot.languages import BACKENDS
from bot.logs import setup_logging

# --- command line ------------------------------------------------------------------------------------


def parse_limit(text: str) -> tuple[int, float] | None:
    if text.lower() in ("off", "none", "0"):
        return None
    try:
        posts, seconds = text.split("/")
        limit = (int(posts), float(seconds))
    except ValueError:
        raise argparse.ArgumentTypeError("expected POSTS/SECONDS, e.g. 5/2, or 'off'") from None
    if limit[0] < 1 or limit[1] <= 0:
        raise argparse.ArgumentTypeError("expected POSTS/SECONDS with both above zero")
    return limit


def add_parser(subparsers: Any) -> None:
    """Register `bench` on the CLI's subparsers."""
    d = BenchConfig()
    p = subparsers.add_parser(
        "bench", help="measure the delay parents see: real engine, chain and store, modelled backend and Discord"
    )
    p.add_argument("--languages", type=int, help=f"language channels besides English (default {d.languages}; "
                   f"with --meetings 6 to 12 per meeting; at most {len(LANGUAGE_ORDER)})")  # fmt: skip
    p.add_argument("--messages", type=int, default=d.messages, help=f"source messages (default {d.messages})")
    p.add_argument("--rate", type=float, default=d.rate, help=f"messages per second, main channel and parent "
                   f"replies together (default {d.rate:g})")  # fmt: skip
    p.add_argument("--latency-ms", type=float, default=d.latency_ms, help="backend latency of the local server "
                   f"(default {d.latency_ms:g})")  # fmt: skip
    p.add_argument("--jitter-ms", type=float, default=d.jitter_ms, help="plus uniform(0, jitter) per call "
                   f"(default {d.jitter_ms:g})")  # fmt: skip
    p.add_argument("--sink-latency-ms", type=float, default=d.sink_latency_ms, help="one Discord post "
                   f"(default {d.sink_latency_ms:g})")  # fmt: skip
    p.add_argument("--channel-limit", type=parse_limit, default=d.channel_limit, metavar="POSTS/SECONDS",
                   help="Discord's rate limit per channel webhook, e.g. 5/2; the post waits as discord.py does "
                   "(default off: at 5 msg/s it measures Discord's backlog, not Concord)")  # fmt: skip
    p.add_argument("--glossary-terms", type=int, default=d.glossary_terms, help="glossary terms per language")
    p.add_argument("--sequential-messages", type=int, help="messages in the fan-out-1 comparison "
                   f"(default: sized to take about {SEQUENTIAL_BUDGET_S:g} s)")  # fmt: skip
    p.add_argument("--translator", default="local", choices=("local", *BACKENDS),
                   help="'local' (default): the built-in LibreTranslate-compatible server; otherwise a real "
                   "backend configured as for the bot (sends the benchmark text to that service)")  # fmt: skip
    p.add_argument("--libre-url", help="with --translator libre: your LibreTranslate server")
    p.add_argument("--seed", type=int, default=d.seed, help="workload seed")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--check", action="store_true", help="exit 1 when any target is missed (for CI)")
    district = p.add_argument_group("a district's evening (bot/bench_meetings.py)")
    district.add_argument("--meetings", type=int, help="N meetings at once, a message every 3-10 s each, 20%% "
                          "from parents; finds the most meetings within 1.25 x floor")  # fmt: skip
    district.add_argument("--fault", choices=("hang-primary",), help="the primary backend hangs for --hang-s "
                          "seconds a third into the run; MyMemory (loopback) is the fallback")  # fmt: skip
    district.add_argument("--duration", type=float, help="seconds of meeting (default 60; --fault 90)")
    district.add_argument("--ramp-s", type=float, default=20.0, help="length of each capacity-search run (default 20)")
    district.add_argument("--no-search", action="store_true", help="skip the capacity search")
    district.add_argument("--hang-s", type=float, default=30.0, help="--fault: seconds the primary hangs (default 30)")
    p.add_argument("--fault-child", help=argparse.SUPPRESS)  # internal: the measured process of --fault
    crashbench.add_arguments(p)  # `--crash`: kill the relay process at random points
    p.set_defaults(func=cmd_bench)


def config_from(args: argparse.Namespace) -> BenchConfig:
    if args.messages < 1 or args.rate <= 0 or (args.languages is not None and args.languages < 1):
        raise ValueError("--messages, --rate and --languages must be above zero")
    options = {f.name: getattr(args, f.name) for f in fields(BenchConfig) if getattr(args, f.name, None) is not None}
    return BenchConfig(**options)


def finish(report: dict[str, Any], text: str, args: argparse.Namespace) -> int:
    """Print the report (the last line is one JSON object with --json); with --check, 1 on any MISS."""
    print(json.dumps(report, ensure_ascii=False) if args.json else text)
    missed = [t["name"] for t in report["targets"] if t["result"] == "MISS"]
    if args.check and missed:
        print(f"bench: {len(missed)} target(s) missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if getattr(args, "crash", False):
        return crashbench.cmd_crash(args)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    setup_logging("WARNING")
    if args.fault_child:
        return bench_meetings.run_fault_child(args.fault_child)
    if args.meetings or args.fault:
        try:
            district = bench_meetings.config_from(args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.fault:
            report = bench_meetings.fault_bench(district, progress=progress)
        else:
            report = asyncio.run(bench_meetings.meetings_bench(district, progress=progress))
        return finish(report, bench_meetings.render(report), args)
    try:
        cfg = config_from(args)
        pick_languages(cfg.languages)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if cfg.translator != "local":
        print(
            f"warning: --translator {cfg.translator} sends the benchmark's text to that service "
            f"({cfg.messages + sequential_size(cfg)} messages x {cfg.languages} languages at most)",
            file=sys.stderr,
        )
    report = asyncio.run(bench(cfg, progress=progress))
    return finish(report, render(report), args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["bench", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
