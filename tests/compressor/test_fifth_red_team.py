# ruff: noqa: E501 (prompt lines are written as a bot writes them)
"""Shapes from a fifth red-team pass, each in the style of a bot we did not write: market data as an HTML
table (a web dashboard's snapshot pasted in), a compact `sym|px|rsi14` dump without outer pipes,
`Prices: BTC ($91,230.50), ETH (...)` lists, positions as exchanges' APIs return them, one RSI per
timeframe on one line, long/short books per symbol, positions written as a list or a sentence, and
answer contracts declared as a model class, a table of fields or a choice among named options.
Each test failed before the fix it names: the facts were not read (or one was moved under another
timeframe's label), so `emergency` dropped or mislabelled them and the check did not see it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor
from pytest_oxbot.compressor.facts import Fact, required_facts
from pytest_oxbot.compressor.parse import Kind, parse
from pytest_oxbot.compressor.text import symbols_in

from .factcheck import EVERY_MODE, compress_checked

HTML = """You are a trading assistant. Market snapshot:
<table>
<tr><th>Symbol</th><th>Price</th><th>RSI</th><th>Trend</th></tr>
<tr><td>BTCUSDT</td><td>91,230.50</td><td>52.1</td><td>up</td></tr>
<tr><td><b>ETHUSDT</b></td><td>3,012.44</td><td>47.8</td><td>flat</td></tr>
</table>
Open position: none.
Respond with JSON only: {"BTCUSDT": "buy|sell|hold", "ETHUSDT": "buy|sell|hold"}
Do not copy the example values.
"""

HTML_INLINE = (
    'Snapshot: <table border="1"><tr><th>Pair</th><th>Last</th></tr><tr><td>SOLUSDT</td><td>142.65</td></tr></table>\n'
    'Respond with JSON only: {"SOLUSDT": "buy|sell|hold"}\n'
)

COMPACT = """[STATE]
ts=2026-11-30T14:05:00Z equity=12450.00 free=8200.50 lev_max=5
[MKT]
sym|px|chg24h|rsi14|ema20|ema50|fund8h|oi
BTCUSDT|91230.5|+1.21%|52.1|90880.2|89912.7|0.0100%|8.21B
ETHUSDT|3012.44|-0.42%|47.8|3020.1|2988.4|0.0042%|4.02B
SOLUSDT|142.65|+3.80%|63.9|139.8|135.2|-0.0031%|1.11B
[POS]
sym|side|qty|entry|sl|tp|upnl
SOLUSDT|short|120|142.65|147.10|131.00|+0.00
[OUT]
json only: {"SYMBOL": {"a": "open_long|open_short|close|hold", "c": 0.0-1.0}}
do not copy the example.
"""


def test_an_html_table_states_its_facts() -> None:
    facts = required_facts(HTML)
    assert Fact("BTC", "price", "91,230.50") in facts
    assert Fact("ETH", "rsi", "47.8") in facts
    assert Fact("ETH", "trend", "flat") in facts
    assert Fact("SOL", "price", "142.65") in required_facts(HTML_INLINE)


@pytest.mark.parametrize("mode", EVERY_MODE)
@pytest.mark.parametrize("prompt", [HTML, HTML_INLINE], ids=["lines", "after a label"])
def test_an_html_table_survives_every_mode(prompt: str, mode: str) -> None:
    """`emergency` dropped the rows (no fact was read) and kept a stray `</table>`."""
    out = compress_checked(prompt, mode)
    assert "</table>" not in out or mode == "lossless"
    for number in ("91,230.50", "3,012.44") if prompt is HTML else ("142.65",):
        assert number in out


def test_an_html_table_is_kept_as_written_in_lossless_and_shorter_as_markdown_otherwise() -> None:
    compressor = AdaptivePromptCompressor(model="gpt-4o")
    assert "<td>91,230.50</td>" in compressor.compress_by_context(HTML, "lossless")
    standard = compressor.compress_by_context(HTML, "standard")
    assert "|BTCUSDT|91,230.50|52.1|up|" in standard
    assert standard.compressed_tokens < standard.original_tokens
    assert compressor.compress_by_context(standard, "standard") == standard  # read the same again


@pytest.mark.parametrize(
    "table",
    [
        "<table><tr><td>BTC</td><td>1</td></tr></table>",  # no header row
        "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td></tr></table>",  # ragged
        "<table><tr><th>a</th></tr><tr><td>x|y</td></tr></table>",  # a cell with a pipe
        "<table><tr><th>a</th></tr><tr><td>1</td></tr>",  # never closed
    ],
)
def test_html_that_is_not_a_plain_table_stays_text(table: str) -> None:
    assert all(b.kind is not Kind.TABLE for b in parse(table + "\nmore\n").blocks)


def test_a_compact_pipe_dump_is_read_as_tables() -> None:
    facts = required_facts(COMPACT)
    assert Fact("BTC", "price", "91230.5") in facts  # `px` is a price
    assert Fact("SOL", "rsi", "63.9") in facts
    assert Fact("SOL", "sl", "147.10") in facts
    assert Fact("SOL", "side", "short") in facts


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_compact_pipe_dump_keeps_its_header_in_every_mode(mode: str) -> None:
    """`emergency` kept the rows and dropped the `sym|px|...` header line: numbers without names."""
    out = compress_checked(COMPACT, mode)
    assert "91230.5" in out
    assert "sym|px|" in out.replace(" | ", "|")
    assert "sym|side|qty|entry|sl|tp" in out.replace(" | ", "|")


PRICE_LIST = """Portfolio manager brief, cycle 4,812.
Prices: BTC ($91,230.50), ETH ($3,012.44), SOL ($142.65), XRP ($2.1843).
RSI: BTC 52.1, ETH 47.8
Risk: max drawdown 8%, max leverage 3x. Cash: $12,450.00 USDT. The desk is quiet today.
Decide for every symbol. Output JSON only, e.g. {"BTC": {"action": "hold", "weight": 0.25}}.
Don't copy the example numbers.
"""


def test_a_labelled_list_of_symbols_and_numbers_states_their_facts() -> None:
    facts = required_facts(PRICE_LIST)
    assert Fact("BTC", "price", "$91,230.50") in facts
    assert Fact("XRP", "price", "$2.1843") in facts
    assert Fact("ETH", "rsi", "47.8") in facts


@pytest.mark.parametrize(
    "line",
    [
        "Prices: BTC up 2%, ETH flat",  # not a number each
        "Price targets: BTC 100,000, ETH 4,000",  # targets are not prices
        "Prices: see below, thanks",
        "Price change: BTC +2.1%, ETH -0.4%",
    ],
)
def test_a_list_that_is_not_one_of_symbols_and_their_prices_states_none(line: str) -> None:
    assert not required_facts(line + "\n")


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_labelled_price_list_survives_every_mode(mode: str) -> None:
    """`emergency` dropped `Prices: BTC ($91,230.50), ...` whole: the model had no price at all."""
    out = compress_checked(PRICE_LIST, mode)
    for number in ("$91,230.50", "$3,012.44", "$142.65", "$2.1843", "52.1", "47.8"):
        assert number in out


# Positions as the exchanges' own APIs return them (Binance futures `positionRisk`, Bybit v5, OKX v5,
# Alpaca), written for these tests with the field names of their documentation.
EXCHANGE_POSITIONS = (Path(__file__).parent / "exchange_positions.txt").read_text()


@pytest.mark.parametrize(
    ("symbol", "kind", "value"),
    [
        ("ETH", "qty", "-1.200"),  # Binance `positionAmt`: its sign is the side (one-way mode: BOTH)
        ("BTC", "pnl", "109.55"),  # Binance `unRealizedProfit`
        ("SOL", "entry", "142.65"),  # Bybit `avgPrice`
        ("XRP", "qty", "1500"),  # OKX `pos` under `instId`
        ("XRP", "entry", "2.1843"),  # OKX `avgPx`
        ("XRP", "sl", "2.05"),  # OKX `slTriggerPx`
        ("XRP", "tp", "2.40"),  # OKX `tpTriggerPx`
        ("XRP", "side", "long"),  # OKX `posSide`
        ("DOGE", "pnl", "31.25"),  # Alpaca `unrealized_pl`
    ],
)
def test_exchange_position_fields_are_position_facts(symbol: str, kind: str, value: str) -> None:
    assert Fact(symbol, kind, value) in required_facts(EXCHANGE_POSITIONS)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_exchange_positions_survive_every_mode(mode: str) -> None:
    """`emergency` dropped OKX's position whole and Binance's `positionAmt`: ETH's short was gone."""
    out = compress_checked(EXCHANGE_POSITIONS, mode)
    for kept in (
        '"positionAmt":"-1.200"',
        '"instId":"XRP-USDT-SWAP"',
        '"avgPx":"2.1843"',
        '"avgPrice":"142.65"',
    ):
        assert kept in out.replace(" ", "")


