"""The relay as a separate process (`python -m bot run` against the loopback Discord), stopped mid-burst:
every message must reach every language channel exactly once, in order (counted on the channels)."""

from __future__ import annotations

import random

from bot.crashbench import CrashConfig, run_scenario


async def test_kill_9_mid_burst_with_messages_posted_while_down_loses_and_doubles_nothing(libre):
    cfg = CrashConfig(messages=100, languages=2, rate=25, stops=2)
    tally = await run_scenario("sigkill", cfg, libre.url, random.Random(3))
    assert tally.stops == 2 and tally.posted_while_down > 0
    assert (tally.deliveries, tally.lost, tally.duplicated, tally.order_violations) == (200, 0, 0, 0)


async def test_sigterm_drains_and_exits_and_a_restart_doubles_nothing(libre):
    cfg = CrashConfig(messages=40, languages=2, rate=25, stops=1)
    tally = await run_scenario("sigterm", cfg, libre.url, random.Random(5))
    assert tally.sigterm_exit_codes == [0]  # it stopped on its own, not killed after the grace period
    assert (tally.deliveries, tally.lost, tally.duplicated, tally.order_violations) == (80, 0, 0, 0)
