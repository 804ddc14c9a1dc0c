"""The KPI gate's own overhead on a generated 500-test suite: <= 5 %.

Each variant runs the same suite in a fresh `python -m pytest` subprocess, interleaved round by round
(order rotated) so background load hits every variant alike. Variants: without the plugin
(`-p no:oxbot`), with only the gate module, and with the whole pytest-oxbot plugin (every component's
fixtures; printed, not gated here, because component imports are their owners' budget).

The gated figure is the child's CPU time (user + sys, best of the rounds): a pytest run is one
CPU-bound thread, so on an idle machine its wall time equals its CPU time, while on a shared 2-core
machine wall time mostly measures the neighbours. Best wall times are printed next to it.
"""

from __future__ import annotations

import os
import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(pytester: pytest.Pytester, extra: tuple[str, ...]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of the suite."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    cpu_before, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, cwd=pytester.path, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{TESTS} passed" in done.stdout
    return wall, cpu


def test_gate_overhead_on_500_tests(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    _make_suite(pytester)
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    _run(pytester, VARIANTS["without plugin"])  # warm the file system and bytecode caches
    names = list(VARIANTS)
    for round_no in range(ROUNDS):
        for name in names[round_no % 3 :] + names[: round_no % 3]:
            if name == "full pytest-oxbot" and len(cpu[name]) >= FULL_ROUNDS:
                continue  # informative only; fewer rounds keep the file under 30 s
            w, c = _run(pytester, VARIANTS[name])
            wall[name].append(w)
            cpu[name].append(c)

    def overhead(times: dict[str, list[float]], name: str) -> float:
        return min(times[name]) / min(times["without plugin"]) - 1

    gate_cpu, gate_wall = overhead(cpu, "kpi gate only"), overhead(wall, "kpi gate only")
    with capsys.disabled():
        print(f"\nplugin overhead on a {TESTS}-test suite (best of {ROUNDS} interleaved runs):")
        for name in VARIANTS:
            print(f"  {name:18s} cpu {min(cpu[name]):.3f} s  wall {min(wall[name]):.3f} s")
        print(
            f"  kpi gate: {gate_cpu:+.1%} cpu, {gate_wall:+.1%} wall (target <= {MAX_OVERHEAD:.0%}); "
            f"whole plugin: {overhead(cpu, 'full pytest-oxbot'):+.1%} cpu (informative)"
        )
    assert gate_cpu <= MAX_OVERHEAD
