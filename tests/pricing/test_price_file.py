"""Issue 13 item 14 (price files): any bad file is a PricingError naming the file and the field, never a raw
InvalidOperation / ValueError / RecursionError; any JSON gives a table or a PricingError (fuzzed)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot.errors import OxbotError
from pytest_oxbot.pricing import PriceTable, PricingError

GOOD = {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07, "max_input_tokens": 128000}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({**GOOD, "input_cost_per_token": "abc"}, "input_cost_per_token"),
        ({**GOOD, "output_cost_per_token": [1]}, "output_cost_per_token"),
        ({**GOOD, "output_cost_per_token": True}, "output_cost_per_token"),
        ({**GOOD, "input_cost_per_token": "\u0661"}, "input_cost_per_token"),
        ({**GOOD, "input_cost_per_token": -1e-7}, "input_cost_per_token"),
        ({**GOOD, "input_cost_per_token": 2.5}, "input_cost_per_token"),  # per million, not per token
        ({**GOOD, "cache_read_input_token_cost": {"a": 1}}, "cache_read_input_token_cost"),
        ({**GOOD, "max_input_tokens": "lots"}, "max_input_tokens"),
        ({**GOOD, "max_input_tokens": 1.5}, "max_input_tokens"),
        ({**GOOD, "max_output_tokens": -3}, "max_output_tokens"),
        ({**GOOD, "max_output_tokens": 1e300}, "max_output_tokens"),
    ],
)
def test_a_bad_field_names_the_file_the_model_and_the_field(
    tmp_path: Path, entry: dict[str, Any], field: str
) -> None:
    path = write(tmp_path, {"my-model": entry})
    with pytest.raises(PricingError) as info:
        PriceTable.from_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "'my-model'" in message
    assert field in message


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"m": ' * 50_000,
        "{not json",
        "1" * 10_000,  # longer than Python's integer digit limit
        json.dumps(["not", "an", "object"]),
        "\ufeff{}",
    ],
)
def test_junk_and_hostile_nesting_are_a_pricing_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PricingError, match=str(path).replace("\\", "\\\\")):
        PriceTable.from_file(path)


def test_a_file_that_is_not_utf8_or_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(b"\xff\xfe{\x00")
    with pytest.raises(PricingError, match="not UTF-8"):
        PriceTable.from_file(path)
    with pytest.raises(PricingError, match="cannot read"):
        PriceTable.from_file(tmp_path)


def test_entries_that_are_not_chat_prices_are_skipped_not_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "sample_spec": {"input_cost_per_token": "see docs"},
            "_meta": {"date": "2026"},
            "image-model": {"output_cost_per_image": 0.04},
            "unpriced": {"input_cost_per_token": None, "output_cost_per_token": None},
            "ok": {**GOOD, "max_input_tokens": "128000", "litellm_provider": 7},
        },
    )
    table = PriceTable.from_file(path)
    assert table.models() == ["ok"]
    assert table.get("ok").max_input_tokens == 128000
    assert table.get("ok").provider is None
    assert table.get("ok").input_cost_per_token == Decimal("1.5E-7")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
    | st.decimals(allow_nan=False).map(str),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
             "cache_creation_input_token_cost", "max_input_tokens", "max_output_tokens",
             "litellm_provider", "gpt-4o", "_meta", "x"]
        ) | st.text(max_size=5),
        children,
        max_size=6,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values)
def test_any_json_gives_a_table_or_a_pricing_error(data: Any) -> None:
    text = json.dumps(data, allow_nan=True)
    error: PricingError | None = None
    try:
        table = PriceTable.from_json_text(text, "fuzz.json")
    except PricingError as exc:
        error = exc
    except OxbotError as exc:  # pragma: no cover - the property: only PricingError is allowed
        pytest.fail(f"unexpected library error {exc!r}")
    if error is not None:
        assert "fuzz.json" in str(error)
        return
    for model in table.models():
        price = table.get(model)
        for value in (price.input_cost_per_token, price.output_cost_per_token):
            assert value.is_finite()
            assert 0 <= value <= 1
