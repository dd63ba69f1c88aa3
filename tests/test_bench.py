"""`python -m bot bench` in miniature: every delivery accounted for, the report complete. No timing asserts."""

from __future__ import annotations

import argparse
import json

import pytest

from bot import bench, bench_cli
from bot.bench import BenchConfig, DiscordModelSink
from bot.sinks import Outgoing

TINY = BenchConfig(
    languages=3, messages=6, rate=20.0, latency_ms=20.0, jitter_ms=5.0, sink_latency_ms=5.0, glossary_terms=50
)


@pytest.fixture(scope="module")
def report() -> dict:
    import asyncio

    return asyncio.run(bench.bench(TINY))


def test_report_has_every_figure_the_issue_asks_for(report):
    for key in ("e2e_ms", "backend_ms", "overhead_ms", "sequential_e2e_ms", "sequential_ratio", "throughput_per_s",
                "deliveries", "lost", "duplicated", "order_violations", "backend_calls", "chars_sent", "cache_hits",
                "peak_rss_mb", "glossary", "targets"):  # fmt: skip
        assert key in report, key
    assert set(report["e2e_ms"]) >= {"p50", "p95", "p99"}
    assert set(report["backend_ms"]) >= {"p50", "p95"} and set(report["overhead_ms"]) >= {"p50", "p95"}
    assert report["sequential_e2e_ms"]["p95"] is not None
    glossary = report["glossary"]
    assert glossary["terms_per_language"] == 50 and glossary["terms_matched"] > 0  # the workload uses real terms
    assert glossary["match_ms_per_message"]["mean"] is not None
    json.dumps(report)  # one JSON object, as --json prints it


def test_every_message_reaches_every_other_channel_once_and_in_order(report):
    assert report["deliveries"] == report["expected_deliveries"] == TINY.messages * TINY.languages
    assert report["lost"] == report["duplicated"] == report["order_violations"] == report["untranslated"] == 0


def test_repeated_phrases_are_translated_once(report):
    assert report["resent"] == 0
    assert 0 < report["backend_calls"] <= report["distinct_translations"]  # protected terms can merge texts
    assert report["chars_sent"] > 0


def test_fan_out_beats_one_translation_at_a_time(report):
    assert report["sequential_ratio"] > 1
    assert report["e2e_ms"]["p50"] <= report["e2e_ms"]["p95"] <= report["e2e_ms"]["p99"]


def test_workload_mixes_parents_repeats_and_replies():
    cfg = BenchConfig(messages=200)
    channels = bench.channel_map(bench.pick_languages(cfg.languages))
    plan = bench.workload(cfg, channels)
    assert plan == bench.workload(cfg, channels)  # deterministic
    parents = [p for p in plan if p.channel_id != bench.MAIN_CHANNEL]
    assert 0.1 < len(parents) / len(plan) < 0.3
    texts = [p.text for p in plan if p.channel_id == bench.MAIN_CHANNEL]
    assert len(set(texts)) < len(texts)  # stock phrases repeat
    assert any(p.reply_to for p in plan)


async def test_rate_limited_channel_waits_instead_of_dropping():
    sink = DiscordModelSink(limit=(2, 0.2))  # 2 posts, then one per 0.1 s
    for _ in range(4):
        await sink.post(1, Outgoing("hi", "Carmen"))
    await sink.post(2, Outgoing("hi", "Carmen"))  # another channel has its own bucket
    assert len(sink.texts(1)) == 4 and len(sink.texts(2)) == 1
    assert sink.throttled == 2 and sink.last_wait[2] == 0.0


def test_cli_options_build_the_config():
    parser = argparse.ArgumentParser()
    bench_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "--languages", "4", "--messages", "20", "--channel-limit", "5/2", "--json"])
    cfg = bench_cli.config_from(args)
    assert (cfg.languages, cfg.messages, cfg.channel_limit, args.json) == (4, 20, (5, 2.0), True)
    assert args.func is bench_cli.cmd_bench
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--channel-limit", "fast"])


# --- the CLI contracts: the last line is one JSON object ------------------------------------------------


def run_bench(*args: str, **env: str) -> tuple[int, dict]:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bot", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {}


def test_meetings_scenario_reports_every_figure_and_delivers_everything():
    code, report = run_bench(
        "--meetings", "3", "--languages", "3", "--duration", "4", "--no-search", "--glossary-terms", "20",
        "--latency-ms", "20", "--jitter-ms", "5",
    )  # fmt: skip
    assert code == 0
    for key in ("meetings", "e2e_ms", "floor_ms", "peak_rss_mb", "lost", "duplicated", "order_violations",
                "max_meetings_within_target", "backend_calls_per_s", "pool", "per_meeting_e2e_p95_ms"):  # fmt: skip
        assert key in report, key
    assert report["meetings"] == 3 and report["languages_per_meeting"]["max"] == 3
    assert set(report["e2e_ms"]) >= {"p50", "p95"}
    assert report["deliveries"] == report["expected_deliveries"] > 0
    assert report["lost"] == report["duplicated"] == report["order_violations"] == report["untranslated"] == 0
    assert report["pool"]["slots"] == 64  # production's pool size, from Settings
    assert report["backend_ms"]["p95"] >= 20  # the server's own time (its latency), not Concord's queueing


def test_check_fails_the_run_when_a_target_is_missed():
    # No backend latency and no post latency: the floor is ~0 ms, so "e2e <= 1.25 x floor" cannot hold.
    tight = ("--messages", "6", "--languages", "2", "--sequential-messages", "2", "--glossary-terms", "0",
             "--latency-ms", "0", "--jitter-ms", "0", "--sink-latency-ms", "0")  # fmt: skip
    code, report = run_bench(*tight, "--check")
    assert code == 1 and any(t["result"] == "MISS" for t in report["targets"])
    assert run_bench(*tight)[0] == 0  # without --check the figures are printed and the exit is 0


def test_fault_scenario_fails_over_and_the_process_exits_at_once():
    code, report = run_bench(
        "--fault", "hang-primary", "--meetings", "3", "--languages", "3", "--duration", "9", "--hang-s", "4",
        "--glossary-terms", "0", "--latency-ms", "20", "--jitter-ms", "5",
        CONCORD_TRANSLATE_DEADLINE="3",
    )  # fmt: skip
    assert code == 0
    for key in ("fallback_deliveries", "untranslated", "e2e_ms", "exit_s", "outage"):
        assert key in report, key
    assert report["outage"]["messages"] > 0 and report["outage"]["fallback_deliveries"] > 0
    assert report["lost"] == report["duplicated"] == report["order_violations"] == 0
    assert report["exit_s"] < 5  # hung calls (the primary answers nothing for 60 s) do not hold the exit


def test_crash_bench_cli_counts_on_the_channels_with_the_default_languages():
    # The contract `bench --crash --json`: with no --languages it uses the bench's default (12 channels).
    code, report = run_bench("--crash", "--messages", "12", "--stops", "1", "--scenario", "sigkill", "--rate", "20")
    assert code == 0
    assert report["config"]["languages"] == 12
    assert report["expected_deliveries"] == report["sent"] * 12 == report["deliveries"]
    assert report["lost"] == report["duplicated"] == report["order_violations"] == 0
