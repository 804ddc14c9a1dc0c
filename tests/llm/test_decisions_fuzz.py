"""Bounded fuzzing of the decision parser (issue 13): a few thousand generated answers, well under a minute.

Properties: nothing raises but the library's own errors (in fact nothing raises at all); no decision is a
trade unless it passes every documented check (re-stated here independently of the parser); two
readings of one symbol that disagree are never traded on.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot.llm.decisions import DEFAULT_LIMITS, Decision, DecisionLimits, Signal, parse_decisions

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
PRICES = {"BTC/USDT": Decimal("97000"), "ETH/USDT": Decimal("3500")}
FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(
    st.integers(-10, 300_000),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1, max_value=300_000),
    st.sampled_from(["1E+400", "1e9", "-0", "0", "NaN", "Infinity", "abc", "\u0661\u0662", "", "97000"]),
    st.sampled_from([96000, 97000, 98000, 100000, 3400, 3500, 3600, 1000, 0.5, 1, 20, 21, 125, 1000]),
    st.none(),
    st.booleans(),
)
signals = st.one_of(
    st.sampled_from(["buy_to_enter", "sell_to_enter", "close", "hold", "BUY_TO_ENTER", " hold "]),
    st.text(max_size=12),
    st.none(),
    st.integers(),
)
field_names = st.sampled_from(
    ["signal", "action", "confidence", "entry_price", "entry", "price", "stop_loss", "sl", "take_profit",
     "profit_target", "tp", "leverage", "quantity", "qty", "justification", "junk"]
)  # fmt: skip


def decision_items() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"signal": signals},
        optional={
            "confidence": st.one_of(numbers, st.floats(allow_nan=False, allow_infinity=False)),
            "entry_price": numbers,
            "stop_loss": numbers,
            "profit_target": numbers,
            "leverage": numbers,
            "quantity": numbers,
            "justification": st.text(max_size=20),
        },
    )


keys = st.sampled_from(
    ["BTC", "BTCUSDT", "BTC/USDT", "btc-usdt", "BTC/EUR", "ETH", "ETHUSDT", "ETH/BTC", "X"]
)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


@st.composite
def answers(draw: st.DrawFn) -> str:
    """Shapes models use, with prose, markers, duplicates and breakage mixed in."""
    objects = []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from(["map", "list", "wrapper", "single"]))
        entries = draw(st.lists(st.tuples(keys, decision_items()), min_size=1, max_size=3))
        if shape == "map":
            text = "{" + ",".join(f"{_json(k)}: {_json(v)}" for k, v in entries) + "}"  # duplicates kept
        elif shape == "list":
            text = _json([{**v, "symbol": k} for k, v in entries])
        elif shape == "wrapper":
            text = _json({"decisions": [{**v, "coin": k} for k, v in entries]})
        else:
            k, v = entries[0]
            text = _json({**v, "symbol": k})
        lead = draw(st.sampled_from(["", "Example: ", "final answer: ", "```json\n", "Reasoning {x}. "]))
        cut = draw(st.sampled_from([None, None, None, 0.5, 0.9]))
        if cut is not None:
            text = text[: int(len(text) * cut)]
        objects.append(lead + text)
    return draw(st.sampled_from(["\n", " ... ", "\n\n"])).join(objects)


def assert_trade_passes_the_documented_checks(
    d: Decision, price: Decimal | None, limits: DecisionLimits = DEFAULT_LIMITS
) -> None:
    """docs/llm.md, "Checks a trade passes", restated independently of the parser."""
    assert d.error is None
    assert d.signal is not Signal.HOLD
    assert 0 <= d.confidence <= 1
    for level in (d.entry_price, d.stop_loss, d.take_profit):
        assert level is None or (level.is_finite() and level > 0)
    assert d.leverage is None or 1 <= d.leverage <= limits.max_leverage
    assert d.quantity is None or d.quantity > 0
    if d.signal is Signal.CLOSE:
        return
    long = d.signal is Signal.BUY_TO_ENTER
    if d.entry_price is not None and price is not None:
        assert abs(d.entry_price - price) / price <= limits.max_entry_deviation
    refs = [p for p in (d.entry_price, price) if p is not None]
    anchor = price if price is not None else d.entry_price
    for level, below in ((d.stop_loss, long), (d.take_profit, not long)):
        if level is None or not refs:
            continue
        assert level < min(refs) if below else level > max(refs)
        assert anchor is not None
        assert abs(level - anchor) / anchor <= limits.max_level_distance
    if not refs and d.stop_loss is not None and d.take_profit is not None:
        assert d.stop_loss < d.take_profit if long else d.stop_loss > d.take_profit


@FUZZ
@given(text=answers(), with_prices=st.booleans())
def test_generated_answers_never_raise_and_every_trade_passes_the_checks(
    text: str, with_prices: bool
) -> None:
    prices = PRICES if with_prices else None
    parsed = parse_decisions(text, SYMBOLS, prices)
    assert list(parsed.decisions) == SYMBOLS
    for symbol, d in parsed.decisions.items():
        if d.is_trade:
            assert_trade_passes_the_documented_checks(d, prices[symbol] if prices else None)
        else:
            assert d.signal is Signal.HOLD or d.error is None


@FUZZ
@given(item=decision_items(), other=decision_items(), key=st.sampled_from(["BTC", "BTCUSDT", "BTC/USDT"]))
def test_two_readings_that_disagree_are_never_traded(
    item: dict[str, Any], other: dict[str, Any], key: str
) -> None:
    text = _json({"BTC": item}) + "\nand\n" + _json({key: other})
    d = parse_decisions(text, ["BTC/USDT"], PRICES)["BTC/USDT"]
    alone = parse_decisions(_json({"BTC": item}), ["BTC/USDT"], PRICES)["BTC/USDT"]
    again = parse_decisions(_json({"BTC": other}), ["BTC/USDT"], PRICES)["BTC/USDT"]
    if d.is_trade:  # only when both readings are the same decision
        assert alone.is_trade
        assert again.is_trade
        assert alone.signal == again.signal == d.signal
        assert (alone.stop_loss, alone.take_profit) == (again.stop_loss, again.take_profit)


@FUZZ
@given(
    text=st.text(
        alphabet=st.sampled_from(list('{}[]":,. BTCUSDbuy_toenhldsigal0123456789-eE+')), max_size=400
    )
)
def test_arbitrary_text_never_raises(text: str) -> None:
    parsed = parse_decisions(text, SYMBOLS, PRICES)
    for symbol, d in parsed.decisions.items():
        if d.is_trade:
            assert_trade_passes_the_documented_checks(d, PRICES[symbol])


@settings(max_examples=300, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=True),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys | st.text(max_size=6), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_any_decoded_object_never_raises(data: Any) -> None:
    parsed = parse_decisions(data if isinstance(data, dict | list) else {"BTC": data}, SYMBOLS)
    for d in parsed.trades:
        assert_trade_passes_the_documented_checks(d, None)
