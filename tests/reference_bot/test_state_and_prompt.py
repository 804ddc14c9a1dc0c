"""The decision-cache key and the prompt: exact keys, and compression that keeps every required fact."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

from benchmarks.reference_bot.context import AccountView, SymbolView
from benchmarks.reference_bot.memory import PeakRss
from benchmarks.reference_bot.render import num, render_prompt
from benchmarks.reference_bot.state import decision_key, quantised_state
from benchmarks.reference_bot.tables import OPEN, Position, Trade
from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity
from pytest_oxbot.market.indicators import compute


@dataclasses.dataclass(frozen=True)
class Bar:
    high: float
    low: float
    close: float
    close_time: datetime


def _bars(coin: str, tf: str) -> list[Bar]:
    raw = (resources.files("pytest_oxbot") / f"data/market/candles/{coin}_USDT-{tf}.json").read_text("utf-8")
    step = {"15m": 900_000, "1h": 3_600_000}[tf]
    return [
        Bar(r[2], r[3], r[4], datetime.fromtimestamp((r[0] + step - 1) / 1000, UTC)) for r in json.loads(raw)
    ]


def _view(coin: str) -> SymbolView:
    intraday, context = _bars(coin, "15m")[:600], _bars(coin, "1h")[:400]
    symbol = f"{coin}/USDT"
    return SymbolView(
        symbol=symbol,
        price=Decimal(repr(intraday[-1].close)),
        change_24h_pct=Decimal("-1.234"),
        volume_24h=Decimal("12345.6"),
        intraday=compute(symbol, "15m", intraday),
        context=compute(symbol, "1h", context),
        context_volume=1000.5,
        context_avg_volume=900.25,
    )


POSITION = Position(
    id=uuid.UUID(int=1),
    bot_id=uuid.UUID(int=0),
    symbol="XRP/USDT",
    side="long",
    quantity=Decimal("500"),
    entry_price=Decimal("1.9884"),
    current_price=Decimal("1.9905"),
    stop_loss=Decimal("1.9287"),
    take_profit=Decimal("2.0877"),
    leverage=Decimal(1),
    status=OPEN,
    opened_at=datetime(2026, 1, 28, tzinfo=UTC),
)


def test_key_is_exact_on_what_matters_and_blind_to_what_does_not() -> None:
    view = _view("XRP")
    base = quantised_state(view, None, 0.001)
    key = decision_key("gpt-4o-mini", "v1", base)
    assert decision_key("gpt-4o-mini", "v1", quantised_state(view, None, 0.001)) == key
    tiny_move = dataclasses.replace(view, price=view.price * Decimal("1.00001"))
    assert decision_key("gpt-4o-mini", "v1", quantised_state(tiny_move, None, 0.001)) == key
    real_move = dataclasses.replace(view, price=view.price * Decimal("1.003"))
    assert decision_key("gpt-4o-mini", "v1", quantised_state(real_move, None, 0.001)) != key
    rsi_moved = dataclasses.replace(
        view, intraday=dataclasses.replace(view.intraday, rsi14=view.intraday.rsi14 + 1)
    )
    assert decision_key("gpt-4o-mini", "v1", quantised_state(rsi_moved, None, 0.001)) != key
    assert decision_key("gpt-4o-mini", "v1", quantised_state(view, POSITION, 0.001)) != key
    assert decision_key("gpt-4o", "v1", base) != key
    assert decision_key("gpt-4o-mini", "v2", base) != key


def test_prompt_states_each_symbol_and_position_and_compression_keeps_them() -> None:
    views = [_view(c) for c in ("BTC", "ETH", "XRP")]
    trade = Trade(
        bot_id=uuid.UUID(int=0),
        symbol="XRP/USDT",
        side="buy",
        quantity=Decimal("500"),
        price=Decimal("1.9884"),
        executed_at=datetime(2026, 1, 28, tzinfo=UTC),
    )
    account = AccountView(Decimal("10000"), [POSITION], [trade])
    full = render_prompt(
        views, account, now=datetime(2026, 1, 28, 12, tzinfo=UTC), intraday="15m", context="1h"
    )
    for v in views:
        coin = v.symbol.split("/")[0]
        assert f"### ALL {coin} DATA" in full
        assert f"current_price = {num(v.price)}" in full
        assert f"current_rsi (14 period) = {num(v.intraday.rsi14)}" in full
    assert "'stop_loss': 1.9287" in full
    assert "'profit_target': 2.0877" in full
    assert full.index("Answer with one JSON object") < full.index("### ALL BTC DATA")  # static part first
    compressed = AdaptivePromptCompressor("gpt-4o-mini").compress_by_context(full, "standard")
    assert compressed.compressed_tokens < compressed.original_tokens
    report = check_fidelity(full, compressed.text)
    assert report.ok, report


def test_numbers_are_printed_without_float_noise() -> None:
    assert num(Decimal("78279.73000000")) == "78279.73"
    assert num(Decimal("2")) == "2"
    assert num(1.98843) == "1.988"
    assert num(0.0123456789) == "0.0123457"
    assert num(-0.000001234) == "-0.000001234"  # never exponent notation


def test_peak_rss_sees_a_large_allocation() -> None:
    with PeakRss() as before:
        pass
    with PeakRss() as peak:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    # the exit's own reading sees the block, which is still alive here
    assert peak.megabytes >= before.megabytes + 32
    del block
