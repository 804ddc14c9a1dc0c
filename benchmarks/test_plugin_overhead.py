"""The KPI gate's own overhead on a generated 500-test suite: <= 5 % wall time.

Each variant runs the same suite in a fresh `python -m pytest` subprocess, interleaved round by round so
background load hits every variant alike; the best (minimum) wall time of each variant is compared,
since interference only ever adds time. Variants: without the plugin (`-p no:oxbot`), with only the gate
module, and with the whole pytest-oxbot plugin (every component's fixtures; reported, not gated here,
because component imports are their owners' budget).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import pytest

TESTS = 500
FILES = 10
ROUNDS = 4
FULL_ROUNDS = 2
MAX_OVERHEAD = 0.05

VARIANTS = {
    "without plugin": ("-p", "no:oxbot"),
    "kpi gate only": ("-p", "no:oxbot", "-p", "pytest_oxbot._plugin.kpi"),
    "full pytest-oxbot": (),
}


def _make_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    per_file = TESTS // FILES
    for f in range(FILES):
        body = "\n".join(
            f"def test_{i}():\n    assert sum(range({i})) == {i * (i - 1) // 2}\n" for i in range(per_file)
        )
        pytester.makepyfile(**{f"test_gen_{f}": body})


def _run(pytester: pytest.Pytester, extra: tuple[str, ...]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=pytester.path, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{TESTS} passed" in done.stdout
    return elapsed


def test_gate_overhead_on_500_tests(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    _make_suite(pytester)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    _run(pytester, VARIANTS["without plugin"])  # warm the file system and bytecode caches
    for round_no in range(ROUNDS):
        for name, extra in VARIANTS.items():
            if name == "full pytest-oxbot" and round_no >= FULL_ROUNDS:
                continue  # the slow variant is informative only; fewer rounds keep the file under 30 s
            times[name].append(_run(pytester, extra))
    base = min(times["without plugin"])
    gate_overhead = min(times["kpi gate only"]) / base - 1
    full_overhead = min(times["full pytest-oxbot"]) / base - 1
    with capsys.disabled():
        print(f"\nplugin overhead on a {TESTS}-test suite (best of {ROUNDS} interleaved runs):")
        for name, values in times.items():
            print(f"  {name:18s} best {min(values):.3f} s  median {statistics.median(values):.3f} s")
        print(
            f"  kpi gate overhead {gate_overhead:+.1%} (target <= {MAX_OVERHEAD:.0%}); "
            f"whole plugin {full_overhead:+.1%} (informative)"
        )
    assert gate_overhead <= MAX_OVERHEAD
