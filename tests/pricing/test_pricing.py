"""Prices and cost from usage: the pitfalls of DESIGN.md's cost list, on real answer shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.fakes.llm import load_reference_response
from pytest_oxbot.pricing import (
    MalformedUsageError,
    PriceTable,
    PricingError,
    TokenUsage,
    UnknownModelError,
    default_price_table,
    usage_from_response,
)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.shipped()


def test_real_openai_response_cost_matches_its_usage_and_the_table(table: PriceTable) -> None:
    body = load_reference_response()
    usage = usage_from_response(body["usage"])
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (28, 0, 10)
    cost = table.cost(body["model"], usage).total
    # gpt-4o-2024-08-06: $2.50 / 1M input, $10.00 / 1M output (litellm's map).
    assert cost == Decimal("28") * Decimal("0.0000025") + Decimal("10") * Decimal("0.00001")
    assert cost == Decimal("0.00017")
    assert isinstance(cost, Decimal)


def test_openai_cached_tokens_are_a_subset_of_prompt_tokens(table: PriceTable) -> None:
    usage = usage_from_response(
        {"prompt_tokens": 2000, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 1536}}
    )
    assert usage.input_tokens == 464
    assert usage.cached_input_tokens == 1536
    assert usage.prompt_tokens == 2000
    cost = table.cost("gpt-4o-mini", usage)
    assert cost.input == Decimal("464") * Decimal("1.5e-7")
    assert cost.cached_input == Decimal("1536") * Decimal("7.5e-8")
    assert cost.total < table.cost("gpt-4o-mini", TokenUsage(2000, 100)).total


@pytest.mark.parametrize("details", [None, {}, {"cached_tokens": None}])
def test_openai_prompt_tokens_details_may_be_null(details: object) -> None:
    usage = usage_from_response(
        {"prompt_tokens": 50, "completion_tokens": 5, "prompt_tokens_details": details}
    )
    assert usage == TokenUsage(input_tokens=50, output_tokens=5)


def test_cached_tokens_above_prompt_tokens_is_rejected() -> None:
    with pytest.raises(MalformedUsageError, match="subset"):
        usage_from_response(
            {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 11}}
        )


def test_deepseek_hit_and_miss_tokens(table: PriceTable) -> None:
    usage = usage_from_response(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "prompt_cache_hit_tokens": 800,
            "prompt_cache_miss_tokens": 200,
        }
    )
    assert usage.cached_input_tokens == 800
    assert usage.input_tokens == 200
    cost = table.cost("deepseek-chat", usage).total
    assert cost == 800 * Decimal("2.8e-8") + 200 * Decimal("2.8e-7") + 200 * Decimal("4.2e-7")
    with pytest.raises(MalformedUsageError):
        usage_from_response(
            {"prompt_tokens": 1000, "prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 100}
        )


def test_anthropic_cache_tokens_are_added_to_input_tokens(table: PriceTable) -> None:
    usage = usage_from_response(
        {
            "input_tokens": 100,
            "output_tokens": 50,
            "cache_read_input_tokens": 3000,
            "cache_creation_input_tokens": 500,
        }
    )
    assert usage.prompt_tokens == 3600  # not 100: cache tokens are *added*
    cost = table.cost("claude-3-5-haiku-20241022", usage)
    assert cost.input == 100 * Decimal("8e-7")
    assert cost.cached_input == 3000 * Decimal("8e-8")
    assert cost.cache_write == 500 * Decimal("1e-6")
    assert cost.output == 50 * Decimal("4e-6")


def test_unknown_model_is_an_error_never_free(table: PriceTable) -> None:
    with pytest.raises(UnknownModelError, match="no price for model 'gpt-9-ultra'"):
        table.cost("gpt-9-ultra", TokenUsage(10, 10))
    with pytest.raises(UnknownModelError):
        table.max_cost("gpt-9-ultra", 10, 10)
    assert "gpt-9-ultra" not in table


def test_gateway_prefix_is_stripped_but_nothing_fuzzier(table: PriceTable) -> None:
    assert table.get("openai/gpt-4o-mini") is table.get("gpt-4o-mini")
    with pytest.raises(UnknownModelError):
        table.get("gpt-4o-mini-2099")


def test_shipped_table_states_date_and_source() -> None:
    from importlib import resources

    data = json.loads(resources.files("pytest_oxbot").joinpath("data/prices/model_prices.json").read_text())
    assert data["_meta"]["as_of"]
    assert "litellm" in data["_meta"]["source"]


def test_user_file_in_litellm_format_overrides_and_missing_cache_rate_defaults_to_input(
    tmp_path: Path,
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "sample_spec": {
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "litellm_provider": "x",
                },
                "gpt-4o-mini": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
                "my-local-llama": {
                    "input_cost_per_token": 0,
                    "output_cost_per_token": 0,
                    "max_input_tokens": 8192,
                },
                "text-embedding-3-small": {"input_cost_per_token": 2e-08},
            }
        )
    )
    table = default_price_table(path, use_litellm=False)
    assert table.get("gpt-4o-mini").input_cost_per_token == Decimal("0.000001")
    assert table.get("gpt-4o-mini").cache_read_input_token_cost == Decimal("0.000001")  # never 0 by default
    assert table.get("my-local-llama").output_cost_per_token == 0  # an explicit zero is allowed
    assert "sample_spec" not in table
    assert "text-embedding-3-small" not in table
    assert table.get("deepseek-chat").output_cost_per_token == Decimal("4.2e-7")  # shipped entry kept


def test_bad_price_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PricingError, match="invalid JSON"):
        PriceTable.from_file(bad)
    bad.write_text(json.dumps({"m": {"input_cost_per_token": -1, "output_cost_per_token": 0}}))
    with pytest.raises(PricingError, match="non-negative"):
        PriceTable.from_file(bad)
    with pytest.raises(PricingError, match="cannot read"):
        PriceTable.from_file(tmp_path / "missing.json")


def test_prices_are_exact_decimals_from_the_json_text(table: PriceTable) -> None:
    price = table.get("gpt-4o-mini")
    assert price.input_cost_per_token == Decimal("0.00000015")
    assert 1_000_000 * price.input_cost_per_token == Decimal("0.15")


def test_max_cost_bounds_every_possible_bill(table: PriceTable) -> None:
    worst = table.max_cost("claude-3-5-haiku-20241022", 1000, 300)
    for cached in (0, 500, 1000):
        for write in (0, 1000 - cached):
            usage = TokenUsage(1000 - cached - write, 300, cached, write)
            assert table.cost("claude-3-5-haiku-20241022", usage).total <= worst


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.integers(0, 200_000),
    cached_share=st.floats(0, 1),
    completion=st.integers(0, 20_000),
    model=st.sampled_from(["gpt-4o-mini", "gpt-4o", "deepseek-chat", "gemini-2.0-flash", "gpt-4.1-nano"]),
)
def test_cost_is_linear_in_buckets_and_caching_never_costs_more(
    table: PriceTable, prompt: int, cached_share: float, completion: int, model: str
) -> None:
    cached = int(prompt * cached_share)
    usage = usage_from_response(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    )
    price = table.get(model)
    cost = table.cost(model, usage)
    assert cost.total == (
        price.input_cost_per_token * (prompt - cached)
        + price.cache_read_input_token_cost * cached
        + price.output_cost_per_token * completion
    )
    assert cost.total <= table.cost(model, TokenUsage(prompt, completion)).total
    assert cost.total <= table.max_cost(model, prompt, completion)


def test_litellm_map_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    fake_litellm = types.SimpleNamespace(
        model_cost={
            "gpt-4o-mini": {"input_cost_per_token": 2e-07, "output_cost_per_token": 8e-07},
            "brand-new-model": {"input_cost_per_token": 1e-07, "output_cost_per_token": 1e-07},
        }
    )
    monkeypatch.setitem(sys.modules, "litellm", fake_litellm)
    table = default_price_table(use_litellm=True)
    assert table.get("gpt-4o-mini").input_cost_per_token == Decimal("2e-07")  # float read exactly via str()
    assert "brand-new-model" in table
    assert "litellm.model_cost" in table.sources
    monkeypatch.setitem(sys.modules, "litellm", None)  # import fails: shipped table only
    assert default_price_table().get("gpt-4o-mini").input_cost_per_token == Decimal("1.5e-7")
