"""Decision parsing: every shape models really answer in, and malformed output never becomes a trade."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.errors import SettingsError
from pytest_oxbot.fakes.llm import load_nof1_conversations
from pytest_oxbot.llm.decisions import DecisionLimits, Signal, base_asset, parse_decisions

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


# -- issue 13, item 1: SL/TP against the current price too; an entry far from the market is HOLD --------


def test_an_entry_far_from_the_market_is_hold_even_when_sl_and_tp_fit_the_claimed_entry() -> None:
    answer = {"BTC": {"signal": "buy_to_enter", "entry_price": 200000, "stop_loss": 150000,
                      "profit_target": 250000, "confidence": 0.8}}  # fmt: skip
    d = parse_decisions(json.dumps(answer), ["BTC/USDT"], prices={"BTC/USDT": "97000"})["BTC/USDT"]
    assert not d.is_trade
    assert d.error is not None
    assert "from the current price 97000" in d.error


def test_with_a_wide_entry_band_the_stop_is_still_checked_against_the_current_price() -> None:
    answer = {"BTC": {"signal": "buy_to_enter", "entry_price": 200000, "stop_loss": 150000,
                      "profit_target": 250000}}  # fmt: skip
    wide = DecisionLimits(max_entry_deviation=Decimal(2), max_level_distance=Decimal("0.99"))
    d = parse_decisions(json.dumps(answer), ["BTC"], prices={"BTC": 97000}, limits=wide)["BTC"]
    assert not d.is_trade
    assert d.error is not None
    assert "stop loss 150000 on the wrong side" in d.error


@pytest.mark.parametrize(
    ("entry", "stop", "target", "reason"),
    [
        (97500, 97200, 99000, "stop loss 97200 on the wrong side"),  # below the entry, above the market
        (96500, 95000, 96800, "take profit 96800 on the wrong side"),  # above the entry, below the market
    ],
)
def test_a_long_needs_its_levels_beyond_both_entry_and_market(
    entry: int, stop: int, target: int, reason: str
) -> None:
    answer = {"BTC": {"signal": "buy_to_enter", "entry_price": entry, "stop_loss": stop, "tp": target}}
    d = parse_decisions(json.dumps(answer), ["BTC"], prices={"BTCUSDT": 97000})["BTC"]
    assert d.error is not None
    assert reason in d.error


def test_a_limit_entry_near_the_market_with_sane_levels_is_a_trade() -> None:
    answer = {"BTC": {"signal": "buy_to_enter", "entry_price": 96500, "stop_loss": 95000, "tp": 99000}}
    d = parse_decisions(json.dumps(answer), ["BTC"], prices={"BTC": 97000})["BTC"]
    assert d.is_trade, d.error


# -- item 2: ambiguous answers are HOLD; the final object wins over examples only by the documented rule --


BUY = {"signal": "buy_to_enter", "confidence": 0.7, "stop_loss": 95000, "profit_target": 100000}
HOLD = {"signal": "hold", "confidence": 0.5}


def test_an_example_before_the_final_answer_is_not_traded_on() -> None:
    text = 'Example: {"BTC": ' + json.dumps(BUY) + '}\n...\nfinal answer: {"BTC": ' + json.dumps(HOLD) + "}"
    d = parse_decisions(text, ["BTC"], prices={"BTC": 97000})["BTC"]
    assert d.signal is Signal.HOLD
    assert d.error is None  # the final answer is a clean HOLD: the example was set aside by the rule


def test_the_final_answer_wins_over_an_earlier_reading_when_marked() -> None:
    text = (
        '{"BTC": ' + json.dumps(HOLD) + '}\nOn reflection.\nFinal decision:\n{"BTC": ' + json.dumps(BUY) + "}"
    )
    d = parse_decisions(text, ["BTC"], prices={"BTC": 97000})["BTC"]
    assert d.is_trade, d.error


def test_two_unmarked_objects_that_disagree_are_hold_with_an_error() -> None:
    text = 'First: {"BTC": ' + json.dumps(BUY) + '} then {"BTC": ' + json.dumps(HOLD) + "}"
    parsed = parse_decisions(text, ["BTC/USDT"], prices={"BTC/USDT": 97000})
    d = parsed["BTC/USDT"]
    assert d.signal is Signal.HOLD
    assert d.error is not None
    assert "conflicting decisions for BTC/USDT" in d.error
    assert any("conflicting" in e for e in parsed.errors)


def test_two_objects_that_agree_are_one_decision() -> None:
    text = json.dumps({"BTC": BUY}) + "\nagain, in a fence:\n```json\n" + json.dumps({"BTC": BUY}) + "\n```"
    assert parse_decisions(text, ["BTC"], prices={"BTC": 97000})["BTC"].is_trade


@pytest.mark.parametrize(
    "text",
    [
        '{"BTC": ' + json.dumps(BUY) + ', "BTC": ' + json.dumps(HOLD) + "}",  # duplicate keys
        json.dumps([{**BUY, "symbol": "BTC"}, {**HOLD, "symbol": "BTC"}]),  # duplicate list entries
        json.dumps({"BTC": BUY, "BTCUSDT": HOLD}),  # two spellings of one symbol
        json.dumps({"decisions": [{**BUY, "coin": "BTC"}], "BTC/USDT": HOLD}),  # wrapper and map
    ],
)
def test_conflicting_decisions_for_one_symbol_in_one_object_are_hold(text: str) -> None:
    parsed = parse_decisions(text, ["BTC/USDT", "ETH/USDT"], prices={"BTC/USDT": 97000})
    assert parsed["BTC/USDT"].signal is Signal.HOLD
    assert parsed["BTC/USDT"].error is not None
    assert "conflicting" in parsed["BTC/USDT"].error
    assert parsed.trades == []


def test_a_field_given_twice_with_different_values_is_hold() -> None:
    text = '{"BTC": {"signal": "buy_to_enter", "signal": "sell_to_enter", "confidence": 0.6}}'
    d = parse_decisions(text, ["BTC"])["BTC"]
    assert d.error is not None
    assert "'signal' given twice" in d.error


@pytest.mark.parametrize("key", ["BTC/EUR", "BTCEUR", "btc-eur", "BTC/USD"])
def test_another_quote_currency_is_not_the_same_symbol(key: str) -> None:
    d = parse_decisions(json.dumps({key: BUY}), ["BTC/USDT"], prices={"BTC/USDT": 97000})["BTC/USDT"]
    assert d.signal is Signal.HOLD
    assert d.error == "missing from the answer"


@pytest.mark.parametrize("key", ["BTC", "BTCUSDT", "BTC/USDT", "btc-usdt", "BTC/USDT:USDT"])
def test_spellings_of_the_same_market_match(key: str) -> None:
    d = parse_decisions(json.dumps({key: BUY}), ["BTC/USDT"], prices={"BTC/USDT": 97000})["BTC/USDT"]
    assert d.is_trade, d.error


def test_a_requested_bare_coin_matches_any_quote_and_wbtc_is_not_btc() -> None:
    assert parse_decisions(json.dumps({"BTCEUR": BUY}), ["BTC"], prices={"BTC": 97000})["BTC"].is_trade
    assert parse_decisions(json.dumps({"WBTC": BUY}), ["BTC"])["BTC"].error == "missing from the answer"


# -- item 3: limits with defaults and explicit options ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"leverage": 1000}, "leverage 1000 outside 1..20"),
        ({"quantity": 0}, "quantity must be positive"),
        ({"profit_target": "1E+400"}, "take_profit is out of any sane range"),
        ({"profit_target": "1E+20"}, "take profit 1E+20 is"),
        ({"stop_loss": 1}, "stop loss 1 is"),  # within the side, far outside the band
    ],
)
def test_limits_demote_absurd_trades(change: dict[str, object], reason: str) -> None:
    answer = {"BTC": {**LONG_BTC, **change}}
    d = parse_decisions(json.dumps(answer), ["BTC"], prices={"BTC": 100000})["BTC"]
    assert not d.is_trade
    assert d.error is not None
    assert reason in d.error


def test_take_profit_far_away_without_any_reference_price_is_hold() -> None:
    answer = {"BTC": {"signal": "buy_to_enter", "stop_loss": 98000, "profit_target": "1E+400"}}
    d = parse_decisions(json.dumps(answer), ["BTC"])["BTC"]
    assert not d.is_trade


def test_explicit_limits_widen_or_narrow_the_defaults() -> None:
    answer = json.dumps({"BTC": {**LONG_BTC, "leverage": 100, "quantity": 5}})
    assert not parse_decisions(answer, ["BTC"], prices={"BTC": 100000})["BTC"].is_trade
    loose = DecisionLimits(max_leverage=Decimal(125))
    assert parse_decisions(answer, ["BTC"], prices={"BTC": 100000}, limits=loose)["BTC"].is_trade
    tight = DecisionLimits(max_leverage=Decimal(125), max_quantity=Decimal(1))
    d = parse_decisions(answer, ["BTC"], prices={"BTC": 100000}, limits=tight)["BTC"]
    assert d.error is not None
    assert "above the limit 1" in d.error
    strict = DecisionLimits(require_price=True)
    assert not parse_decisions(json.dumps({"BTC": LONG_BTC}), ["BTC"], limits=strict)["BTC"].is_trade


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_leverage": Decimal(0)},
        {"max_leverage": 20},
        {"max_entry_deviation": Decimal("NaN")},
        {"max_level_distance": Decimal(1)},
        {"max_quantity": Decimal(-1)},
        {"max_answer_chars": 0},
    ],
)
def test_bad_limits_are_a_settings_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(SettingsError, match="DecisionLimits"):
        DecisionLimits(**kwargs)  # type: ignore[arg-type]


# -- item 4: hostile nesting never raises; an unusable price names its symbol ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000,
        "[" * 1000 + json.dumps({"BTC": LONG_BTC}),
        '{"a":' * 5000,
        '{"decisions": ' * 400 + json.dumps({"BTC": LONG_BTC}) + "}" * 400,
        '{"BTC": {"signal": "buy_to_enter", "x": ' + "[" * 3000 + "]" * 3000 + "}}",
    ],
)
def test_deep_nesting_never_raises(text: str) -> None:
    parsed = parse_decisions(text, ["BTC", "ETH"])
    assert set(parsed.decisions) == {"BTC", "ETH"}
    assert parsed["ETH"].signal is Signal.HOLD


def test_hostile_nesting_is_given_up_quickly_and_said_so() -> None:
    parsed = parse_decisions("[" * 50_000 + " " + json.dumps({"BTC": LONG_BTC}), ["BTC"])
    assert not parsed["BTC"].is_trade  # an answer behind 50k brackets is junk, not a trade
    assert any("nested too deeply" in e for e in parsed.errors)
    shallow = parse_decisions("[" * 50 + " " + json.dumps({"BTC": LONG_BTC}), ["BTC"])
    assert shallow["BTC"].is_trade, shallow["BTC"].error


@pytest.mark.parametrize("bad", [None, "abc", "-1", "0", "NaN", "\u0661\u0662", [1]])
def test_an_unusable_current_price_makes_that_symbols_entries_hold_naming_it(bad: object) -> None:
    answer = {"BTC": LONG_BTC, "ETH": {**LONG_BTC, "entry_price": 3500, "stop_loss": 3400,
                                       "profit_target": 3700}}  # fmt: skip
    parsed = parse_decisions(json.dumps(answer), ["BTC/USDT", "ETH/USDT"],
                             prices={"BTC/USDT": bad, "ETH/USDT": "3500"})  # fmt: skip
    btc = parsed["BTC/USDT"]
    assert not btc.is_trade
    assert btc.error is not None
    assert "BTC/USDT" in btc.error
    assert parsed["ETH/USDT"].is_trade


def test_an_overlong_answer_is_not_searched() -> None:
    text = json.dumps({"BTC": LONG_BTC}) + " " * 200
    parsed = parse_decisions(text, ["BTC"], limits=DecisionLimits(max_answer_chars=100))
    assert not parsed["BTC"].is_trade
    assert "characters" in (parsed["BTC"].error or "")