MULTI_TIMEFRAME = """# Multi-timeframe
BTC 1h: close 91,230.50, rsi 52.1 | 4h: close 90,880.20, rsi 55.3 | 1d: close 89,912.70, rsi 58.9
ETH 1h: close 3,012.44, rsi 47.8 | 4h: close 3,020.10, rsi 49.2 | 1d: close 2,988.40, rsi 51.0
The tape is quiet. Funding is flat. Weekend liquidity is thin.

# Answer format
Answer in XML only, one element per symbol:
<decision><symbol>BTC</symbol><action>buy|sell|hold</action><confidence>0.0-1.0</confidence></decision>
Do not copy the example values.
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_one_rsi_per_timeframe_is_never_moved_under_another_timeframe(mode: str) -> None:
    """`minimal` wrote `BTC 1h: close 91,230.50, rsi 58.9`: the daily RSI under the hourly label (and
    the check passed: an RSI of BTC was there). A line that names a kind once per timeframe stays whole."""
    out = compress_checked(MULTI_TIMEFRAME, mode)
    assert (
        "BTC 1h: close 91,230.50, rsi 52.1 | 4h: close 90,880.20, rsi 55.3 | 1d: close 89,912.70, rsi 58.9"
        in out
    )
    assert Fact("BTC", "rsi", "52.1") in required_facts(MULTI_TIMEFRAME)  # the first: the line's own


HEDGE_FUND_POSITIONS = """Portfolio Cash: 12450.00
Current Positions: {"BTC": {"long": 0.35, "short": 0.0, "long_cost_basis": 88100.0, "short_cost_basis": 0.0, "short_margin_used": 0.0}, "ETH": {"long": 0.0, "short": 1.2, "long_cost_basis": 0.0, "short_cost_basis": 3050.1, "short_margin_used": 1830.06}}
Current Margin Requirement: 0.50

