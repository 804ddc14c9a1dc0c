"""Candles as exchanges send them (Binance's klines: `[open time, open, high, low, close, volume, ...]`),
dumped into a prompt as JSON: the latest candle's close is the symbol's price.

Before, no fact was read from them: `emergency` dropped every candle (the JSON had no `price` key), and
`standard` could shorten a 12-number candle row as if it were a series, leaving values without their
positions. The candles here are the recorded Binance 1h candles shipped in the package.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity
from pytest_oxbot.compressor.facts import Fact, latest_kline, required_facts
from pytest_oxbot.compressor.parse import Kind, parse

CANDLES = json.loads(
    (resources.files("pytest_oxbot") / "data" / "market" / "candles" / "BTC_USDT-1h.json").read_text()
)[-5:]
MODES = ["lossless", "analysis", "standard", "minimal", "emergency"]


def binance(row: list[float]) -> list[object]:
    """A row as Binance's REST API writes it: prices and volumes as strings, 12 fields."""
    t = int(row[0])
    return [t, *(f"{x:.2f}" for x in row[1:5]), f"{row[5]:.5f}", t + 3_599_999, "0", 1000, "0", "0", "0"]


LAST_CLOSE = f"{CANDLES[-1][4]:.2f}"
TAIL = [1.5, 1000, 0.5, 0.5, 0]  # quote volume, trades, taker volumes, ignore
SHAPES = {
    "binance strings": [binance(r) for r in CANDLES],
    "numbers, six fields": [[int(r[0]), *r[1:6]] for r in CANDLES],
    "numbers, twelve fields": [[int(r[0]), *r[1:6], int(r[0]) + 3_599_999, *TAIL] for r in CANDLES],
    "newest first": [binance(r) for r in reversed(CANDLES)],
}


def prompt_with(candles: object, how: str = "label") -> str:
    data = json.dumps(candles)
    if how == "label":
        body = f"BTCUSDT 1h klines:\n{data}"
    else:
        body = f"Market state:\n{json.dumps({'symbol': 'BTCUSDT', 'klines': candles, 'funding': 0.0001})}"
    return f'You are a trader.\n\n{body}\n\nRespond with JSON only: {{"signal": "buy|sell|hold"}}\n'


def close_of(candles: list[list[object]]) -> str:
    latest = max(candles, key=lambda r: int(str(r[0])))
    return str(latest[4]) if isinstance(latest[4], str) else repr(latest[4])


@pytest.mark.parametrize("how", ["label", "symbol key"])
@pytest.mark.parametrize("shape", SHAPES)
def test_the_latest_close_is_the_price(shape: str, how: str) -> None:
    candles = SHAPES[shape]
    assert Fact("BTC", "price", close_of(candles)) in required_facts(prompt_with(candles, how))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["label", "symbol key"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_mode_keeps_the_latest_candle_whole(shape: str, how: str, mode: str) -> None:
    candles = SHAPES[shape]
    prompt = prompt_with(candles, how)
    result = AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, mode)
    assert check_fidelity(prompt, result, result.level).ok
    latest = max(candles, key=lambda r: int(str(r[0])))
    assert json.dumps(latest, separators=(",", ":")) in str(result).replace(", ", ",")


def test_numbers_that_do_not_agree_as_prices_are_not_candles() -> None:
    """High below the close: whatever this list is, it is not a candle, and no price is read from it."""
    rows = [[1769940000000, 5.0, 4.0, 3.0, 6.0, 1.0], [1769943600000, 5.0, 4.0, 3.0, 6.0, 1.0]]
    assert latest_kline(rows) is None
    assert not required_facts(prompt_with(rows))


def test_a_candle_list_is_one_json_block() -> None:
    blocks = parse(prompt_with(SHAPES["binance strings"])).blocks
    assert [b.kind for b in blocks].count(Kind.JSON) == 1
    assert LAST_CLOSE in required_facts(prompt_with(SHAPES["binance strings"])).__repr__()
