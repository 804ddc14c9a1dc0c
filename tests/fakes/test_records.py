"""Pricing any client: record_usage from every usage shape or counts; record_decision's strict types."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from pytest_oxbot.errors import UnknownModelError
from pytest_oxbot.fakes.llm import FakeLLMProvider, RecordError
from pytest_oxbot.pricing import PriceTable, TokenUsage

TABLE = PriceTable.shipped()


@pytest.fixture
def fake() -> FakeLLMProvider:
    return FakeLLMProvider(price_table=TABLE)


def test_record_usage_by_counts_is_the_price_table_exactly(fake: FakeLLMProvider) -> None:
    cost = fake.record_usage(
        model="gpt-4o-mini", prompt_tokens=1200, completion_tokens=150, cached_tokens=1000
    )
    price = TABLE.get("gpt-4o-mini")
    expected = (
        price.input_cost_per_token * 200
        + price.cache_read_input_token_cost * 1000
        + price.output_cost_per_token * 150
    )
    assert cost == expected
    assert isinstance(cost, Decimal)
    assert fake.decisions[-1].usage == TokenUsage(200, 150, 1000)


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        (  # OpenAI: cached tokens are inside prompt_tokens; details may be null
            "gpt-4o",
            {
                "prompt_tokens": 2000,
                "completion_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
            TokenUsage(976, 100, 1024),
        ),
        (
            "gpt-4o",
            {"prompt_tokens": 20, "completion_tokens": 1, "prompt_tokens_details": None},
            TokenUsage(20, 1),
        ),
        (  # DeepSeek: hit + miss = prompt
            "deepseek-chat",
            {
                "prompt_tokens": 900,
                "completion_tokens": 80,
                "prompt_cache_hit_tokens": 600,
                "prompt_cache_miss_tokens": 300,
            },
            TokenUsage(300, 80, 600),
        ),
        (  # Anthropic: cache reads and writes are added to input_tokens
            "claude-3-5-haiku-20241022",
            {
                "input_tokens": 50,
                "output_tokens": 30,
                "cache_read_input_tokens": 400,
                "cache_creation_input_tokens": 10,
            },
            TokenUsage(50, 30, 400, 10),
        ),
    ],
)
def test_record_usage_reads_every_providers_usage_shape(
    fake: FakeLLMProvider, model: str, usage: dict[str, object], expected: TokenUsage
) -> None:
    cost = fake.record_usage(model, usage)
    assert fake.decisions[-1].usage == expected
    assert cost == TABLE.cost(model, expected).total


def test_record_usage_takes_the_openai_sdks_usage_object(fake: FakeLLMProvider) -> None:
    types = pytest.importorskip("openai.types")
    usage = types.CompletionUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    assert fake.record_usage("gpt-4o-mini", usage) == TABLE.cost("gpt-4o-mini", TokenUsage(10, 5)).total


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt_tokens": 12.5, "completion_tokens": 1}, "prompt_tokens must be a whole number"),
        ({"prompt_tokens": True, "completion_tokens": 1}, "prompt_tokens must be a whole number"),
        ({"prompt_tokens": 10, "completion_tokens": -1}, "completion_tokens must be a whole number"),
        ({"prompt_tokens": 10, "completion_tokens": 1, "cached_tokens": 11}, "exceed prompt_tokens"),
        ({"prompt_tokens": 10}, "needs the provider's usage block"),
        ({"usage": {"prompt_tokens": 1.5, "completion_tokens": 1}}, "whole number"),
        ({"usage": "12 tokens"}, "usage must be a provider's usage block"),
        ({"usage": {"prompt_tokens": 1}, "prompt_tokens": 1, "completion_tokens": 1}, "not both"),
    ],
)
def test_record_usage_refuses_what_it_cannot_price_exactly(
    fake: FakeLLMProvider, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        fake.record_usage("gpt-4o-mini", **kwargs)  # type: ignore[arg-type]
    assert fake.decisions == []


def test_record_usage_of_an_unpriced_model_is_an_error_not_free(fake: FakeLLMProvider) -> None:
    with pytest.raises(UnknownModelError, match="no price for model 'house-model'"):
        fake.record_usage("house-model", prompt_tokens=1, completion_tokens=1)


def test_record_decision_rejects_a_float_cost_at_the_call() -> None:
    fake = FakeLLMProvider()
    with pytest.raises(RecordError, match=r"cost must be a Decimal, not float 0.00074.*Decimal\('0.00074'\)"):
        fake.record_decision(SimpleNamespace(cost=0.00074))
    with pytest.raises(TypeError):  # RecordError is a TypeError too
        fake.record_decision({"cost": 0.1})
    for bad in (
        SimpleNamespace(cost=True),
        {"cost": "abc"},
        {"cost": Decimal("-1")},
        {"cost": Decimal("NaN")},
    ):
        with pytest.raises(RecordError):
            fake.record_decision(bad)
    with pytest.raises(
        RecordError, match="takes a DecisionResult or an object/mapping with a Decimal `cost`"
    ):
        fake.record_decision(42)
    assert fake.decisions == []


def test_record_decision_accepts_what_it_documents() -> None:
    fake = FakeLLMProvider()
    assert fake.record_decision(SimpleNamespace(cost=Decimal("0.00074"))) == Decimal("0.00074")
    assert fake.record_decision({"cost": Decimal(0)}) == 0  # a cache hit: a decision that cost nothing
    assert fake.record_decision({"cost": "0.0001", "model": "gpt-4o"}) == Decimal("0.0001")
    assert [d.model for d in fake.decisions] == [None, None, "gpt-4o"]
