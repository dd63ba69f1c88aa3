"""`bench --meetings N` and `bench --fault hang-primary`: a district's evening, in one process.

--meetings N: N meetings at once, each with 6-12 language channels (or `--languages`), a message every
3-10 s per meeting, 20% of them from parents, for `--duration` seconds, through the real engine, chain
(production pool sizes, from Settings), glossary and SQLite store, against the local backend server. Per
message, e2e = until the last channel has it; floor = backend service time at the server (p95) + one post.
It then looks for the largest N whose e2e p95 stays within 1.25 x floor: more meetings while it holds
(1.5x, 2x, 3x...), fewer when it does not, each step a shorter run (`--ramp-s`).

--fault hang-primary: the same kind of evening with the self-hosted LibreTranslate as first choice and
MyMemory (a loopback stand-in) as the fallback, both configured as for the bot. A third into the run the
primary stops answering for `--hang-s` seconds (connections accepted, no answer). The run happens in a child
process, so `exit_s` measures how long that process takes to exit once the run is over (hung calls must not
hold it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bot import languages
from bot.bench import (
    FACILITATOR_TEMPLATES,
    GENERIC_PARENT_LINES,
    LANGUAGE_ORDER,
    PARENT_LINES,
    STOCK_PHRASES,
    TOPICS,
    WHEN,
    BenchConfig,
    Planned,
    RunResult,
    ServerProcess,
    TranslatorFactory,
    local_translator,
    pct,
    peak_rss_mb,
    run_once,
    target,
)
from bot.languages import Language

MEETING_STRIDE = 100  # channel ids: meeting i has main channel (i + 1) * 100 and languages after it
DISTRICT_LANGUAGES = 12  # meetings pick their languages among the district's 12 most common
TARGET_RATIO = 1.25
RSS_LIMIT_MB = 200.0


@dataclass(frozen=True)
class DistrictConfig:
    meetings: int = 50
    languages: int | None = None  # per meeting; None: 6 to 12, drawn per meeting
    duration_s: float = 60.0
    gap_s: tuple[float, float] = (3.0, 10.0)  # between two messages of one meeting
    parent_share: float = 0.2
    latency_ms: float = 150.0
    jitter_ms: float = 30.0
    sink_latency_ms: float = 40.0
    glossary_terms: int = 5000
    seed: int = 7
    search: bool = True
    ramp_s: float = 20.0  # length of each run of the search
    hang_s: float = 30.0  # --fault: how long the primary hangs

    def bench_config(self) -> BenchConfig:
        return BenchConfig(
            languages=self.languages or DISTRICT_LANGUAGES,
            latency_ms=self.latency_ms,
            jitter_ms=self.jitter_ms,
            sink_latency_ms=self.sink_latency_ms,
            glossary_terms=self.glossary_terms,
            seed=self.seed,
        )


def district_meetings(cfg: DistrictConfig, count: int) -> list[dict[int, Language]]:
    """`count` meetings: Spanish everywhere, the rest drawn among the district's most common languages."""
    rng = random.Random(cfg.seed)
    meetings = []
    for index in range(count):
        size = cfg.languages or rng.randint(6, 12)
        pool = LANGUAGE_ORDER[1 : max(DISTRICT_LANGUAGES, size)]
        codes = ["es", *rng.sample(pool, size - 1)]
        main = (index + 1) * MEETING_STRIDE
        channels = {main: languages.LANGUAGES["en"]}
        channels.update({main + k: languages.get(code) for k, code in enumerate(codes, start=1)})
        meetings.append(channels)
    return meetings


def district_workload(cfg: DistrictConfig, meetings: list[dict[int, Language]], duration: float) -> list[Planned]:
    """Every meeting's messages, in time order (message ids grow with time, so order checks hold per channel)."""
    rng = random.Random(cfg.seed + 1)
    times: list[tuple[float, int]] = []
    for index in range(len(meetings)):
        at = rng.uniform(0, cfg.gap_s[1])
        while at < duration:
            times.append((at, index))
            at += rng.uniform(*cfg.gap_s)
    times.sort()
    plan: list[Planned] = []
    last_parent: dict[int, int | None] = {}
    for number, (at, index) in enumerate(times):
        message_id = 1_000_000 + number
        channels = meetings[index]
        main = min(channels)
        if rng.random() < cfg.parent_share:
            channel_id = rng.choice([c for c in channels if c != main])
            code = channels[channel_id].code
            text = rng.choice(PARENT_LINES.get(code, GENERIC_PARENT_LINES))
            plan.append(Planned(message_id, channel_id, code, f"Parent {number % 7}", text, at=at, meeting=index))
            last_parent[index] = message_id
            continue
        if rng.random() < 0.2:
            text = rng.choice(STOCK_PHRASES)
        else:
            template = rng.choice(FACILITATOR_TEMPLATES)
            text = template.format(topic=rng.choice(TOPICS), when=rng.choice(WHEN), n=number)
        reply_to, last_parent[index] = last_parent.get(index), None
        plan.append(Planned(message_id, main, "en", f"Facilitator {index}", text, reply_to, at=at, meeting=index))
    return plan


