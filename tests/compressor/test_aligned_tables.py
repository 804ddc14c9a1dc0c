"""Whitespace-aligned tables, as bots print a DataFrame into a prompt (`print(df.tail())`,
`df.to_string()`, tabulate, f-strings). The renderings in `aligned_tables.json` are real pandas and
tabulate output of real recorded candles (provenance in the file).

Before, such a table was read line by line: `emergency` dropped every candle row, so a symbol's current
close and RSI went, and the fidelity check, which did not read the table either, said fine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity
from pytest_oxbot.compressor.facts import Fact, required_facts
from pytest_oxbot.compressor.parse import Kind, parse, table_rows

DATA = json.loads((Path(__file__).parent / "aligned_tables.json").read_text())
FRAMES: dict[str, str] = DATA["frames"]
CURRENT: dict[str, list[str | None]] = DATA["current"]
MODES = ["lossless", "analysis", "standard", "minimal", "emergency"]


def prompt_with(name: str, frame: str) -> str:
    symbol = name.split("-")[0]
    caption = f"{symbol}USDT 1h candles (pandas):" if symbol in ("BTC", "ETH") else "Current state:"
    return (
        f"You are a trader. Decide for BTC ETH SOL.\n\n{caption}\n{frame}\n\n"
        '## RESPONSE FORMAT\nAnswer with JSON only: {"signal": "buy|sell|hold"}\n'
    )


def the_table(text: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    tables = [b for b in parse(text).blocks if b.kind is Kind.TABLE]
    assert len(tables) == 1
    assert tables[0].header is not None
    return tables[0].header, table_rows(tables[0])


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_the_current_close_and_rsi_are_required_facts(name: str) -> None:
    close, rsi = CURRENT[name]
    symbol = name.split("-")[0]
    facts = {(f.kind, f.value) for f in required_facts(prompt_with(name, FRAMES[name])) if f.symbol == symbol}
    assert ("rsi", rsi) in facts
    assert close is None or ("price", close) in facts  # `print(df)` elided the close column as `...`
    assert len({v for k, v in facts if k == "price"}) <= 1  # only the latest row is current


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_mode_keeps_the_current_values_and_passes_the_check(name: str, mode: str) -> None:
    prompt = prompt_with(name, FRAMES[name])
    result = AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, mode)
    assert check_fidelity(prompt, result, result.level).ok
    for value in CURRENT.get(name, []):
        if value is not None:
            assert value in str(result)


def test_cells_are_read_by_position_not_by_word_count() -> None:
    """`to_string(index=False)` puts the timestamp mid-row: two words, one cell. Counting words would
    shift every later value under the wrong name."""
    header, rows = the_table(FRAMES["BTC-noindex"])
    assert header == ("open", "high", "low", "close", "volume", "timestamp", "rsi_14", "ema_20", "macd")
    assert rows[-1] == (
        "79034.45", "79220.72", "78148.10", "78279.73", "863.43565", "2026-02-01 10:00:00", "53.33",
        "79247.64", "-842.109",
    )  # fmt: skip


def test_a_value_touching_the_next_column_is_not_taken_for_a_two_word_cell() -> None:
    """pandas' `justify="left"`: `79465.38 -1003.873` are two cells one space apart, not one."""
    header, rows = the_table(FRAMES["BTC-justify-left"])
    assert [dict(zip(header, r, strict=True))["macd"] for r in rows] == [
        "-1003.873", "-948.953", "-861.103", "-842.109",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["BTC-tab-plain", "BTC-tab-simple", "ETH-fstring", "BTC-floatfmt"])
def test_other_layouts_read_alike(name: str) -> None:
    header, rows = the_table(FRAMES[name])
    assert header[0] in ("timestamp", "time")
    assert all(len(r) == len(header) for r in rows)
    assert rows[-1][0] == "2026-02-01 10:00:00"


def test_the_index_name_and_row_numbers_are_a_column() -> None:
    header, rows = the_table(FRAMES["snapshot-by-symbol"])
    assert header == ("symbol", "close", "rsi_14", "ema_20", "volume")
    assert [r[0] for r in rows] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    header, rows = the_table(FRAMES["positions"])
    assert header[:3] == ("", "symbol", "side")  # pandas' unnamed index: kept, without a made-up name
    assert rows[1][:3] == ("1", "ETHUSDT", "SHORT")


def test_positions_in_an_aligned_table_are_facts() -> None:
    facts = required_facts(prompt_with("positions", FRAMES["positions"]))
    assert Fact("ETH", "sl", "3100.0") in facts
    assert Fact("ETH", "tp", "2850.0") in facts
    assert Fact("BTC", "side", "LONG") in facts


