"""Baselines keep samples reviewable: capped, summarised, identical values once with a count."""

from __future__ import annotations

import json
import random
import statistics
import sys
from pathlib import Path

import pytest

from pytest_oxbot.kpi import baseline as bl
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.compare import ComparePolicy, compare, spread
from pytest_oxbot.kpi.errors import BaselineError
from pytest_oxbot.kpi.samples import DEFAULT_CAP, compact, expand, summarise


def _timings(n: int, seed: int = 7, center: float = 0.012) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(center * rng.lognormvariate(0, 0.15) for _ in range(n))


def _one(samples: tuple[float, ...]) -> bl.Baseline:
    return bl.Baseline(
        {}, {"t::a": {"db_query_time": bl.BaselineEntry(statistics.fmean(samples), "s", samples)}}
    )


def test_identical_samples_are_stored_once_with_their_count() -> None:
    text = bl.to_json(_one((0.4,) * 650))
    saved = json.loads(text)["tests"]["t::a"]["db_query_time"]["samples"]
    assert saved == {"n": 650, "min": 0.4, "median": 0.4, "max": 0.4, "mad": 0.0, "kept": [[0.4, 650]]}
    assert (
        '"samples": {"n": 650, "min": 0.4, "median": 0.4, "max": 0.4, "mad": 0.0, "kept": [[0.4, 650]]}'
        in text
    )
    assert bl.from_json(text).entries("t::a")["db_query_time"].samples == (0.4,) * 650


def test_many_samples_are_capped_to_quantiles_with_an_exact_summary() -> None:
    samples = _timings(2000)
    pairs = compact(samples)
    assert len(pairs) <= DEFAULT_CAP
    assert sum(count for _, count in pairs) == 2000
    assert [v for v, _ in pairs] == sorted(v for v, _ in pairs)
    kept = expand(pairs)
    ordered = sorted(samples)
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):  # the distribution's shape survives, within one bin
        assert kept[int(q * 2000)] == pytest.approx(ordered[int(q * 2000)], rel=0.03)
    summary = summarise(samples)
    assert summary.n == 2000
    assert (summary.min, summary.max) == (
        pytest.approx(min(samples), rel=1e-5),
        pytest.approx(max(samples), rel=1e-5),
    )
    saved = json.loads(bl.to_json(_one(samples)))["tests"]["t::a"]["db_query_time"]["samples"]
    assert saved["n"] == 2000
    assert saved["min"] == pytest.approx(min(samples), rel=1e-5)
    assert saved["median"] == pytest.approx(statistics.median(samples), rel=1e-5)
    assert len(saved["kept"]) <= DEFAULT_CAP


def test_few_distinct_samples_are_kept_exactly() -> None:
    samples = (0.3, 0.1, 0.2, 0.1)
    assert compact(samples) == [(0.1, 2), (0.2, 1), (0.3, 1)]
    text = bl.to_json(_one(samples))
    assert '"kept": [[0.1, 2], 0.2, 0.3]' in text


def test_resaving_a_loaded_capped_baseline_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    bl.save(path, _one(_timings(700)), archive=False)
    first = path.read_text()
    bl.save(path, bl.load(path), archive=False)
    assert path.read_text() == first
    # xdist workers receive the controller's loaded baseline as text: the same text again
    assert bl.to_json(bl.from_json(first)) == first


def test_the_capped_file_is_much_smaller() -> None:
    samples = _timings(650)
    capped = len(bl.to_json(_one(samples)))
    uncapped = len(bl.to_json(_one(samples), keep_samples=10_000))
    assert capped < uncapped / 4


def test_noise_aware_comparison_from_the_capped_form() -> None:
    """Within-run rule (Mann-Whitney, spread, sample count) on the expansion: same verdicts as on the raw."""
    pytest.importorskip("scipy")
    spec = spec_for("db_query_time")
    policy = ComparePolicy(within_run=True)
    before = _timings(600, seed=1)
    loaded = bl.from_json(bl.to_json(_one(before))).entries("t::a")["db_query_time"]
    assert len(loaded.samples) == 600
    assert spread(loaded.samples) == pytest.approx(spread(before), rel=0.1)
    for factor, verdict in ((1.0, "same"), (1.3, "regressed"), (0.7, "improved")):
        now = tuple(s * factor for s in _timings(300, seed=2))
        mean = statistics.fmean(now)
        raw = compare(spec, mean, now, statistics.fmean(before), before, policy)
        capped = compare(spec, mean, now, loaded.value, loaded.samples, policy)
        assert raw.verdict == capped.verdict == verdict
        assert capped.p_value == pytest.approx(raw.p_value, abs=0.05)


def test_format_2_files_are_still_read() -> None:
    text = json.dumps(
        {
            "format": "pytest-oxbot-baseline/2",
            "environment": {},
            "tests": {
                "t": {"db_query_time": {"unit": "s", "value": 0.01, "samples": [0.01, 0.011], "runs": [0.01]}}
            },
        }
    )
    entry = bl.from_json(text).entries("t")["db_query_time"]
    assert (entry.samples, entry.runs, entry.summary) == ((0.01, 0.011), (0.01,), None)
    assert json.loads(bl.to_json(bl.from_json(text)))["format"] == "pytest-oxbot-baseline/3"


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ({"n": 2, "min": 1, "median": 1, "max": 1, "mad": 0, "kept": [[1.0, 3]]}, "add up to 3, n is 2"),
        ({"n": 1, "min": 1, "median": 1, "max": 1, "mad": 0, "kept": [[1.0, 0]]}, "[number, count] pairs"),
        ({"n": 1, "min": 1, "median": 1, "max": 1, "mad": 0, "kept": ["x"]}, "[number, count] pairs"),
        ({"n": 1, "kept": [1.0]}, "summary needs numbers"),
        ({"n": 1}, "bad samples"),
    ],
)
def test_corrupt_capped_samples_name_the_problem(samples: object, message: str) -> None:
    text = json.dumps(
        {
            "format": bl.FORMAT,
            "tests": {"t": {"db_query_time": {"unit": "s", "value": 1, "samples": samples}}},
        }
    )
    with pytest.raises(BaselineError, match=r"corrupt at 't' / 'db_query_time'") as info:
        bl.from_json(text, "b.json")
    assert message in str(info.value)


def test_merge_keeps_the_newer_summary() -> None:
    old = bl.from_json(bl.to_json(_one(_timings(100, seed=3))))
    newer = _one(_timings(80, seed=4))
    merged = old.merged(newer).entries("t::a")["db_query_time"]
    assert len(merged.samples) == 80
    assert json.loads(bl.to_json(old.merged(newer)))["tests"]["t::a"]["db_query_time"]["samples"]["n"] == 80


def test_uncapped_text_for_xdist_workers_keeps_every_sample() -> None:
    """The controller ships its loaded baseline to workers uncapped: their verdicts equal a serial run's."""
    samples = _timings(300)
    text = bl.to_json(_one(samples), keep_samples=sys.maxsize)
    loaded = bl.from_json(text).entries("t::a")["db_query_time"].samples
    assert loaded == tuple(sorted(float(f"{s:.6g}") for s in samples))