Output strictly in JSON with the following structure:
{"decisions": {"TICKER1": {"action": "buy/sell/short/cover/hold", "quantity": integer, "confidence": float between 0 and 100}}}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_long_and_short_books_per_symbol_are_positions(mode: str) -> None:
    """An ai-hedge-fund style `Current Positions` map (long/short quantities and cost bases per symbol):
    `emergency` dropped it whole, ETH's short of 1.2 at 3050.1 with it."""
    assert Fact("BTC", "qty", "0.35") in required_facts(HEDGE_FUND_POSITIONS)
    out = compress_checked(HEDGE_FUND_POSITIONS, mode).replace(" ", "")
    assert '"short":1.2' in out
    assert '"short_cost_basis":3050.1' in out


HOLDINGS = """Portfolio manager brief.
Holdings: BTC 0.35 (avg $88,100.00), SOL 120 (avg $139.20, short).
You hold 0.5 ETH long at 2,965.10 with a stop at 2,850.00 and a target of 3,200.00.
Market is choppy. Funding is neutral. Liquidity is thin on weekends. News flow is light.
Output JSON only: {"BTC": "hold|close", "SOL": "hold|close", "ETH": "hold|close"}
Don't copy the example values.
"""


def test_positions_written_as_a_list_or_a_sentence_state_their_facts() -> None:
    facts = required_facts(HOLDINGS)
    assert {Fact("SOL", "qty", "120"), Fact("SOL", "entry", "$139.20"), Fact("SOL", "side", "short")} <= facts
    assert {
        Fact("ETH", "entry", "2,965.10"),
        Fact("ETH", "sl", "2,850.00"),
        Fact("ETH", "tp", "3,200.00"),
    } <= facts
    assert not required_facts(
        "Holdings: none yet.\nPortfolio: BTC 40%, ETH 60%\nI have 3 SOL long at the moment.\n"
    )


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_positions_written_as_a_list_or_a_sentence_survive_every_mode(mode: str) -> None:
    """`emergency` dropped the `Holdings:` line whole (BTC's and SOL's positions)."""
    out = compress_checked(HOLDINGS, mode)
    assert "Holdings: BTC 0.35 (avg $88,100.00), SOL 120 (avg $139.20, short)." in out
    assert "2,850.00" in out


PYDANTIC_CONTRACT = """## Market
BTC: price 91,230.50, RSI 52.1, trend up
ETH: price 3,012.44, RSI 47.8, trend flat

## Output schema
Reply with an object matching this Pydantic model:

class Decision(BaseModel):
    symbol: str
    action: Literal["buy", "sell", "hold"]
    confidence: float  # 0.0 to 1.0
    stop_loss: float | None = None

Return a list[Decision], one per symbol, as JSON.
"""