async def run_district(
    cfg: DistrictConfig,
    count: int,
    duration: float,
    make: TranslatorFactory,
    database: Path,
    progress: Any = None,
    events: list[Any] = (),  # type: ignore[assignment]
) -> tuple[RunResult, list[Planned], list[dict[int, Language]]]:
    meetings = district_meetings(cfg, count)
    plan = district_workload(cfg, meetings, duration)
    result = await run_once(
        plan,
        meetings,
        make,
        cfg.bench_config(),
        database,
        fan_out=None,
        drain_timeout=60.0 + duration,
        progress=progress,
        events=events,
    )
    return result, plan, meetings


def summary(cfg: DistrictConfig, result: RunResult, plan: list[Planned], meetings: list[dict[int, Language]]):
    """The figures of one district run."""
    e2e = list(result.e2e_ms.values())
    backend_p95 = pct(result.backend_ms, 95)
    floor = round((backend_p95 or 0.0) + cfg.sink_latency_ms, 1)
    by_meeting: dict[int, list[float]] = {}
    for message in plan:
        if message.message_id in result.e2e_ms:
            by_meeting.setdefault(message.meeting, []).append(result.e2e_ms[message.message_id])
    per_meeting = sorted(pct(v, 95) or 0.0 for v in by_meeting.values())
    sizes = [len(m) - 1 for m in meetings]
    occupancy = sorted(result.occupancy) or [0.0]
    return {
        "meetings": len(meetings),
        "languages_per_meeting": {"min": min(sizes), "max": max(sizes), "mean": round(sum(sizes) / len(sizes), 1)},
        "duration_s": round(result.elapsed_s, 1),
        "messages": len(plan),
        "parent_messages": sum(m.channel_id != min(meetings[m.meeting]) for m in plan),
        "e2e_ms": {"p50": pct(e2e, 50), "p95": pct(e2e, 95), "p99": pct(e2e, 99), "max": pct(e2e, 100)},
        "floor_ms": floor,
        "backend_ms": {"p50": pct(result.backend_ms, 50), "p95": backend_p95, "measured": "at the server"},
        "backend_wait_ms": {"p50": pct(result.wait_ms, 50), "p95": pct(result.wait_ms, 95)},
        "per_meeting_e2e_p95_ms": {
            "median": pct(per_meeting, 50),
            "worst": pct(per_meeting, 100),
            "within_target": sum(v <= TARGET_RATIO * floor for v in per_meeting),
        },
        "backend_calls": result.stats.calls,
        "backend_calls_per_s": round(result.stats.calls / result.elapsed_s, 1) if result.elapsed_s else None,
        "cache_hits": result.stats.cache_hits,
        "pool": {
            "slots": result.slots,
            "occupancy_mean": round(sum(occupancy) / len(occupancy), 3),
            "occupancy_p95": round(occupancy[max(0, int(len(occupancy) * 0.95) - 1)], 3),
            "occupancy_peak": round(occupancy[-1], 3),
        },
        "expected_deliveries": result.expected,
        "deliveries": result.deliveries,
        "lost": result.lost,
        "duplicated": result.duplicated,
        "order_violations": result.order_violations,
        "untranslated": result.untranslated,
        "fallback_deliveries": result.fallback,
    }


def holds(figures: dict[str, Any]) -> bool:
    p95 = figures["e2e_ms"]["p95"]
    clean = figures["lost"] == figures["duplicated"] == figures["order_violations"] == 0
    return clean and p95 is not None and p95 <= TARGET_RATIO * figures["floor_ms"]


