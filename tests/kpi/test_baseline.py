"""Baseline files: stable text, strict reading, history archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_oxbot.kpi import baseline as bl
from pytest_oxbot.kpi.errors import BaselineError


def _sample() -> bl.Baseline:
    return bl.Baseline(
        {"python": "3.11", "cpu_count": "2"},
        {
            "t.py::b": {"prompt_tokens": bl.BaselineEntry(2400, "tokens")},
            "t.py::a": {"db_query_time": bl.BaselineEntry(0.0123456789123, "s", (0.01, 0.02))},
        },
    )


def test_round_trip_and_stable_sorted_text(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    bl.save(path, _sample(), archive=False)
    first = path.read_text()
    loaded = bl.load(path)
    assert loaded.entries("t.py::b")["prompt_tokens"].value == 2400
    assert loaded.entries("t.py::a")["db_query_time"].samples == (0.01, 0.02)
    bl.save(path, loaded, archive=False)
    assert path.read_text() == first
    assert first.index('"t.py::a"') < first.index('"t.py::b"')
    summary = '"n": 2, "min": 0.01, "median": 0.015, "max": 0.02, "mad": 0.005'
    assert f'"samples": {{{summary}, "kept": [0.01, 0.02]}}' in first
    assert json.loads(first)["format"] == bl.FORMAT


def test_merge_keeps_tests_not_rerun() -> None:
    newer = bl.Baseline({"python": "3.12"}, {"t.py::b": {"prompt_tokens": bl.BaselineEntry(2000, "tokens")}})
    merged = _sample().merged(newer)
    assert merged.entries("t.py::b")["prompt_tokens"].value == 2000
    assert "t.py::a" in merged.tests
    assert merged.environment == {"python": "3.12"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "corrupt: not JSON"),
        ("[]", "is not a pytest-oxbot baseline"),
        ('{"format": "other/1", "tests": {}}', "format: 'other/1'"),
        ('{"format": "pytest-oxbot-baseline/1", "tests": []}', "must be objects"),
        (
            '{"format": "pytest-oxbot-baseline/1", "tests": {"t": {"k": {"value": "x"}}}}',
            "corrupt at 't' / 'k'",
        ),
        ('{"format": "pytest-oxbot-baseline/1", "tests": {"t": {"k": {}}}}', "corrupt at 't'"),
        ('{"format": "pytest-oxbot-baseline/1", "tests": {"t": 3}}', "expected an object"),
    ],
)
def test_corrupt_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BaselineError, match=message) as info:
        bl.load(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="does not exist"):
        bl.load(tmp_path / "nope.json")


def test_history_is_archived_and_read_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    for stamp, tokens in (("20260102T000000Z", 2100), ("20260101T000000Z", 2000)):
        base = _sample()
        base.saved_at = stamp
        base.tests["t.py::b"]["prompt_tokens"] = bl.BaselineEntry(tokens, "tokens")
        archived = bl.save(path, base)
        assert archived is not None
        assert archived.exists()
    (bl.history_dir(path) / "base-20260103T000000Z.json").write_text("garbage")
    history = bl.load_history(path)
    assert [stamp for stamp, _ in history] == ["20260101T000000Z", "20260102T000000Z"]
    assert [b.entries("t.py::b")["prompt_tokens"].value for _, b in history] == [2000, 2100]


def test_version_1_files_read_as_one_run(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        '{"format": "pytest-oxbot-baseline/1", "environment": {}, '
        '"tests": {"t": {"db_query_time": {"unit": "s", "value": 0.01, "samples": [0.01, 0.011]}}}}'
    )
    entry = bl.load(path).entries("t")["db_query_time"]
    assert (entry.value, entry.samples, entry.runs) == (0.01, (0.01, 0.011), ())


def test_updating_appends_runs_of_wall_clock_kpis_and_keeps_the_last_few() -> None:
    base = bl.Baseline(
        {},
        {
            "t": {
                "db_query_time": bl.BaselineEntry(0.010, "s"),
                "prompt_tokens": bl.BaselineEntry(10, "tokens"),
            }
        },
    )
    for value in (0.011, 0.012, 0.013, 0.014, 0.015):
        newer = bl.Baseline(
            {},
            {
                "t": {
                    "db_query_time": bl.BaselineEntry(value, "s", (), (value,)),
                    "prompt_tokens": bl.BaselineEntry(11, "tokens"),
                }
            },
        )
        base = base.merged(newer, keep_runs=5)
    entry = base.entries("t")["db_query_time"]
    assert entry.value == 0.015
    assert entry.runs == (0.011, 0.012, 0.013, 0.014, 0.015)
    assert base.entries("t")["prompt_tokens"] == bl.BaselineEntry(11, "tokens")
    text = bl.to_json(base)
    assert '"runs": [0.011, 0.012, 0.013, 0.014, 0.015]' in text
    assert bl.from_json(text).entries("t")["db_query_time"].runs == entry.runs