FIELD_TABLE_CONTRACT = """## Market
BTC: price 91,230.50, RSI 52.1, trend up
ETH: price 3,012.44, RSI 47.8, trend flat

## Response fields
| field | type | allowed values |
|---|---|---|
| symbol | string | BTC, ETH |
| action | string | buy, sell, hold |
| size_pct | number | 0-100 |

Return one JSON object per symbol in a list. Never copy example values.
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_an_answer_model_declared_as_a_class_keeps_every_field(mode: str) -> None:
    """`emergency` dropped `confidence: float  # 0.0 to 1.0` ("answer-format line outside the contract"):
    the model would have answered without a confidence."""
    assert "confidence: float" in compress_checked(PYDANTIC_CONTRACT, mode)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_an_answer_contract_written_as_a_table_survives_every_mode(mode: str) -> None:
    """`## Response fields` was not read as the answer format: `emergency` dropped its table ("table without
    required facts"), the fields and their allowed values with it."""
    out = compress_checked(FIELD_TABLE_CONTRACT, mode).replace(" ", "")
    assert "|action|string|buy,sell,hold|" in out
    assert "|size_pct|number|0-100|" in out


ALTCOINS = """## Market
BONK: price 0.00002341, RSI 61.2, trend up
TAO: price 412.35, RSI 44.0, trend down
1000PEPEUSDT: price 0.01234, RSI 55.5, trend flat
BTCUSD_PERP: price 91,230.5, RSI 52.1, trend up

## Answer
Respond with JSON only: {"BONK": "buy|sell|hold", "TAO": "buy|sell|hold"}
DO NOT copy the example values.
"""


@pytest.mark.parametrize(
    ("symbol", "price"), [("BONK", "0.00002341"), ("TAO", "412.35"), ("PEPE", "0.01234"), ("BTC", "91,230.5")]
)
def test_tickers_beyond_the_majors_are_symbols(symbol: str, price: str) -> None:
    """A bot trading BONK or TAO had no fact read (only ~40 tickers were known): `emergency` could drop
    all of its market data and the check would not see it."""
    assert Fact(symbol, "price", price) in required_facts(ALTCOINS)


@pytest.mark.parametrize("word", ["NOT", "ME", "ONE", "MOVE", "CORE", "FLOW", "GMT"])
def test_capitalised_words_that_are_also_tickers_are_not_symbols_by_themselves(word: str) -> None:
    """`DO NOT copy ...` names no symbol; the pair form does, and so does a prompt that gives the word a
    price (it shows it trades it)."""
    assert not symbols_in(f"DO {word} copy the example values.")
    assert Fact(word, "price", "1.5") in required_facts(f"{word}USDT: price 1.5, RSI 50.1\n")


STOCKS = """## Market
AAPL: price 231.50, RSI 55.2, trend up
NVDA: price 181.20, RSI 61.0, trend up
- **TSLA** (last 402.10, RSI 48.3)
NOTE: price data is delayed 15 minutes. The market is calm. Volumes are average.

## Answer
Respond with JSON only: {"AAPL": "buy|sell|hold", "NVDA": "buy|sell|hold", "TSLA": "buy|sell|hold"}
Do not copy the example values.
"""


def test_a_prompt_teaches_its_own_tickers() -> None:
    """A stock bot's `AAPL: price 231.50` stated no fact (AAPL is no known crypto asset), so `emergency`
    could drop its whole market unseen. A ticker that names a line giving a price, close, last or RSI is
    a symbol for that prompt (labels such as NOTE, RSI, EMA never are)."""
    facts = required_facts(STOCKS)
    assert Fact("AAPL", "price", "231.50") in facts
    assert Fact("NVDA", "rsi", "61.0") in facts
    assert not any(f.symbol == "NOTE" for f in facts)
    assert not symbols_in("AAPL: price 231.50")  # outside a compression of that prompt: not known


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_stock_bots_market_survives_every_mode(mode: str) -> None:
    out = compress_checked(STOCKS, mode)
    for number in ("231.50", "55.2", "181.20", "61.0", "402.10"):
        assert number in out


TERMINAL = """=== WATCHLIST ===
BTC  91,230.50  +1.21%  RSI 52.1  ▲
ETH   3,012.44  -0.42%  RSI 47.8  ▼

=== POSITIONS ===
SOL SHORT x3 | size 120 | entry 142.65 | mark 140.10 | liq 168.20 | uPnL +306.00 | SL 147.10 | TP 131.00

=== TASK ===
For each symbol choose one of: OPEN_LONG, OPEN_SHORT, CLOSE, HOLD.
Reply as CSV lines: symbol,action,confidence
Example: BTC,HOLD,0.55
Never copy the example.
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_choice_among_named_options_is_the_answer_contract(mode: str) -> None:
    """No `signal`/`action` word on the line and no format heading: `emergency` dropped `choose one of:
    OPEN_LONG, ...` and the model no longer knew its allowed answers (the check did not see it)."""
    assert "For each symbol choose one of: OPEN_LONG, OPEN_SHORT, CLOSE, HOLD." in compress_checked(
        TERMINAL, mode
    )


@pytest.mark.parametrize(
    ("line", "contract"),
    [
        ('Pick one of "buy", "sell" or "hold".', True),
        ("Use one of the following: LONG or SHORT", True),
        ("Select one of the following actions: BUY, SELL", True),
        ("We chose one of the best setups: BTC.", False),
        ("BTC is one of the strongest coins today.", False),
    ],
)
def test_which_choices_are_contracts(line: str, contract: bool) -> None:
    block = next(b for b in parse(f"Market is calm.\n{line}\n").blocks if b.text == line)
    assert block.fmt is contract
