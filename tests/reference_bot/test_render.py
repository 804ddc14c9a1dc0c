"""The reference bot's renderings of one prompt context: the ~8k-token "before" prompt and compact ones."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.reference_bot.context import PromptContext
from benchmarks.reference_bot.render import (
    num,
    render_compact,
    render_full,
    render_minimal,
    render_static,
    round_to_tick,
)
from benchmarks.reference_bot.sample import recorded_candles, sample_context, symbol_view
from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity, numbers_in, required_facts
from pytest_oxbot.market.indicators import NotEnoughCandles, compute
from pytest_oxbot.tokens import count_tokens


@pytest.fixture(scope="module")
def ctx() -> PromptContext:
    return sample_context()


def test_full_prompt_is_about_eight_thousand_tokens(ctx: PromptContext) -> None:
    tokens = count_tokens(render_full(ctx), "gpt-4o")
    assert 7_000 <= tokens <= 9_000


def test_full_prompt_states_every_required_fact(ctx: PromptContext) -> None:
    facts = required_facts(render_full(ctx))
    for view in ctx.symbols:
        kinds = {f.kind for f in facts if f.symbol == view.base}
        assert {"price", "rsi", "trend"} <= kinds
        assert (view.base, "price", num(view.price)) in {(f.symbol, f.kind, f.value) for f in facts}
    for pos in ctx.account.positions:
        base = pos.symbol.split("/")[0]
        values = {(f.kind, f.value) for f in facts if f.symbol == base}
        assert ("sl", repr(float(pos.stop_loss))) in values
        assert ("tp", repr(float(pos.take_profit))) in values


def test_compact_puts_the_static_prefix_first_and_identical_across_cycles(ctx: PromptContext) -> None:
    later = dataclasses.replace(ctx, symbols=ctx.symbols[::-1], now=ctx.now.replace(hour=12))
    first, second = render_compact(ctx), render_compact(later)
    prefix = render_static(ctx)
    assert first.startswith(prefix)
    assert second.startswith(prefix)
    assert first != second


def test_compact_and_minimal_are_much_smaller(ctx: PromptContext) -> None:
    full = count_tokens(render_full(ctx), "gpt-4o")
    compact = count_tokens(render_compact(ctx), "gpt-4o")
    minimal = count_tokens(render_minimal(ctx), "gpt-4o")
    assert minimal < compact < full / 4


def test_compact_prices_are_rounded_to_the_tick(ctx: PromptContext) -> None:
    text = render_compact(ctx)
    for view in ctx.symbols:
        row = next(line for line in text.splitlines() if line.startswith(f"|{view.base}|"))
        price = Decimal(row.split("|")[2])
        assert price % view.tick_size == 0
        assert abs(price - view.price) <= view.tick_size / 2
        assert view.intraday.trend in row


def test_full_prompt_numbers_come_from_the_context(ctx: PromptContext) -> None:
    text = render_full(ctx)
    view = ctx.symbols[0]
    numbers = set(numbers_in(text))
    assert {num(v) for v in view.intraday.recent_closes} <= numbers
    assert {num(v) for v in view.intraday.recent_rsi7} <= numbers
    assert num(view.context.atr14) in numbers


def test_rendering_is_deterministic() -> None:
    sample_context.cache_clear()
    first = render_full(sample_context())
    sample_context.cache_clear()
    assert render_full(sample_context()) == first


def test_compressing_the_full_prompt_keeps_fidelity(ctx: PromptContext) -> None:
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


def test_a_view_needs_enough_candles() -> None:
    candles = recorded_candles("BTC/USDT", "1h")
    with pytest.raises(NotEnoughCandles, match="need >= 50"):
        compute("BTC/USDT", "1h", candles[:10])


def test_a_view_is_as_of_the_last_closed_candle() -> None:
    at = 1_769_400_000_000
    view = symbol_view("ETH/USDT", at_ms=at)
    closed = recorded_candles("ETH/USDT", "15m", at_ms=at)
    assert view.price == closed[-1].close
    assert all(c.close_time_ms < at for c in view.candles)
    assert view.intraday.recent_closes[-1] == float(closed[-1].close)
    assert 0 <= view.intraday.rsi7 <= 100
