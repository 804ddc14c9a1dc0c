"""The compact answer contract: a valid strict schema, answers that round-trip through the decision parser,
and far fewer output tokens than a nof1-style answer for the same decisions."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest

from pytest_oxbot.fakes.llm import load_nof1_conversations
from pytest_oxbot.llm.contract import AnswerContract, response_format_mode
from pytest_oxbot.llm.decisions import Signal, parse_decisions
from pytest_oxbot.tokens import count_tokens

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]
PRICES = {
    "BTC": Decimal(95000),
    "ETH": Decimal(3500),
    "SOL": Decimal(150),
    "BNB": Decimal(600),
    "XRP": Decimal(2),
    "DOGE": Decimal("0.2"),
}


def _nof1_answer() -> dict[str, dict[str, object]]:
    """A real nof1 answer with one entry turned into a trade (the shipped ones are all holds)."""
    answer = dict(load_nof1_conversations()[4]["llm_response"])
    coins = [k for k, v in answer.items() if isinstance(v, dict)]
    first = dict(answer[coins[0]])
    price = float(PRICES[coins[0]])
    first.update(
        signal="buy_to_enter", quantity=0.01, stop_loss=price * 0.95, profit_target=price * 1.05, leverage=3
    )
    answer[coins[0]] = first
    return {k: v for k, v in answer.items() if isinstance(v, dict)}


def test_the_schema_is_strict_and_valid() -> None:
    contract = AnswerContract.for_symbols(SYMBOLS)
    schema = contract.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["BTC", "ETH", "SOL", "BNB", "XRP"]
    decision = schema["properties"]["BTC"]
    assert decision["additionalProperties"] is False
    assert set(decision["required"]) == set(decision["properties"])  # OpenAI strict mode needs every key
    assert "why" not in decision["properties"]
    assert (
        "why"
        in AnswerContract.for_symbols(SYMBOLS, justification=True).json_schema()["properties"]["BTC"][
            "required"
        ]
    )


def test_a_compact_answer_validates_and_parses_to_the_same_decisions() -> None:
    answer = _nof1_answer()
    coins = [base for base in answer]
    contract = AnswerContract.for_symbols(coins)
    compact = contract.compact(answer)
    jsonschema.validate(compact, contract.json_schema())
    prices = {
        "BTC": Decimal(95000),
        "ETH": Decimal(3500),
        "SOL": Decimal(150),
        "BNB": Decimal(600),
        "XRP": Decimal(2),
    }
    via_contract = parse_decisions(contract.expand(json.loads(json.dumps(compact))), coins, prices)
    direct = parse_decisions(answer, coins, prices)
    for coin in coins:
        a, b = via_contract[coin], direct[coin]
        assert a.signal is b.signal
        assert a.error == b.error
        if b.is_trade:  # what the bot acts on is identical; a hold carries nothing to act on
            assert (a.quantity, a.stop_loss, a.take_profit, a.leverage) == (
                b.quantity,
                b.stop_loss,
                b.take_profit,
                b.leverage,
            )
    assert via_contract[coins[0]].signal is Signal.BUY_TO_ENTER
    assert via_contract[coins[0]].is_trade


def test_compact_answers_cost_far_fewer_output_tokens() -> None:
    saved = []
    for conversation in load_nof1_conversations():
        answer = {k: v for k, v in conversation["llm_response"].items() if isinstance(v, dict)}
        contract = AnswerContract.for_symbols(list(answer))
        nof1 = count_tokens(json.dumps(answer, separators=(",", ":")), "gpt-4o-mini")
        compact = count_tokens(json.dumps(contract.compact(answer), separators=(",", ":")), "gpt-4o-mini")
        saved.append(1 - compact / nof1)
    assert min(saved) >= 0.5, saved


def test_expand_leaves_other_shapes_alone_and_bad_actions_are_refused_by_the_parser() -> None:
    contract = AnswerContract.for_symbols(["BTC"])
    nof1 = {"BTC": {"signal": "hold", "confidence": 0.5}}
    assert contract.expand(nof1) == nof1
    assert contract.expand("not json") == "not json"
    parsed = parse_decisions(contract.expand({"BTC": {"a": "moon", "c": 0.9}}), ["BTC"])
    assert parsed["BTC"].signal is Signal.HOLD
    assert parsed["BTC"].error is not None


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("gpt-4o-mini", "json_schema"),
        ("openai/gpt-4o-2024-08-06", "json_schema"),
        ("gpt-5", "json_schema"),
        ("o3-mini", "json_schema"),
        ("deepseek-chat", "json_object"),
        ("deepseek/deepseek-chat", "json_object"),
        ("qwen3-max", "json_object"),
        ("claude-sonnet-4-5", "none"),
        ("gemini-2.5-pro", "none"),
    ],
)
def test_response_format_by_provider(model: str, mode: str) -> None:
    assert response_format_mode(model) == mode
    contract = AnswerContract.for_symbols(["BTC"])
    fmt = contract.response_format(response_format_mode(model))
    if mode == "none":
        assert fmt is None
    else:
        assert fmt is not None
        assert fmt["type"] == mode


def test_instructions_name_every_key_and_symbol() -> None:
    text = AnswerContract.for_symbols(SYMBOLS).instructions()
    for needle in ('"a"', '"c"', '"q"', '"sl"', '"tp"', '"lev"', "JSON only", "BTC", "XRP", "Do not copy"):
        assert needle in text
