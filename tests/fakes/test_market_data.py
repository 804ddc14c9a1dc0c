"""The shipped market data: the 2021 5m recording, its exact aggregation to 15m/1h/4h, the windows."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.exchange_data import (
    SHIPPED_DATASETS,
    SHIPPED_SPANS,
    CandleSeries,
    MarketArchive,
    MarketData,
    ReplayRangeError,
    aggregate,
)

FIVE = ["BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
SOURCE = Path("/work/shared/data/market/binance-spot-5m-2021")


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def _series(symbol: str, interval: str, folder: str = "candles") -> CandleSeries:
    path = (
        resources.files("pytest_oxbot") / "data" / "market" / folder / f"{symbol[:-4]}_USDT-{interval}.json"
    )
    raw = json.loads(path.read_text(encoding="utf-8"))
    return CandleSeries(symbol, interval, tuple((int(r[0]), *map(_dec, r[1:6])) for r in raw))  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol", FIVE)
def test_the_aggregation_rule_rebuilds_binances_own_1h_candles_from_its_15m_ones(symbol: str) -> None:
    """Proof the rule is exact: on the 2026 recording, which has both, it reproduces every real 1h candle."""
    real = {r[0]: r for r in _series(symbol, "1h").rows}
    rebuilt = aggregate(_series(symbol, "15m"), "1h").rows
    assert len(rebuilt) >= 290
    for row in rebuilt:
        assert row == real[row[0]]  # open, high, low, close and volume, to the last digit


def test_the_2021_window_has_5m_15m_1h_4h_aligned_and_complete() -> None:
    data = MarketData.shipped("binance-spot-5m-2021")
    assert data.symbols == FIVE
    start, end = SHIPPED_SPANS["binance-spot-5m-2021"]
    for symbol in FIVE:
        assert data.intervals(symbol) == ["5m", "15m", "1h", "4h"]
        five = data.series[(symbol, "5m")].rows
        assert len(five) == 5184  # 18 days, no gap
        for interval, per in (("15m", 3), ("1h", 12), ("4h", 48)):
            rows = data.series[(symbol, interval)].rows
            assert len(rows) == len(five) // per  # every coarse candle complete
            assert rows[0][0] == start
            assert rows[-1][0] + per * 300_000 == end  # same window end for every interval
            for i, row in enumerate(rows):
                parts = five[i * per : (i + 1) * per]
                assert row == (
                    parts[0][0],
                    parts[0][1],
                    max(p[2] for p in parts),
                    min(p[3] for p in parts),
                    parts[-1][4],
                    sum((p[5] for p in parts), Decimal(0)),
                )


def test_aggregation_skips_a_candle_that_spans_a_gap_instead_of_inventing_it() -> None:
    rows = [(i * 300_000, Decimal(1), Decimal(2), Decimal("0.5"), Decimal(1), Decimal(1)) for i in range(6)]
    del rows[4]  # 00:20 is missing: the 00:15 candle is incomplete
    out = aggregate(CandleSeries("X", "5m", tuple(rows)), "15m")
    assert [r[0] for r in out.rows] == [0]
    with pytest.raises(FakeError, match="cannot aggregate"):
        aggregate(out, "5m")


@pytest.mark.skipif(not SOURCE.is_dir(), reason="the full recording is not on this machine")
@pytest.mark.parametrize("symbol", FIVE)
def test_the_shipped_2021_subset_is_a_verbatim_slice_of_the_recording(symbol: str) -> None:
    source = json.loads((SOURCE / f"{symbol[:-4]}_USDT-5m.json").read_text())
    path = resources.files("pytest_oxbot") / "data/market/candles-5m-2021" / f"{symbol[:-4]}_USDT-5m.json.gz"
    shipped = json.loads(gzip.decompress(path.read_bytes()))
    start = next(i for i, r in enumerate(source) if r[0] == shipped[0][0])
    assert source[start : start + len(shipped)] == shipped


def test_shipped_spans_match_the_data_so_choosing_a_window_loads_only_that_one() -> None:
    for name in SHIPPED_DATASETS:
        data = MarketData.shipped(name)
        assert (data.start_ms, data.end_ms) == SHIPPED_SPANS[name]
    archive = MarketArchive.shipped()
    assert archive.at(SHIPPED_SPANS["binance-spot-2026"][0] + 1).name == "binance-spot-2026"
    assert archive.at(SHIPPED_SPANS["binance-spot-5m-2021"][1] - 1).name == "binance-spot-5m-2021"
    with pytest.raises(ReplayRangeError, match=r"binance-spot-5m-2021: 2021-04-25T12:00:00Z \.\. 2021-05-13"):
        archive.at(0)
    with pytest.raises(FakeError, match="no shipped market data named"):
        MarketData.shipped("binance-futures-2030")


def test_overlapping_windows_are_refused() -> None:
    one = MarketData.shipped("binance-spot-2026")
    with pytest.raises(FakeError, match="overlap"):
        MarketArchive([one, MarketData(one.series, name="copy")])


def test_tick_sizes_come_from_the_recorded_prices() -> None:
    data = MarketData.shipped("binance-spot-2026")
    assert data.tick_size("BTCUSDT") == Decimal("0.01")
    assert data.tick_size("XRPUSDT") == Decimal("0.0001")


def test_klines_start_and_end_time_follow_binance() -> None:
    data = MarketData.shipped("binance-spot-5m-2021")
    start, _ = SHIPPED_SPANS["binance-spot-5m-2021"]
    now = start + 10 * 3_600_000
    first = data.klines("BTCUSDT", "1h", 3, now, start_ms=start + 1)
    assert [r[0] for r in first] == [start + 3_600_000, start + 7_200_000, start + 10_800_000]
    last = data.klines("BTCUSDT", "1h", 2, now, end_ms=start + 5 * 3_600_000)
    assert [r[0] for r in last] == [start + 4 * 3_600_000, start + 5 * 3_600_000]
    never_future = data.klines("BTCUSDT", "1h", 1000, now, start_ms=start)
    assert never_future[-1][0] == now  # the forming candle, no later one
