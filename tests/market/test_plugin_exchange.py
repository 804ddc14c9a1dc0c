"""The exchange fixtures as a user sees them, in one pytester session (each session costs seconds)."""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest
from pytest_oxbot._plugin.kpi_sink import reported

@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    for kpi in reported(item):
        print(f"KPI {item.name} {kpi.name}={kpi.value} samples={list(kpi.samples)} source={kpi.source}")
    return result
"""

INI = """[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
oxbot_replay_start = 2026-01-28T12:00:00Z
"""

CYCLES = """
import asyncio
import pytest

FIVE = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]

@pytest.mark.asyncio
async def test_cycles(oxbot_exchange, oxbot_market):
    for _ in range(3):
        with oxbot_exchange.cycle():
            answers = await asyncio.gather(*(oxbot_market.fetch_market_data_batch(FIVE) for _ in range(10)))
            await oxbot_market.fetch_candles("BTC/USDT", "15m", 20)
        assert len(answers[0].ok) == 5
        oxbot_exchange.advance(180)
    assert oxbot_exchange.calls_per_cycle() == [1, 1, 1]

@pytest.mark.asyncio
async def test_no_cycles(oxbot_exchange, oxbot_market):
    await oxbot_market.fetch_market_data_batch(FIVE)
"""

FAULTS = """
import pytest

def test_forgot(oxbot_exchange):
    oxbot_exchange.inject("rate_limit", retry_after=2)

@pytest.mark.oxbot_exchange(strict_faults=False)
def test_lenient(oxbot_exchange):
    oxbot_exchange.inject("timeout")
"""

REPLAY_START = """
import pytest

def test_ini(oxbot_exchange):
    assert oxbot_exchange.replay_time == 1769601600.0

@pytest.mark.oxbot_exchange(start="2026-01-30T06:00:00+00:00")
def test_marker(oxbot_exchange):
    assert oxbot_exchange.replay_time == 1769752800.0
"""

BAD_MARKER = """
import pytest

@pytest.mark.oxbot_exchange(nonsense=1)
def test_bad_marker(oxbot_exchange):
    pass
"""

BATCHER = """
import pytest

made = []

@pytest.mark.asyncio
async def test_make(oxbot_batcher):
    async def double(xs):
        return [x * 2 for x in xs]
    batcher = oxbot_batcher(double, window=0, max_batch_size=4)
    made.append(batcher)
    assert await batcher.submit(21) == 42

def test_closed_after_teardown():
    assert made[0].closed
"""


def test_exchange_fixtures_in_a_user_project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(
        test_cycles=CYCLES, test_faults=FAULTS, test_replay_start=REPLAY_START, test_batcher_factory=BATCHER
    )
    result = pytester.runpytest("-s", "-p", "no:cacheprovider")
    # 8 pass; test_forgot errors at teardown (its fault never fired).
    result.assert_outcomes(passed=8, errors=1)
    # api_calls_per_cycle is reported only by the test that marked cycles.
    result.stdout.fnmatch_lines(
        ["*KPI test_cycles api_calls_per_cycle=1.0 samples=?1.0, 1.0, 1.0? source=exchange*"]
    )
    result.stdout.no_fnmatch_line("*KPI test_no_cycles*")
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_forgot*", "*injected fault(s) never fired*rate_limit*"]
    )
    # A bad marker argument is a usage error at collection, naming the test and the marker.
    pytester.makepyfile(test_bad_marker=BAD_MARKER)
    bad = pytester.runpytest("-p", "no:cacheprovider", "test_bad_marker.py")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(
        ["*test_bad_marker.py::test_bad_marker: @pytest.mark.oxbot_exchange: unknown argument(s) nonsense*"]
    )
