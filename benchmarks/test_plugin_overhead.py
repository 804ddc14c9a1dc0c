"""The whole pytest-oxbot plugin's overhead on a generated 500-test suite: <= 5 % (the issue's figure).

Each variant runs the same suite in a fresh `python -m pytest` subprocess, interleaved round by round
(order rotated) so background load hits every variant alike: without the plugin (`-p no:oxbot`) and with
the whole plugin as users get it (every component's options, fixtures and hooks). The whole plugin is
the gated figure: its component modules import their libraries (SQLAlchemy, redis, httpx/respx, the
compressor, the LLM client) only inside the fixtures that use them, so a suite that requests none of
them pays for options, markers, the gate's hooks and a few small modules. The KPI gate module alone is
measured in a few more rounds and printed, for attribution.

The gated figure is the child's CPU time (user + sys): a pytest run is one CPU-bound thread, so on an
idle machine its wall time equals its CPU time, while on a shared 2-core machine wall time mostly
measures the neighbours (printed next to it). Each round runs both variants back to back; the overhead is
the median over rounds of their CPU-time ratio, so a neighbour's load that slows both runs of a round
cancels and a round it hit half-way is outvoted (best-of-N against best-of-N, printed too, fails whenever
one variant happens to get a quieter moment than the other). 8 rounds; while the figure is over target,
4 more (up to 16). A median still over target fails only when the rounds show it significantly (one-sided
Wilcoxon signed-rank test on the paired ratios, alpha 0.05); otherwise it is reported as unstable, the
rule the gate applies to every noisy KPI.

Bytecode: the children run with Python's bytecode cache on, written to a private PYTHONPYCACHEPREFIX in
the test's tmp dir (nothing is written into the project or the venv) and warmed by one run per variant,
because that is how a user's pytest runs. Under PYTHONDONTWRITEBYTECODE=1 (set in some containers and
sandboxes) every run recompiles every module it imports and pytest re-rewrites the asserts of every
plugin module, this one's included; that figure is measured too and printed, not gated.
Measured here (shared 2 cores, spread about +-5 % run to run): whole plugin -3 to +5 %, typically +1 to
+3 %, with bytecode cached or not; before the lazy imports: about +120 % (+100 % without the cache).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scipy.stats import wilcoxon

TESTS = 500
FILES = 10
ROUNDS = 8
EXTRA_ROUNDS = 4
MAX_ROUNDS = 16
GATE_ROUNDS = 3
UNCACHED_ROUNDS = 3
MAX_OVERHEAD = 0.05
ALPHA = 0.05

WITHOUT = "without plugin"
GATE = "kpi gate only"
FULL = "full pytest-oxbot"
VARIANTS = {
    WITHOUT: ("-p", "no:oxbot"),
    GATE: ("-p", "no:oxbot", "-p", "pytest_oxbot._plugin.kpi"),
    FULL: (),
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


def _env(pycache: Path | None) -> dict[str, str]:
    """The child's environment: bytecode cached under `pycache`, or not written at all (None)."""
    drop = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _run(pytester: pytest.Pytester, extra: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of the suite."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    cpu_before, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, cwd=pytester.path, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{TESTS} passed" in done.stdout
    return wall, cpu


Samples = dict[str, list[tuple[float, float]]]  # variant -> [(wall, CPU) seconds per run]


def _rounds(pytester: pytest.Pytester, samples: Samples, rounds: int, env: dict[str, str]) -> None:
    """Add `rounds` interleaved rounds (order rotated) of every variant in `samples`."""
    names = list(samples)
    for round_no in range(rounds):
        shift = (len(samples[names[0]]) + round_no) % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_run(pytester, VARIANTS[name], env))


def _best(samples: Samples, name: str) -> tuple[float, float]:
    """Best wall and best CPU seconds of a variant."""
    return min(w for w, _ in samples[name]), min(c for _, c in samples[name])


