"""Instruction counts under valgrind: what is counted, what is refused, and the skip where valgrind is absent.

Each real count starts a child under callgrind (about 2-4 s here), so this module counts a handful of
times; the repeatability figures (10 runs, with and without CPU hogs) live in benchmarks/test_gate.py.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from pytest_oxbot.kpi.errors import InstrumentError, InstrumentUnavailable
from pytest_oxbot.kpi.instructions import count_instructions, unavailable_reason

REQUIRED = os.environ.get("OXBOT_REQUIRE_INSTRUMENTS", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _valgrind() -> None:
    reason = unavailable_reason()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"{reason} (and OXBOT_REQUIRE_INSTRUMENTS=1 demands it)")
        pytest.skip(reason)


def squares(n: int) -> int:
    return sum(i * i for i in range(n))


async def sleepy_squares(n: int) -> int:
    for _ in range(3):
        await asyncio.sleep(0.2)  # virtual time in the child: no idle polling, no wall time
    return squares(n)


class Accumulator:
    def __init__(self, size: int) -> None:
        self.items = list(range(size))

    def total(self) -> int:
        return sum(self.items)


def make_accumulator(size: int) -> Accumulator:
    return Accumulator(size)


def total(acc: Accumulator) -> int:
    return acc.total()


def boom() -> None:
    raise RuntimeError("measured code failed")


def test_counts_scale_with_the_work_and_leave_startup_out() -> None:
    small = count_instructions(squares, 2000)
    large = count_instructions(squares, 4000)
    # Twice the loop, about twice the instructions: start-up, imports and warm-up are not in the count.
    assert 1.9 < large.per_call / small.per_call < 2.1
    assert small.per_call > 100_000
    assert small.overhead < 50_000  # the empty instrumented region that is subtracted
    assert small.rounds == 3


def test_async_calls_run_on_virtual_time() -> None:
    count = count_instructions(sleepy_squares, 2000)
    plain = count_instructions(squares, 2000)
    assert plain.per_call < count.per_call < plain.per_call * 1.5  # a few loop turns, no idle spinning
    assert count.seconds < 60  # the 0.6 s of sleeps x 5 calls did not run in wall time either


def test_setup_builds_what_json_cannot_carry() -> None:
    count = count_instructions(total, 5000, setup=make_accumulator)
    assert count.per_call > 10_000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: count_instructions(lambda: None), "importable by name"),
        (lambda: count_instructions(squares, {1, 2}), "JSON values"),
        (lambda: count_instructions(squares, (1, 2)), "would not survive JSON"),
        (lambda: count_instructions(squares, 1, rounds=0), "rounds must be >= 1"),
    ],
)
def test_refused_before_any_child_starts(call: object, message: str) -> None:
    with pytest.raises(InstrumentError, match=message):
        call()  # type: ignore[operator]


def test_a_failing_call_reports_its_traceback() -> None:
    with pytest.raises(InstrumentError, match="measured code failed"):
        count_instructions(boom)


SUITE = """
from pytest_oxbot.kpi.instructions import unavailable_reason

def work(n):
    return sum(range(n))

def test_counted(oxbot_kpi):
    count = oxbot_kpi.count_instructions(work, 10_000, name="work_instructions")
    assert count.per_call > 0
"""


def test_plugin_records_the_kpi_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    pytester.makepyfile(test_a=SUITE, test_b=SUITE.replace("10_000", "20_000"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--oxbot-json=r.json")
    result.assert_outcomes(passed=2)
    import json

    data = json.loads((pytester.path / "r.json").read_text())
    counts = {r["test_id"]: r for r in data["results"]}
    a, b = counts["test_a.py::test_counted"], counts["test_b.py::test_counted"]
    assert a["unit"] == b["unit"] == "instructions"
    assert a["source"] == "valgrind"
    assert 1.8 < b["value"] / a["value"] < 2.2


def test_missing_valgrind_skips_with_the_install_command(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    pytester.makepyfile(test_a=SUITE)
    monkeypatch.setenv("PATH", str(pytester.path))  # no valgrind on this PATH
    monkeypatch.delenv("OXBOT_REQUIRE_INSTRUMENTS", raising=False)
    from pytest_oxbot.kpi import instructions

    instructions._valgrind.cache_clear()
    try:
        skipped = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
        skipped.assert_outcomes(skipped=1)
        skipped.stdout.fnmatch_lines(
            ["*valgrind is not installed (install valgrind: apt-get install valgrind*"]
        )
        monkeypatch.setenv("OXBOT_REQUIRE_INSTRUMENTS", "1")
        required = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        required.assert_outcomes(failed=1)
        required.stdout.fnmatch_lines(["*valgrind is not installed*OXBOT_REQUIRE_INSTRUMENTS=1 demands it*"])
    finally:
        instructions._valgrind.cache_clear()


def test_unavailable_outside_pytest_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_oxbot.kpi import instructions

    monkeypatch.setattr(instructions.platform, "machine", lambda: "riscv64")
    with pytest.raises(InstrumentUnavailable, match="x86_64 only"):
        count_instructions(squares, 10)
