"""Issue 13 item 14 (cassettes): a tampered cassette is a FakeError naming the file and the field at load
(and a usage error through the plugin), never a raw JSONDecodeError / KeyError / RecursionError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.cassette import Cassette, CassetteEntry, CassetteError

ENTRY = {"model": "gpt-4o-mini", "response": {"id": "x", "choices": []}, "latency_s": 0.4, "recorded_at": 1.0}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "llm.cassette.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"version": 1, "entries": {"abc": ', "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ("[1, 2]", "expected an object"),
        ({"version": 2, "entries": {}}, "field 'version' is 2"),
        ({"version": 1, "entries": []}, "field 'entries'"),
        ({"version": 1, "entries": {"abc": 5}}, "entry 'abc' must be an object"),
        ({"version": 1, "entries": {"abc": {k: v for k, v in ENTRY.items() if k != "model"}}}, "'model'"),
        ({"version": 1, "entries": {"abc": {**ENTRY, "response": "gone"}}}, "'response'"),
        ({"version": 1, "entries": {"abc": {**ENTRY, "latency_s": "fast"}}}, "'latency_s'"),
        ({"version": 1, "entries": {"abc": {**ENTRY, "latency_s": -1}}}, "'latency_s'"),
        ({"version": 1, "entries": {"abc": {**ENTRY, "recorded_at": None}}}, "'recorded_at'"),
    ],
)
def test_a_tampered_cassette_names_the_file_and_the_field(tmp_path: Path, content: Any, says: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(CassetteError) as info:
        Cassette(path)
    assert isinstance(info.value, FakeError)
    assert str(path) in str(info.value)
    assert says in str(info.value)


def test_a_good_cassette_still_loads_and_refusing_a_secret_is_a_fake_error(tmp_path: Path) -> None:
    path = write(tmp_path, {"version": 1, "entries": {"abc": ENTRY}})
    cassette = Cassette(path, secrets=["sk-secret-1234"])
    assert cassette.get("abc").latency_s == 0.4
    with pytest.raises(CassetteError, match="secret"):
        cassette.put("k", CassetteEntry("gpt-4o-mini", {"echo": "sk-secret-1234"}, 0.1, 1.0))


def test_the_plugin_turns_a_tampered_cassette_into_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "c.json").write_text('{"version": 1, "entries": {"abc": {"model": "m"}}}')
    result = pytester.runpytest("--oxbot-llm-cassette", "c.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--oxbot-llm-cassette: cassette*c.json*lacks field 'response'*"])


def test_the_plugin_names_the_field_of_a_bad_price_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "p.json").write_text(
        json.dumps({"m": {"input_cost_per_token": "abc", "output_cost_per_token": 1e-7}})
    )
    result = pytester.runpytest("--oxbot-prices", "p.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--oxbot-prices: price file p.json: model 'm': input_cost_per_token*"])