def _overhead(samples: Samples, name: str) -> tuple[float, float]:
    """(wall, CPU) overhead of a variant over the run without the plugin: the median over rounds of the
    ratio of its run to the adjacent run without the plugin (a load that slows both cancels out)."""
    pairs = list(zip(samples[name], samples[WITHOUT], strict=True))
    wall = statistics.median(w / base_w for (w, _), (base_w, _) in pairs)
    cpu = statistics.median(c / base_c for (_, c), (_, base_c) in pairs)
    return wall - 1, cpu - 1


def test_whole_plugin_overhead_on_500_tests(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    _make_suite(pytester)
    cached_env = _env(tmp_path_factory.mktemp("pycache"))
    for name in (WITHOUT, FULL):
        _run(pytester, VARIANTS[name], cached_env)  # warm the file system and the bytecode cache
    main: Samples = {WITHOUT: [], FULL: []}
    _rounds(pytester, main, ROUNDS, cached_env)
    # A busy neighbour can sway a few rounds: an over-target figure gets more rounds before it is believed.
    while _overhead(main, FULL)[1] > MAX_OVERHEAD and len(main[FULL]) < MAX_ROUNDS:
        _rounds(pytester, main, EXTRA_ROUNDS, cached_env)
    # Informative: the gate module alone (a subset of the whole plugin's modules, so its bytecode is
    # cached by now), and every run recompiling its imports (no warm-up: there is nothing to warm).
    gate: Samples = {WITHOUT: [], GATE: []}
    _rounds(pytester, gate, GATE_ROUNDS, cached_env)
    uncached: Samples = {WITHOUT: [], FULL: []}
    _rounds(pytester, uncached, UNCACHED_ROUNDS, _env(None))

    full_wall, full_cpu = _overhead(main, FULL)
    with capsys.disabled():
        rounds = len(main[FULL])
        print(f"\nplugin overhead on a {TESTS}-test suite ({rounds} interleaved rounds, bytecode cached):")
        for name in main:
            wall, cpu = _best(main, name)
            print(f"  {name:18s} best cpu {cpu:.3f} s  best wall {wall:.3f} s")
        best_cpu = _best(main, FULL)[1] / _best(main, WITHOUT)[1] - 1
        print(
            f"  whole plugin (median of paired ratios): {full_cpu:+.1%} cpu, {full_wall:+.1%} wall "
            f"(target <= {MAX_OVERHEAD:.0%}); best against best: {best_cpu:+.1%} cpu"
        )
        gate_wall, gate_cpu = _overhead(gate, GATE)
        print(f"  kpi gate alone ({GATE_ROUNDS} rounds, info): {gate_cpu:+.1%} cpu, {gate_wall:+.1%} wall")
        u_wall, u_cpu = _overhead(uncached, FULL)
        print(
            f"  PYTHONDONTWRITEBYTECODE=1 ({UNCACHED_ROUNDS} rounds, informative): without plugin "
            f"cpu {_best(uncached, WITHOUT)[1]:.3f} s, whole plugin cpu {_best(uncached, FULL)[1]:.3f} s "
            f"({u_cpu:+.1%} cpu, {u_wall:+.1%} wall)"
        )
    # Noise-aware, like the gate's own rule for noisy KPIs: the build fails when the per-round CPU ratios
    # show the overhead above target with significance (one-sided Wilcoxon signed-rank, alpha 0.05), not
    # when one loaded round of a noisy machine tips the median over the line.
    excess = [
        c / base_c - 1 - MAX_OVERHEAD for (_, c), (_, base_c) in zip(main[FULL], main[WITHOUT], strict=True)
    ]
    p_value = float(wilcoxon(excess, alternative="greater").pvalue)
    with capsys.disabled():
        verdict = (
            "ok"
            if full_cpu <= MAX_OVERHEAD
            else ("FAIL" if p_value < ALPHA else "unstable (not significant)")
        )
        print(f"  over {MAX_OVERHEAD:.0%}: one-sided Wilcoxon p = {p_value:.3f} -> {verdict}")
    assert full_cpu <= MAX_OVERHEAD or p_value >= ALPHA, (
        f"whole plugin overhead {full_cpu:+.1%} > {MAX_OVERHEAD:.0%} (Wilcoxon p = {p_value:.3f})"
    )
