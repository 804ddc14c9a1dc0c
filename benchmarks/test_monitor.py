"""The monitor's cost on the bot, in CPU instructions (valgrind), side by side with the push alternative.

Instruction counts, not time: they do not move with the neighbours on a shared machine. Each measured
loop runs inside `functools.reduce`, and callgrind collects only inside that C function
(`--collect-atstart=no --toggle-collect=functools_reduce`), so start-up and imports are not counted; an
`empty` loop gives the driver's own cost per iteration, subtracted from the others.

- `observe_compression` (the one push hook, called once per prompt) against the same three counters
  pushed into prometheus_client (`Counter.inc`), what a user would write instead;
- the pull cost: instructions per LLM ledger record consumed when the reporter takes a snapshot;
- the cache's L1 hit (`cache.get`) with no reporter and with a reporter watching the cache (must be the
  same: nothing is added to the hit path), beside what one prometheus counter per hit would add (the push
  design this monitor avoids; a third of the three-counter figure above).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.parallel import each

N = 5_000
MAX_HOOK_INSTRUCTIONS = 3_000  # observe_compression, net of the driver
MAX_RECORD_INSTRUCTIONS = 15_000  # one ledger record consumed at snapshot time
L1_SAME_WITHIN = 0.01  # watched vs plain L1 hit: equal (the hit path has no hook at all)

SCRIPT = textwrap.dedent(
    """
    import asyncio, functools, sys
    from decimal import Decimal
    from types import SimpleNamespace
    from pytest_oxbot.monitor.reporter import MetricsReporter
    mode, n = sys.argv[1], int(sys.argv[2])

    def drive(step, count):  # the measured region: callgrind collects inside functools.reduce only
        functools.reduce(step, range(count), None)

    if mode == "empty":
        drive(lambda acc, _: acc, n)
    elif mode == "hook":
        r = MetricsReporter("bench")
        res = SimpleNamespace(original_tokens=1000, compressed_tokens=400, elapsed_s=0.001)
        hook = r.observe_compression
        drive(lambda acc, _: hook(res), n)
    elif mode == "prometheus":
        from prometheus_client import CollectorRegistry, Counter
        reg = CollectorRegistry()
        prompts = Counter("prompts", "p", registry=reg)
        original = Counter("original_tokens", "o", registry=reg)
        compressed = Counter("compressed_tokens", "c", registry=reg)
        drive(lambda acc, _: (prompts.inc(), original.inc(1000), compressed.inc(400)), n)
    elif mode == "ledger":
        from pytest_oxbot.clock import FakeClock
        from pytest_oxbot.llm.report import CallRecord, CostLedger
        ledger = CostLedger()
        for i in range(n):
            ledger.add(CallRecord(1.7e9 + i, "gpt-4o-mini", i % 3 == 0, Decimal("0.0001"), 900, 0, 60, 0.6))
        client = SimpleNamespace(ledger=ledger, clock=FakeClock(), budget=SimpleNamespace(daily_limit=None),
                                 router=SimpleNamespace(default_model="gpt-4o-mini", forced_model=None))
        r = MetricsReporter("bench").watch_llm(client)
        drive(lambda acc, _: r.snapshot(), 1)
    else:
        from pytest_oxbot.cache import HierarchicalCache
        cache = HierarchicalCache.memory_only()
        asyncio.run(cache.set("k", 1))
        get = cache.get
        if mode == "l1_watched":
            reporter = MetricsReporter("bench").watch_cache(cache)
            reporter.snapshot()

        def hit(acc, _):  # an L1 hit never suspends: the coroutine finishes on its first send
            try:
                get("k").send(None)
            except StopIteration as done:
                assert done.value == 1
        drive(hit, n)
        assert cache.stats().hits == n
    """
)


def _instructions(script: Path, mode: str) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(script),
            mode,
            str(N),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"Collected : (\d+)", result.stderr)
    assert match, result.stderr[-2000:]
    return int(match.group(1))


@pytest.fixture(scope="module")
def per_event(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """Instructions per event of each mode, net of the driver (one valgrind run per mode)."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (apt-get install valgrind)")
    script = tmp_path_factory.mktemp("monitor-bench") / "bench.py"
    script.write_text(SCRIPT)
    modes = ("empty", "hook", "prometheus", "ledger", "l1_plain", "l1_watched")
    counts = dict(zip(modes, each(lambda mode: _instructions(script, mode), modes), strict=True))
    driver = counts["empty"] / N
    return {mode: counts[mode] / N - driver for mode in modes if mode != "empty"}


def test_push_hook_costs_fewer_instructions_than_prometheus_counters(
    per_event: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    hook, prom = per_event["hook"], per_event["prometheus"]
    with capsys.disabled():
        print(
            f"\n  observe_compression: {hook:,.0f} instructions/event; the same 3 prometheus_client "
            f"Counter.inc: {prom:,.0f} (ratio {hook / prom:.2f})"
        )
    assert 0 < hook <= MAX_HOOK_INSTRUCTIONS
    assert hook < prom


def test_pull_cost_per_llm_call_recorded(
    per_event: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    record = per_event["ledger"]
    with capsys.disabled():
        print(
            f"\n  ledger record consumed at snapshot: {record:,.0f} instructions (once per LLM call, "
            "off the call path)"
        )
    assert 0 < record <= MAX_RECORD_INSTRUCTIONS


def test_l1_hit_path_is_unchanged_by_the_monitor(
    per_event: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    plain, watched = per_event["l1_plain"], per_event["l1_watched"]
    one_counter = per_event["prometheus"] / 3
    with capsys.disabled():
        print(
            f"\n  L1 hit: {plain:,.0f} instructions plain, {watched:,.0f} watched by a reporter "
            f"({watched / plain - 1:+.2%}); one prometheus counter per hit would add {one_counter:,.0f} "
            f"({one_counter / plain:+.0%})"
        )
    assert abs(watched / plain - 1) <= L1_SAME_WITHIN