async def meetings_bench(cfg: DistrictConfig, *, progress: Any = lambda _: None) -> dict[str, Any]:
    began = time.perf_counter()
    server = ServerProcess(cfg.latency_ms, cfg.jitter_ms).start()
    try:
        make = local_translator(server.url)
        with tempfile.TemporaryDirectory(prefix="concord-bench-") as tmp:
            progress(f"{cfg.meetings} meetings for {cfg.duration_s:g} s")
            result, plan, meetings = await run_district(
                cfg, cfg.meetings, cfg.duration_s, make, Path(tmp) / "main.db", progress
            )
            report = summary(cfg, result, plan, meetings)
            report["peak_rss_mb"] = peak_rss_mb()  # before the search's runs, which may need more
            search = [{"meetings": cfg.meetings, "e2e_p95_ms": report["e2e_ms"]["p95"], "floor_ms": report["floor_ms"],
                       "holds": holds(report)}]  # fmt: skip
            if cfg.search:
                await find_capacity(cfg, make, Path(tmp), search, progress)
    finally:
        server.stop()
    passing = [s["meetings"] for s in search if s["holds"]]
    report["max_meetings_within_target"] = max(passing) if passing else 0
    # Every size tried held: the true limit is higher than the search went.
    report["max_is_lower_bound"] = bool(passing) and all(s["holds"] for s in search)
    report["search"] = search
    report["settings"] = {k: v for k, v in asdict(cfg).items() if k not in ("search",)}
    report["run_s"] = round(time.perf_counter() - began, 1)
    report["targets"] = [
        target(
            f"e2e p95 <= {TARGET_RATIO} x floor (backend p95 at the server + post)",
            report["e2e_ms"]["p95"],
            TARGET_RATIO * report["floor_ms"],
            "ms",
        ),
        target(
            "lost + duplicated + order violations == 0",
            report["lost"] + report["duplicated"] + report["order_violations"],
            0,
            "",
        ),
        target("nothing untranslated while the backend is healthy", report["untranslated"], 0, ""),
        target(f"peak RSS <= {RSS_LIMIT_MB:g} MB", report["peak_rss_mb"], RSS_LIMIT_MB, "MB"),
    ]
    return report


async def find_capacity(
    cfg: DistrictConfig, make: TranslatorFactory, tmp: Path, search: list[dict[str, Any]], progress: Any
) -> None:
    """More meetings while the target holds, fewer until it does (shorter runs); results go to `search`."""
    grow = search[0]["holds"]
    factors = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0) if grow else (0.5, 0.25, 0.125)
    for step, factor in enumerate(factors):
        count = max(1, round(cfg.meetings * factor))
        if any(s["meetings"] == count for s in search):
            continue
        progress(f"capacity search: {count} meetings for {cfg.ramp_s:g} s")
        result, plan, meetings = await run_district(cfg, count, cfg.ramp_s, make, tmp / f"ramp{step}.db")
        figures = summary(cfg, result, plan, meetings)
        ok = holds(figures)
        search.append({"meetings": count, "e2e_p95_ms": figures["e2e_ms"]["p95"], "floor_ms": figures["floor_ms"],
                       "holds": ok})  # fmt: skip
        if ok != grow:
            return


# --- the fault scenario -------------------------------------------------------------------------------


