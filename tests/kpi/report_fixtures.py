"""A report with every kind of plot: failures, noisy samples, money, tiny values, no-target KPIs, trends."""

from __future__ import annotations

import random

from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge


def _timings(n: int, center: float, seed: int) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(center * rng.lognormvariate(0, 0.2) for _ in range(n))


def rich_report() -> tuple[list[KpiResult], Baseline, dict[tuple[str, str], list[tuple[str, float]]]]:
    """(results, the baseline they were judged against, trends) for rendering tests."""
    base: dict[str, dict[str, BaselineEntry]] = {}
    results: list[KpiResult] = []
    for i, (center, factor) in enumerate(((0.0009, 1.6), (0.012, 1.02), (0.0004, 0.98))):
        test_id = f"benchmarks/test_db.py::test_db_query_time[backend-{i}]"
        before = _timings(200, center, seed=i)
        now = _timings(150, center * factor, seed=10 + i)
        runs = tuple(center * (1 + 0.02 * k) for k in range(-2, 3))
        base[test_id] = {"db_query_time": BaselineEntry(center, "s", before, runs)}
        results += judge(
            test_id,
            [Measurement("db_query_time", sum(now) / len(now), now)],
            targets={},
            baseline=base[test_id],
        )
    for i, cost in enumerate((0.000087, 0.00031, 0.000142)):
        test_id = f"benchmarks/test_llm.py::test_cost[model-{i}]"
        base[test_id] = {"cost_per_decision": BaselineEntry(0.000090, "USD")}
        results += judge(
            test_id, [Measurement("cost_per_decision", cost)], targets={}, baseline=base[test_id]
        )
    for i, count in enumerate((15_284_810, 15_902_113, 2_104_552, 987_001)):
        test_id = f"benchmarks/test_gate.py::test_work_instructions[case-{i}]"
        base[test_id] = {"work_instructions": BaselineEntry(15_284_810 if i < 2 else count, "instructions")}
        results += judge(
            test_id, [Measurement("work_instructions", count)], targets={}, baseline=base[test_id]
        )
    results += judge(
        "benchmarks/test_compressor.py::test_prompt", [Measurement("prompt_tokens", 2712)], targets={}
    )
    trends: dict[tuple[str, str], list[tuple[str, float]]] = {}
    commits = [f"c{k:02d}a9f3e" for k in range(12)]
    for r in results:
        if r.name in ("work_instructions", "cost_per_decision") and r.value is not None:
            # overlapping on purpose: two tests with the same history
            start = (
                15_284_810.0
                if r.name == "work_instructions" and r.test_id.endswith(("0]", "1]"))
                else r.value
            )
            trends[(r.test_id, r.name)] = [(c, start * (1 + 0.002 * k)) for k, c in enumerate(commits)]
    return results, Baseline({}, base), trends
