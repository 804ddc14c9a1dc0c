"""`pytest_oxbot.testing.phase`: long silent phases of a benchmark say what runs and how long it took."""

from __future__ import annotations

import re

import pytest

from .test_plugin import INI, ONLY_KPI

SUITE = """
import pytest
from pytest_oxbot.testing import phase

@pytest.fixture(scope="module")
def seeded(pytestconfig):
    with phase("seeding database", pytestconfig):
        pass
    return 1

def test_cycle(seeded, request):
    with phase("naive cycle", request):
        with phase("inner step", request):
            pass
    print("output of the test")

def test_failing_phase(request):
    with phase("broken phase", request):
        raise RuntimeError("boom")
"""

TTY = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    reporter.isatty = lambda: True
"""


def _run(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(test_phases=SUITE)
    result = pytester.runpytest_inprocess(*ONLY_KPI, *args)
    result.assert_outcomes(passed=1, failed=1)
    return [line for line in result.stdout.lines if "phase:" in line]


def test_a_line_when_each_phase_starts_and_one_with_its_time(pytester: pytest.Pytester) -> None:
    lines = _run(pytester)
    starts = [line for line in lines if line.endswith(" ...")]
    assert starts == [
        "phase: seeding database ...",
        "phase: naive cycle ...",
        "phase: inner step ...",
        "phase: broken phase ...",
    ]
    ends = [line for line in lines if not line.endswith(" ...")]
    assert [re.sub(r"\d+\.\d s", "T s", line) for line in ends] == [
        "phase: seeding database: T s",
        "phase: inner step: T s",
        "phase: naive cycle: T s",
        "phase: broken phase: failed after T s",
    ]


def test_on_a_terminal_each_phase_is_completed_on_its_own_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TTY)
    lines = [re.sub(r"\d+\.\d s", "T s", line) for line in _run(pytester)]
    assert "phase: seeding database ... T s" in lines
    assert "phase: inner step ... T s" in lines
    assert "phase: naive cycle ..." in lines  # interrupted by the inner phase: completed below
    assert "phase: naive cycle: T s" in lines
    assert "phase: broken phase ... failed after T s" in lines


def test_shown_with_capture_off_too(pytester: pytest.Pytester) -> None:
    assert len(_run(pytester, "-s")) == 8


def test_quiet_runs_print_nothing(pytester: pytest.Pytester) -> None:
    assert _run(pytester, "-q") == []


def test_xdist_workers_print_nothing_and_tests_still_run(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyprojecttoml(INI)
    pytester.makepyfile(test_phases=SUITE)
    result = pytester.runpytest_subprocess(*ONLY_KPI, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    assert not [line for line in result.stdout.lines if line.startswith("phase:")]