def post_fault(url: str, kind: str, seconds: float) -> None:
    request = urllib.request.Request(f"{url}_fault?kind={kind}&seconds={seconds:g}", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()


async def fault_child(options: dict[str, Any]) -> dict[str, Any]:
    """The measured process: the district evening, the primary hanging in the middle."""
    cfg = DistrictConfig(**{**options["cfg"], "gap_s": tuple(options["cfg"]["gap_s"])})
    primary, spare = options["primary"], options["spare"]
    make = local_translator(primary, fallbacks=["mymemory"], mymemory_url=spare.rstrip("/"))
    hang_at = cfg.duration_s / 3

    async def hang() -> None:
        await asyncio.to_thread(post_fault, primary, "hang", cfg.hang_s)

    with tempfile.TemporaryDirectory(prefix="concord-fault-") as tmp:
        result, plan, meetings = await run_district(
            cfg, cfg.meetings, cfg.duration_s, make, Path(tmp) / "fault.db", events=[(hang_at, hang)]
        )
    report = summary(cfg, result, plan, meetings)
    outage = [m for m, at in result.sent_at.items() if hang_at <= at < hang_at + cfg.hang_s]
    during = [result.e2e_ms[m] for m in outage if m in result.e2e_ms]
    marks = [mark for mark in result.marks if mark[0] in set(outage)]
    report["outage"] = {
        "from_s": round(hang_at, 1),
        "seconds": cfg.hang_s,
        "messages": len(outage),
        "deliveries": len(marks),
        "fallback_deliveries": sum(m[1] for m in marks),
        "untranslated": sum(m[2] for m in marks),
        "e2e_ms": {"p50": pct(during, 50), "p95": pct(during, 95), "max": pct(during, 100)},
    }
    report["circuit_open_s"] = result.open_s
    report["settings"] = {k: v for k, v in asdict(cfg).items() if k not in ("search", "ramp_s")}
    return report


def fault_bench(cfg: DistrictConfig, *, progress: Any = lambda _: None) -> dict[str, Any]:
    """Run `fault_child` in a child process and time its exit after the run."""
    primary = ServerProcess(cfg.latency_ms, cfg.jitter_ms, "libre").start()
    spare = ServerProcess(cfg.latency_ms, cfg.jitter_ms, "mymemory").start()
    try:
        options = {"cfg": asdict(cfg), "primary": primary.url, "spare": spare.url}
        progress(f"{cfg.meetings} meetings for {cfg.duration_s:g} s; the primary hangs for {cfg.hang_s:g} s at "
                 f"{cfg.duration_s / 3:.0f} s (child process)")  # fmt: skip
        child = subprocess.Popen(
            [sys.executable, "-m", "bot.bench_cli", "--fault-child", json.dumps(options)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        line = child.stdout.readline()  # printed as soon as the run is over
        ended = time.perf_counter()
        child.wait()
        exit_s = time.perf_counter() - ended
    finally:
        primary.stop()
        spare.stop()
    if child.returncode != 0 or not line.strip():
        raise RuntimeError(f"the fault run failed (exit code {child.returncode})")
    report = json.loads(line)
    report["exit_s"] = round(exit_s, 2)
    report["targets"] = [
        target(
            "lost + duplicated + order violations == 0",
            report["lost"] + report["duplicated"] + report["order_violations"],
            0,
            "",
        ),
        target(
            "the fallback answered during the outage",
            report["outage"]["fallback_deliveries"],
            1,
            "",
            higher_is_better=True,
        ),
        target("process exit after the run <= 5 s", report["exit_s"], 5.0, "s"),
    ]
    return report


def run_fault_child(text: str) -> int:
    report = asyncio.run(fault_child(json.loads(text)))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0


def config_from(args: argparse.Namespace) -> DistrictConfig:
    fault = bool(getattr(args, "fault", None))
    base = DistrictConfig()
    cfg = replace(
        base,
        meetings=args.meetings or (5 if fault else base.meetings),
        languages=args.languages or (8 if fault else None),
        duration_s=args.duration or (90.0 if fault else base.duration_s),
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        sink_latency_ms=args.sink_latency_ms,
        glossary_terms=args.glossary_terms,
        seed=args.seed,
        search=not args.no_search and not fault,
        ramp_s=args.ramp_s,
        hang_s=args.hang_s,
    )
    if cfg.meetings < 1 or cfg.duration_s <= 0 or (cfg.languages is not None and not 1 <= cfg.languages <= 19):
        raise ValueError("--meetings and --duration must be above zero, --languages between 1 and 19")
    return cfg


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Concord district bench: {report['meetings']} meetings x {report['languages_per_meeting']['mean']} "
        f"languages, {report['messages']} messages in {report['duration_s']} s",
    ]
    for key in ("e2e_ms", "floor_ms", "backend_ms", "per_meeting_e2e_p95_ms", "backend_calls_per_s", "pool",
                "peak_rss_mb", "lost", "duplicated", "order_violations", "untranslated", "fallback_deliveries",
                "max_meetings_within_target", "outage", "circuit_open_s", "exit_s"):  # fmt: skip
        if key in report:
            lines.append(f"  {key:<28} {json.dumps(report[key], ensure_ascii=False)}")
    for step in report.get("search", []):
        lines.append(f"  search: {step}")
    lines += ["", "targets:"]
    for t in report["targets"]:
        lines.append(f"  [{t['result']:>4}] {t['name']}: {t['value']}{t['unit']} (limit {t['limit']}{t['unit']})")
    return "\n".join(lines)
