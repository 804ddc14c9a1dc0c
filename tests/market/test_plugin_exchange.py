"""The exchange fixtures as a user sees them, run through pytester."""

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

INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def user_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    return pytester


def test_fixtures_report_api_calls_per_cycle_only_when_cycles_are_marked(
    user_project: pytest.Pytester,
) -> None:
    user_project.makepyfile(
        """
        import asyncio
        import pytest

        FIVE = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]

        @pytest.mark.asyncio
        async def test_cycles(oxbot_exchange, oxbot_market):
            for _ in range(3):
                with oxbot_exchange.cycle():
                    fetches = (oxbot_market.fetch_market_data_batch(FIVE) for _ in range(10))
                    answers = await asyncio.gather(*fetches)
                    snapshots = answers[0]
                    await oxbot_market.fetch_candles("BTC/USDT", "15m", 20)
                assert len(snapshots.ok) == 5
                oxbot_exchange.advance(180)
            assert oxbot_exchange.calls_per_cycle() == [1, 1, 1]

        @pytest.mark.asyncio
        async def test_no_cycles(oxbot_exchange, oxbot_market):
            await oxbot_market.fetch_market_data_batch(FIVE)
        """
    )
    result = user_project.runpytest("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*KPI test_cycles api_calls_per_cycle=1.0 samples=?1.0, 1.0, 1.0? source=exchange*"]
    )
    result.stdout.no_fnmatch_line("*KPI test_no_cycles*")


def test_an_injected_fault_that_never_fired_fails_the_test(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import pytest

        def test_forgot(oxbot_exchange):
            oxbot_exchange.inject("rate_limit", retry_after=2)

        @pytest.mark.oxbot_exchange(strict_faults=False)
        def test_lenient(oxbot_exchange):
            oxbot_exchange.inject("timeout")
        """
    )
    result = user_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*injected fault(s) never fired*rate_limit*"])


def test_marker_and_ini_set_the_replay_start(user_project: pytest.Pytester) -> None:
    user_project.makeini(INI + "oxbot_replay_start = 2026-01-28T12:00:00Z\n")
    user_project.makepyfile(
        """
        import pytest

        def test_ini(oxbot_exchange):
            assert oxbot_exchange.replay_time == 1769601600.0

        @pytest.mark.oxbot_exchange(start="2026-01-30T06:00:00+00:00")
        def test_marker(oxbot_exchange):
            assert oxbot_exchange.replay_time == 1769752800.0

        @pytest.mark.oxbot_exchange(nonsense=1)
        def test_bad_marker(oxbot_exchange):
            pass
        """
    )
    result = user_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*unknown argument(s)*nonsense*"])


def test_batcher_factory_closes_what_it_made(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
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
    )
    result = user_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
