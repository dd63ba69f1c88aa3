"""`python -m bot bench --crash`: stop the relay at random points and count, on the loopback Discord's channel
contents, that every message still arrived in every language channel exactly once and in order.

The relay is `python -m bot run` in a separate process, pointed at the loopback Discord of
`bot/testing/discord_server.py` (served by this process) with CONCORD_DISCORD_API_BASE, translating through
the LibreTranslate-compatible server in a third process. A facilitator posts a burst of numbered messages
in the main channel while, in each scenario:
- `sigkill`: the relay is killed with SIGKILL at random points (at least 3), messages keep coming while it is
  down, and it is started again after a random pause;
- `sigterm`: the same with SIGTERM (what `docker stop` sends): it must drain and exit on its own;
- `session`: the gateway connection drops and the RESUME is refused, so the relay starts a new session
  (Discord replays nothing from the gap) while messages keep coming.
The last line printed is one JSON object: sent, expected_deliveries, deliveries, lost, duplicated,
order_violations (over all scenarios), and the same per scenario under "scenarios".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot import languages
from bot.bench import BenchConfig, ServerProcess
from bot.bidi import unmark
from bot.store import Store
from bot.testing.discord_server import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"Message (\d{5})\b")
SCENARIOS = ("sigkill", "sigterm", "session")
LANGUAGES = ("es", "vi", "zh-TW", "ko", "tl", "ar", "ru", "hmn", "km", "sm", "pa", "fa")


@dataclass
class CrashConfig:
    messages: int = 100  # per scenario
    languages: int = 3
    rate: float = 20.0  # messages per second
    stops: int = 3  # kills (or SIGTERMs, or dropped sessions) per scenario
    seed: int = 7
    latency_ms: float = 40.0
    jitter_ms: float = 20.0
    channel_limit: tuple[int, float] | None = (5, 2.0)  # Discord's per-webhook allowance on the loopback server
    # A post shows in the channel this long before its answer reaches the relay (Discord's round trip): a stop
    # in between leaves a post the relay has not recorded, which it must find rather than post again.
    post_latency_ms: float = 60.0
    scenarios: tuple[str, ...] = SCENARIOS
    settle_s: float = 1.5  # after everything arrived, how long to watch for late duplicates
    patience_s: float = 90.0  # longest wait for the last deliveries of a scenario


@dataclass
class Tally:
    sent: int = 0
    expected_deliveries: int = 0
    deliveries: int = 0
    lost: int = 0
    duplicated: int = 0
    order_violations: int = 0
    stops: int = 0
    posted_while_down: int = 0
    posts: int = 0  # relayed messages in the language channels (fewer than deliveries when combined)
    posts_found_after_stop: int = 0  # unconfirmed posts the relay found in the channel instead of posting again
    restarts_s: list[float] = field(default_factory=list)  # stop -> next session, seconds
    sigterm_exit_s: list[float] = field(default_factory=list)  # SIGTERM -> process gone, seconds
    sigterm_exit_codes: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        for name in ("sent", "expected_deliveries", "deliveries", "lost", "duplicated", "order_violations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def count(server: FakeDiscord, targets: list[int], sent: list[int]) -> Tally:
    """Deliveries, lost, duplicated and out-of-order messages, read from the channels as a reader sees them
    (a combined post carries several numbered messages, in order; right-to-left channels' invisible direction
    marks are not text)."""
    tally = Tally(sent=len(sent), expected_deliveries=len(sent) * len(targets))
    for channel_id in targets:
        posts = [m for m in server.by_bot(channel_id) if TAG.search(unmark(m.content))]
        tally.posts += len(posts)
        seen = [int(n) for m in posts for n in TAG.findall(unmark(m.content))]
        counts = Counter(seen)
        tally.deliveries += len(seen)
        tally.lost += sum(1 for n in sent if counts[n] == 0)
        tally.duplicated += sum(c - 1 for c in counts.values() if c > 1)
        highest = -1
        for n in dict.fromkeys(seen):  # first appearances, in channel order
            tally.order_violations += n < highest
            highest = max(highest, n)
    return tally


class BotProcess:
    """`python -m bot run` as a deployer runs it, pointed at the loopback Discord (testing only)."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = open(workdir / "bot.log", "ab")  # closed in close()

    def start(self) -> None:
        self.log.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=self.workdir, env=self.env, stdout=self.log, stderr=self.log
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    async def terminate(self, patience: float = 30.0) -> tuple[int, float]:
        """SIGTERM, then wait for the process to finish on its own: (exit code, seconds it took)."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(self.proc.wait, patience)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = -9
        return code, time.monotonic() - began

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = (self.workdir / "bot.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def close(self) -> None:
        self.kill()
        self.log.close()


class Stage:
    """One scenario's world: the loopback Discord (in this process), a database with a linked meeting,
    and the bot process configured like a deployment."""

    def __init__(self, cfg: CrashConfig, libre_url: str, workdir: Path) -> None:
        self.cfg = cfg
        self.libre_url = libre_url
        self.workdir = workdir
        self.server = FakeDiscord()
        self.main = 0
        self.targets: list[int] = []
        self.bot: BotProcess | None = None

    async def __aenter__(self) -> Stage:
        await self.server.start()
        self.server.webhook_rate_limit = self.cfg.channel_limit
        self.server.echo_lead = self.cfg.post_latency_ms / 1000
        self.main = self.server.add_channel("main")
        langs = [languages.get(code) for code in LANGUAGES[: self.cfg.languages]]
        self.targets = [self.server.add_channel(lang.channel) for lang in langs]
        database = self.workdir / "concord.db"
        async with await Store.open(database) as store:
            meeting = await store.create_meeting(self.server.guild_id, "ELAC")
            await store.link_channel(self.main, meeting.id, "en")
            for channel_id, lang in zip(self.targets, langs, strict=True):
                await store.link_channel(channel_id, meeting.id, lang.code)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "DISCORD_TOKEN": "loopback-token",
            "CONCORD_DISCORD_API_BASE": self.server.api_url,
            "CONCORD_DATABASE": str(database),
            "CONCORD_TRANSLATOR": "libre",
            "CONCORD_LIBRE_URL": self.libre_url,
            "CONCORD_FALLBACKS": "[]",
            "CONCORD_RETRY_UNTRANSLATED_EVERY": "5",
            "CONCORD_LOG_LEVEL": "INFO",
        }
        self.bot = BotProcess(env, self.workdir)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.bot is not None:
            if self.bot.running():
                await self.bot.terminate()
            self.bot.close()
        await self.server.close()

    async def until_session(self, sessions: int, patience: float = 60.0) -> float:
        """Wait until the bot has started `sessions` gateway sessions; returns how long it took."""
        began = time.monotonic()
        while self.server.sessions < sessions:
            if time.monotonic() - began > patience or (self.bot is not None and not self.bot.running()):
                tail = self.bot.tail() if self.bot else ""
                raise RuntimeError(f"the relay did not connect to the loopback Discord:\n{tail}")
            await asyncio.sleep(0.05)
        return time.monotonic() - began

    def delivered_everywhere(self, sent: list[int]) -> bool:
        return all(
            set(sent) <= {int(n) for m in self.server.by_bot(c) for n in TAG.findall(unmark(m.content))}
            for c in self.targets
        )


def stop_points(messages: int, stops: int, rng: random.Random) -> list[int]:
    """Random message indices to stop at, one in each of `stops` equal stretches of the burst, each leaving
    room for the (up to 8) messages posted while the relay is down."""
    stretch = (messages - 2) // stops
    return [2 + k * stretch + rng.randrange(max(stretch - 9, 1)) for k in range(stops)]


async def run_scenario(name: str, cfg: CrashConfig, libre_url: str, rng: random.Random) -> Tally:
    """Post the burst, stop the relay `cfg.stops` times at random points (posting on while it is down), then
    count what the language channels show."""
    with tempfile.TemporaryDirectory(prefix=f"concord-crash-{name}-") as tmp:
        async with Stage(cfg, libre_url, Path(tmp)) as stage:
            assert stage.bot is not None
            began = time.monotonic()
            tally = Tally()
            stage.bot.start()
            await stage.until_session(1)
            at = stop_points(cfg.messages, cfg.stops, rng)
            carmen = stage.server.user("Carmen")
            sent: list[int] = []
            number = 0
            down_until = -1
            stopped, sessions = 0.0, 0
            for index in range(cfg.messages):
                if index in at:
                    tally.stops += 1
                    stopped = time.monotonic()
                    if name == "sigkill":
                        stage.bot.kill()
                    elif name == "sigterm":
                        code, took = await stage.bot.terminate()
                        tally.sigterm_exit_codes.append(code)
                        tally.sigterm_exit_s.append(round(took, 2))
                    else:
                        stage.server.gateway_open.clear()
                        await stage.server.disconnect()
                    down_until = index + rng.randint(2, 8)  # messages posted while it is down
                    sessions = stage.server.sessions
                if index == down_until:
                    if name == "session":
                        stage.server.gateway_open.set()
                    else:
                        stage.bot.start()
                    await stage.until_session(sessions + 1)
                    tally.restarts_s.append(round(time.monotonic() - stopped, 2))
                number += 1
                await stage.server.post(stage.main, f"Message {number:05d} of the burst.", author=carmen)
                sent.append(number)
                tally.posted_while_down += index < down_until and index >= (at[0] if at else 0)
                await asyncio.sleep(rng.expovariate(cfg.rate))
            if not stage.bot.running():
                stage.bot.start()
            with contextlib.suppress(AssertionError):  # not everything arrived: the count says what is missing
                await stage.server.wait_until(lambda: stage.delivered_everywhere(sent), cfg.patience_s)
            await asyncio.sleep(cfg.settle_s)
            counted = count(stage.server, stage.targets, sent)
            tally.add(counted)
            tally.posts = counted.posts
            tally.posts_found_after_stop = stage.bot.tail(100_000).count("made before a crash or timeout")
            tally.seconds = round(time.monotonic() - began, 1)
            if counted.lost or counted.duplicated or counted.order_violations:
                print(f"{name}: relay log tail:\n{stage.bot.tail(40)}", file=sys.stderr)
            return tally


async def crash_bench(cfg: CrashConfig, *, progress=lambda line: None) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    libre = ServerProcess(cfg.latency_ms, cfg.jitter_ms).start()
    try:
        total = Tally()
        scenarios: dict[str, Any] = {}
        for name in cfg.scenarios:
            progress(f"scenario {name}: {cfg.messages} messages, {cfg.stops} stops, {cfg.languages} languages")
            tally = await run_scenario(name, cfg, libre.url, rng)
            total.add(tally)
            scenarios[name] = {k: v for k, v in asdict(tally).items() if v != [] or k.startswith("restarts")}
            progress(
                f"  {tally.deliveries}/{tally.expected_deliveries} delivered, lost {tally.lost}, "
                f"duplicated {tally.duplicated}, out of order {tally.order_violations} ({tally.seconds} s)"
            )
    finally:
        libre.stop()
    report = {k: getattr(total, k) for k in ("sent", "expected_deliveries", "deliveries", "lost", "duplicated")}
    report["order_violations"] = total.order_violations
    report["scenarios"] = scenarios
    report["config"] = asdict(cfg)
    return report


def render(report: dict[str, Any]) -> str:
    lines = ["scenario   sent  expected  delivered  lost  duplicated  out-of-order  stops  restart s"]
    for name, t in report["scenarios"].items():
        restarts = ", ".join(f"{s:g}" for s in t.get("restarts_s", []))
        lines.append(
            f"{name:9} {t['sent']:5} {t['expected_deliveries']:9} {t['deliveries']:10} {t['lost']:5} "
            f"{t['duplicated']:11} {t['order_violations']:13} {t['stops']:6}  {restarts}"
        )
    lines.append(
        f"{'total':9} {report['sent']:5} {report['expected_deliveries']:9} {report['deliveries']:10} "
        f"{report['lost']:5} {report['duplicated']:11} {report['order_violations']:13}"
    )
    return "\n".join(lines)


def cmd_crash(args: argparse.Namespace) -> int:
    """`bench --crash`: the shared bench flags --messages, --languages, --rate, --seed, --latency-ms,
    --jitter-ms, --channel-limit and --json apply; --stops and --scenario are its own."""
    cfg = CrashConfig(
        messages=args.messages,
        languages=args.languages if args.languages is not None else BenchConfig.languages,
        rate=args.rate,
        seed=args.seed,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        channel_limit=args.channel_limit,
        stops=args.stops,
        scenarios=tuple(args.scenario or SCENARIOS),
    )
    if cfg.messages < cfg.stops * 10 + 2 or cfg.stops < 1 or not 1 <= cfg.languages <= len(LANGUAGES) or cfg.rate <= 0:
        print(
            f"error: --crash needs --stops >= 1, --messages >= 10 x stops + 2, --rate > 0 and 1 to {len(LANGUAGES)} "
            "--languages",
            file=sys.stderr,
        )
        return 2
    report = asyncio.run(crash_bench(cfg, progress=lambda line: print(line, file=sys.stderr, flush=True)))
    print(json.dumps(report) if args.json else render(report))
    return 0 if not (report["lost"] or report["duplicated"] or report["order_violations"]) else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The crash bench's own flags on the `bench` parser."""
    parser.add_argument("--crash", action="store_true", help="stop the relay (a separate process) at random points "
                        "and count on the loopback Discord that nothing was lost, doubled or reordered")  # fmt: skip
    parser.add_argument("--stops", type=int, default=3, help="with --crash: stops per scenario (default 3)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS,
                        help="with --crash: run only this scenario (repeatable; default all)")  # fmt: skip
