"""The prompt model and its renderings: the ~8k-token "before" prompt and the compact ones."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import (
    TradingContext,
    check_fidelity,
    load_candles,
    render_compact,
    render_full,
    render_minimal,
    render_static,
    required_facts,
    round_to_tick,
    sample_context,
    snapshot_from_candles,
    trend_of,
)
from pytest_oxbot.compressor.text import numbers_in
from pytest_oxbot.tokens import count_tokens


@pytest.fixture(scope="module")
def ctx() -> TradingContext:
    return sample_context()


def test_full_prompt_is_about_eight_thousand_tokens(ctx: TradingContext) -> None:
    tokens = count_tokens(render_full(ctx), "gpt-4o")
    assert 7_000 <= tokens <= 9_000


def test_full_prompt_states_every_required_fact(ctx: TradingContext) -> None:
    facts = required_facts(render_full(ctx))
    for snap in ctx.symbols:
        kinds = {f.kind for f in facts if f.symbol == snap.symbol}
        assert {"price", "rsi", "trend"} <= kinds
        assert (snap.symbol, "price", format(snap.price, "f")) in {(f.symbol, f.kind, f.value) for f in facts}
    for pos in ctx.positions:
        values = {(f.kind, f.value) for f in facts if f.symbol == pos.symbol}
        assert ("sl", repr(float(pos.stop_loss))) in values
        assert ("tp", repr(float(pos.take_profit))) in values


def test_compact_puts_the_static_prefix_first_and_identical_across_cycles(ctx: TradingContext) -> None:
    later = dataclasses.replace(ctx, symbols=ctx.symbols[::-1], now=ctx.now.replace(hour=12))
    first, second = render_compact(ctx), render_compact(later)
    prefix = render_static(ctx)
    assert first.startswith(prefix)
    assert second.startswith(prefix)
    assert first != second


def test_compact_and_minimal_are_much_smaller(ctx: TradingContext) -> None:
    full = count_tokens(render_full(ctx), "gpt-4o")
    compact = count_tokens(render_compact(ctx), "gpt-4o")
    minimal = count_tokens(render_minimal(ctx), "gpt-4o")
    assert minimal < compact < full / 4


def test_compact_keeps_required_facts_rounded_to_tick(ctx: TradingContext) -> None:
    text = render_compact(ctx)
    facts = {(f.symbol, f.kind): f.value for f in required_facts(text)}
    for snap in ctx.symbols:
        price = Decimal(facts[(snap.symbol, "price")])
        assert price % snap.tick_size == 0
        assert abs(price - snap.price) <= snap.tick_size / 2
        assert facts[(snap.symbol, "trend")] == snap.trend
    for pos in ctx.positions:
        assert (pos.symbol, "sl") in facts
        assert (pos.symbol, "tp") in facts


def test_minimal_rendering_keeps_required_facts(ctx: TradingContext) -> None:
    kinds = {(f.symbol, f.kind) for f in required_facts(render_minimal(ctx))}
    for snap in ctx.symbols:
        assert {(snap.symbol, "price"), (snap.symbol, "rsi"), (snap.symbol, "trend")} <= kinds
    for pos in ctx.positions:
        assert {(pos.symbol, "sl"), (pos.symbol, "tp")} <= kinds


def test_full_prompt_numbers_come_from_the_context(ctx: TradingContext) -> None:
    text = render_full(ctx)
    snap = ctx.symbols[0]
    numbers = set(numbers_in(text))
    assert {format(v, "f") for v in snap.intraday.closes} <= numbers
    assert {format(v, "f") for v in snap.intraday.rsi7} <= numbers
    assert format(snap.atr14, "f") in numbers


def test_rendering_is_deterministic() -> None:
    assert render_full(sample_context()) == render_full(sample_context())


def test_compressing_the_full_prompt_keeps_fidelity(ctx: TradingContext) -> None:
    from pytest_oxbot.compressor import AdaptivePromptCompressor

    text = render_full(ctx)
    result = AdaptivePromptCompressor().compress_by_context(text, "standard")
    assert check_fidelity(text, result.text).ok


@pytest.mark.parametrize(
    ("value", "tick", "expected"),
    [
        ("78658.481", "0.01", "78658.48"),
        ("1.656", "0.0001", "1.656"),
        ("772.005", "0.01", "772"),  # half-even: 772.00
        ("772.015", "0.01", "772.02"),
        ("100.74", "0.5", "100.5"),
        ("-16.801", "0.01", "-16.8"),
    ],
)
def test_round_to_tick(value: str, tick: str, expected: str) -> None:
    assert round_to_tick(Decimal(value), Decimal(tick)) == expected


@settings(max_examples=80, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("1e6"), places=6),
    st.sampled_from([Decimal("0.01"), Decimal("0.0001"), Decimal("0.5"), Decimal("1")]),
)
def test_round_to_tick_lands_on_the_grid_within_half_a_tick(value: Decimal, tick: Decimal) -> None:
    rounded = Decimal(round_to_tick(value, tick))
    assert rounded % tick == 0
    assert abs(rounded - value) <= tick / 2


def test_trend_rule() -> None:
    d = Decimal
    assert trend_of(d(3), d(2), d(1)) == "uptrend"
    assert trend_of(d(1), d(2), d(3)) == "downtrend"
    assert trend_of(d(2), d(3), d(1)) == "sideways"


def test_snapshot_needs_enough_candles() -> None:
    candles = load_candles("BTC", "1h")
    with pytest.raises(ValueError, match="60 candles"):
        snapshot_from_candles("BTC", candles[:10], candles)


def test_snapshot_is_as_of_the_last_candle() -> None:
    intraday, longer = load_candles("ETH", "15m"), load_candles("ETH", "1h")
    snap = snapshot_from_candles("ETH", intraday[:200], longer[:300])
    assert snap.price == intraday[199].close
    assert snap.intraday.closes[-1] == intraday[199].close
    assert snap.candles[-1] == longer[299]
    assert 0 <= snap.rsi7 <= 100
