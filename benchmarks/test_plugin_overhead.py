"""The whole pytest-oxbot plugin's cost on a generated 500-test suite, in CPU instructions: <= 3 %.

Both variants run the same suite in a fresh `python -m pytest` under valgrind (cachegrind, no cache
simulation), in the fixed environment the instruction counter uses (PYTHONHASHSEED=0, address-space
randomisation off, minimal environment): without the plugin (`-p no:oxbot`) and with the whole plugin
as users get it (every component's options, fixtures and hooks). An instruction count is the same on an
idle and on a loaded machine (measured: repeated counts of one variant differ by a few thousand
instructions out of 3.5 billion), so one count per variant decides, and the build cannot flake on
load. The plugins this repository's test extra adds (pytest-codspeed, pytest-rerunfailures,
pytest-timeout) are switched off in both variants, as they are not part of what users get from us.

Bytecode: each variant runs once natively first, in the same environment, so both counted runs read
their modules from a warm bytecode cache (a private PYTHONPYCACHEPREFIX in the test's tmp dir), as a
user's pytest does. Wall-clock time is measured too, interleaved, and printed beside (never gated).

The suite's count with the whole plugin is recorded as the KPI `plugin_suite_instructions`, judged against
the baseline within 1 %. The overhead itself (a difference of two ~3.7 G counts that each wander by about
0.05 % between runs: paths, temporary names) moves by +-2 % from run to run, so it is gated on its target
only; recording it as a baseline KPI at 1 % made the gate flap (measured: 89.9 M to 93.5 M on the same code).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.parallel import each
from pytest_oxbot.kpi.instructions import child_environment, count_process
from pytest_oxbot.kpi.measure import KpiRecorder
from pytest_oxbot.testing import phase

TESTS = 500
FILES = 10
MAX_OVERHEAD = 0.03
WALL_ROUNDS = 3

ISOLATE = ("-p", "no:cacheprovider", "-p", "no:codspeed", "-p", "no:rerunfailures", "-p", "no:timeout")
WITHOUT = "without plugin"
FULL = "whole pytest-oxbot"
VARIANTS = {WITHOUT: ("-p", "no:oxbot"), FULL: ()}


def _make_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    per_file = TESTS // FILES
    for f in range(FILES):
        body = "\n".join(
            f"def test_{i}():\n    assert sum(range({i})) == {i * (i - 1) // 2}\n" for i in range(per_file)
        )
        pytester.makepyfile(**{f"test_gen_{f}": body})


def _argv(variant: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *ISOLATE, *VARIANTS[variant]]


def _native(cwd: Path, variant: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one native run; the run must pass all tests."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(_argv(variant), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{TESTS} passed" in done.stdout
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def test_whole_plugin_overhead_on_500_tests(
    pytester: pytest.Pytester,
    tmp_path_factory: pytest.TempPathFactory,
    oxbot_kpi: KpiRecorder,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    oxbot_kpi.require_instruments()
    _make_suite(pytester)
    extra = {"PYTHONPYCACHEPREFIX": str(tmp_path_factory.mktemp("pycache"))}
    env = child_environment(extra)
    wall: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    with phase("warming up: one native run of each variant", request):
        for name in VARIANTS:
            _native(pytester.path, name, env)  # warm the bytecode cache and the file system
    started = time.perf_counter()
    with phase("counting instructions under valgrind: both variants side by side", request):
        counted = each(lambda name: count_process(_argv(name), cwd=pytester.path, env=extra), VARIANTS)
    counts = dict(zip(VARIANTS, counted, strict=True))
    counting = time.perf_counter() - started
    with phase(f"wall-clock rounds: {WALL_ROUNDS} x {len(VARIANTS)} native runs", request):
        for _ in range(WALL_ROUNDS):  # informative: interleaved, medians printed
            for name in VARIANTS:
                wall[name].append(_native(pytester.path, name, env))

    plugin = counts[FULL] - counts[WITHOUT]
    overhead = plugin / counts[WITHOUT]
    oxbot_kpi.record("plugin_suite_instructions", counts[FULL], source="cachegrind")
    with capsys.disabled():
        print(f"\nplugin overhead on a {TESTS}-test suite (instructions; {counting:.0f} s under valgrind):")
        for name in VARIANTS:
            w = statistics.median(x for x, _ in wall[name])
            c = statistics.median(x for _, x in wall[name])
            print(
                f"  {name:20s} {counts[name]:>15,d} instructions   "
                f"(wall {w:.3f} s, cpu {c:.3f} s, median of {WALL_ROUNDS})"
            )
        cpu_ratio = (
            statistics.median(c for _, c in wall[FULL]) / statistics.median(c for _, c in wall[WITHOUT]) - 1
        )
        print(
            f"  whole plugin: {plugin:,d} instructions = {overhead:+.2%} (target <= {MAX_OVERHEAD:.0%}); "
            f"wall-clock cpu {cpu_ratio:+.1%} (printed, not gated)"
        )
    assert overhead <= MAX_OVERHEAD, f"whole plugin costs {overhead:+.2%} instructions > {MAX_OVERHEAD:.0%}"