def test_a_long_table_numbered_by_row_keeps_its_last_row_in_emergency() -> None:
    """pandas' row numbers (no time column) order the rows: the last is current, however long."""
    rows = [f"{k:>2}  {90000 + k}.5   {40 + k}.1" for k in range(30)]
    prompt = "BTCUSDT candles:\n      close  rsi_14\n" + "\n".join(rows) + "\n\nAnswer in JSON.\n"
    assert {(f.kind, f.value) for f in required_facts(prompt)} >= {("price", "90029.5"), ("rsi", "69.1")}
    for mode in MODES:
        result = AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, mode)
        assert "90029.5" in str(result)
        assert "69.1" in str(result)


def test_newest_first_keeps_the_first_row() -> None:
    prompt = prompt_with("BTC-desc", FRAMES["BTC-desc"])
    out = str(AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, "emergency"))
    assert "2026-02-01 10:00:00" in out
    assert "2026-02-01 07:00:00" not in out


def test_a_caption_right_under_the_rows_is_not_a_row() -> None:
    frame = FRAMES["BTC-tail-indexed"]
    doc = parse(f"{frame}\nOpen positions:\nnone")
    assert [b.kind for b in doc.blocks][:2] == [Kind.TABLE, Kind.HEADING]


@pytest.mark.parametrize(
    "text",
    [
        # words do not line up under the names, and one cell has a space: not read as a table
        "name    price   note\nBTC  91000.5  buy the dip\nETH   3000.1  wait",
        # prose with two spaces after a period, over a line of numbers
        "Market is calm.  Funding is flat.\n1.5 2.5 3.5 4.5 5.5",
        # two names over bare numbers, no index: too little to call a table
        "close  rsi\n91000.5  55.1",
    ],
)
def test_text_that_only_looks_aligned_is_not_a_table(text: str) -> None:
    assert all(b.kind is not Kind.TABLE for b in parse(text).blocks)


def test_a_shifted_reading_is_refused_in_a_hand_made_table() -> None:
    """A hand-made row whose values slid left: read by position it would put two values under `open`
    and none under `rsi`. That reading is refused; one word per name (the count is exact) holds."""
    text = "      open    close     rsi\n2025  100.5    101.2    55.0\n2026  100.5 101.2 55.0   \n"
    header, rows = the_table(text)
    assert header == ("", "open", "close", "rsi")
    assert rows == [("2025", "100.5", "101.2", "55.0"), ("2026", "100.5", "101.2", "55.0")]


_NAMES = st.sampled_from(["open", "high", "low", "close", "volume", "rsi_14", "ema_20", "macd", "atr", "oi"])
_CELL = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.floats(0, 1e7, allow_nan=False).map(lambda x: f"{x:,.2f}"),
    st.integers(-(10**6), 10**9).map(str),
    st.just("NaN"),
)


@st.composite
def _frames(draw: st.DrawFn) -> tuple[tuple[str, ...], list[tuple[str, ...]], str]:
    names = tuple(draw(st.lists(_NAMES, min_size=2, max_size=7, unique=True)))
    n = draw(st.integers(1, 6))
    index = draw(st.sampled_from(["none", "numbers", "stamps"]))
    rows = [tuple(draw(_CELL) for _ in names) for _ in range(n)]
    if index == "numbers":
        rows = [(str(k), *r) for k, r in enumerate(rows)]
    elif index == "stamps":
        rows = [(f"2025-11-{21 + k // 24:02d} {k % 24:02d}:00", *r) for k, r in enumerate(rows)]
    header = names if index == "none" else ("", *names)
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
    gap = " " * draw(st.integers(1, 3))
    how = draw(st.sampled_from(["rjust", "ljust"]))
    lines = [gap.join(getattr(h, how)(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [gap.join(getattr(c, how)(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return header, rows, "\n".join(lines)


@given(_frames())
def test_an_aligned_table_is_read_exactly_or_not_at_all(
    frame: tuple[tuple[str, ...], list[tuple[str, ...]], str],
) -> None:
    """Whatever the widths, gaps and alignment, a table read is read cell for cell under its names; it
    may end early (a row no reading lines up: the rest stays lines), never shift a value."""
    header, rows, text = frame
    tables = [b for b in parse(text).blocks if b.kind is Kind.TABLE]
    assert len(tables) <= 1
    for table in tables:
        assert table.header == header
        got = table_rows(table)
        assert got == rows[: len(got)]
