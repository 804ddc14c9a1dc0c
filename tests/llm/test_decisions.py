"""Decision parsing: every shape models really answer in, and malformed output never becomes a trade."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.fakes.llm import load_nof1_conversations
from pytest_oxbot.llm.decisions import Signal, base_asset, parse_decisions

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]
LONG_BTC = {
    "signal": "buy_to_enter",
    "confidence": 0.7,
    "entry_price": 100000,
    "stop_loss": 98000,
    "profit_target": 104000,
    "leverage": 5,
    "quantity": 0.01,
    "justification": "trend {up}",
}


@pytest.mark.parametrize(
    ("raw", "base"),
    [("BTC/USDT", "BTC"), ("BTCUSDT", "BTC"), ("eth-usdt", "ETH"), ("SOL", "SOL"), ("XRP_USDT", "XRP")],
)
def test_symbol_names_are_normalised(raw: str, base: str) -> None:
    assert base_asset(raw) == base


def test_all_twelve_real_nof1_answers_parse_without_error() -> None:
    for conv in load_nof1_conversations():
        answer = conv["llm_response"]
        coins = list(answer)
        parsed = parse_decisions(json.dumps(answer), coins)
        assert parsed.errors == []
        for coin in coins:
            d = parsed[coin]
            assert d.error is None, (conv["model_id"], coin, d.error)
            assert d.signal.value == answer[coin]["signal"]
            assert d.confidence == pytest.approx(answer[coin]["confidence"])
            assert d.take_profit == Decimal(str(answer[coin]["profit_target"]))


def test_json_wrapped_in_prose_and_code_fence_with_braces_in_the_reasoning() -> None:
    text = (
        "Thinking... the set {BTC, ETH} looks strong; a dict like {oops} is not JSON.\n"
        "```json\n" + json.dumps({"BTC": LONG_BTC}) + "\n```\nDone {really}."
    )
    parsed = parse_decisions(text, ["BTC/USDT"])
    d = parsed["BTC/USDT"]
    assert d.signal is Signal.BUY_TO_ENTER
    assert d.error is None
    assert d.is_trade
    assert d.stop_loss == Decimal("98000")
    assert d.justification == "trend {up}"


def test_bare_json_after_prose_without_fence() -> None:
    text = "Here is my decision: " + json.dumps({"BTC": LONG_BTC}) + " -- end"
    assert parse_decisions(text, ["BTC"])["BTC"].is_trade


@pytest.mark.parametrize(
    "wrapped",
    [
        {"decisions": {"BTC": LONG_BTC}},
        {"decisions": [{**LONG_BTC, "symbol": "BTC/USDT"}]},
        [{**LONG_BTC, "coin": "BTC"}],
        {**LONG_BTC, "symbol": "BTCUSDT"},
    ],
)
def test_decisions_wrapper_and_list_shapes(wrapped: object) -> None:
    assert parse_decisions(json.dumps(wrapped), ["BTC/USDT"])["BTC/USDT"].is_trade


def test_missing_symbol_becomes_hold_with_error() -> None:
    parsed = parse_decisions(json.dumps({"BTC": LONG_BTC}), SYMBOLS)
    assert parsed["BTC/USDT"].is_trade
    for sym in SYMBOLS[1:]:
        assert parsed[sym].signal is Signal.HOLD
        assert parsed[sym].error == "missing from the answer"
    assert list(parsed.decisions) == SYMBOLS


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"stop_loss": 101000}, "stop loss"),  # SL above entry on a long
        ({"profit_target": 99000}, "take profit"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": -0.1}, "confidence"),
        ({"signal": "buy_the_dip"}, "unknown signal"),
        ({"signal": None}, "no signal"),
        ({"leverage": 0}, "leverage"),
        ({"quantity": -1}, "quantity"),
        ({"stop_loss": "cheap"}, "not a number"),
    ],
)
def test_invalid_decision_becomes_hold_with_error(change: dict[str, object], reason: str) -> None:
    d = parse_decisions(json.dumps({"BTC": {**LONG_BTC, **change}}), ["BTC"])["BTC"]
    assert d.signal is Signal.HOLD
    assert not d.is_trade
    assert d.error is not None
    assert reason in d.error


def test_short_sides_are_checked_against_the_current_price_when_no_entry_is_given() -> None:
    short = {"signal": "sell_to_enter", "confidence": 0.6, "stop_loss": 95, "profit_target": 90}
    bad = parse_decisions(json.dumps({"SOL": short}), ["SOL/USDT"], prices={"SOLUSDT": "100"})["SOL/USDT"]
    assert bad.error is not None
    assert "wrong side" in bad.error
    good = {**short, "stop_loss": 105}
    assert parse_decisions(json.dumps({"SOL": good}), ["SOL/USDT"], prices={"SOL/USDT": 100})[
        "SOL/USDT"
    ].is_trade


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I would hold everything.",
        '{"BTC": {"signal": "buy_to_enter", "confidence": 0.9, "stop_lo',
        "```json\n{broken}\n```",
        "null",
        "[1, 2, 3]",
        '{"BTC": "buy"}',
    ],
)
def test_malformed_output_never_becomes_a_trade(text: str) -> None:
    parsed = parse_decisions(text, SYMBOLS)
    assert parsed.trades == []
    assert all(d.signal is Signal.HOLD and d.error for d in parsed.decisions.values())


def test_numbers_keep_their_digits() -> None:
    d = parse_decisions('{"BTC": {"signal": "close", "confidence": 0.5, "stop_loss": 112152.48}}', ["BTC"])[
        "BTC"
    ]
    assert d.stop_loss == Decimal("112152.48")
    assert d.signal is Signal.CLOSE
    assert d.is_trade


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list('{}[]":,. BTCbuy_toenhldsigal0123456789-')), max_size=200))
def test_arbitrary_text_never_raises_and_any_trade_is_valid(text: str) -> None:
    parsed = parse_decisions(text, ["BTC", "ETH"])
    for d in parsed.trades:
        assert d.error is None
        assert 0 <= d.confidence <= 1
        if d.signal is Signal.BUY_TO_ENTER and d.stop_loss is not None and d.take_profit is not None:
            assert d.stop_loss < d.take_profit
