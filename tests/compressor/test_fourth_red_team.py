# ruff: noqa: E501 (prompt lines are written as a bot writes them)
"""Shapes from a fourth red-team pass, each in the style of a bot we did not write: freqtrade's `/status`
trades, a Telegram signal digest, a ReAct scratchpad whose answer has no `signal` key, a prompt that answers
by calling a tool (its JSON Schema is the contract), a Russian prompt, labels with a qualifier in
parentheses, a fenced answer example, ccxt's positions and tickers, Hyperliquid's account state, Hummingbot's status tables, LangChain's format instructions. Each test failed before the fix it names.
"""

from __future__ import annotations

import json

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity
from pytest_oxbot.compressor.facts import Fact, required_facts
from pytest_oxbot.compressor.parse import Kind, is_instruction, parse

from .factcheck import EVERY_MODE, compress_checked, line_kept, owned_by, position_kept

TOOL_SCHEMA = """You are a crypto trading agent. Current time: 2026-11-30 14:05 UTC.

## Market
BTC: price 91,230.50, RSI 52.1, trend up
ETH: price 3,012.44, RSI 47.8, trend flat

## Tools
You can call exactly one tool per turn. Use this schema:
{"name": "place_order", "parameters": {"type": "object", "properties": {"symbol": {"type": "string", "enum": ["BTC", "ETH"]}, "side": {"type": "string", "enum": ["buy", "sell", "hold"]}, "size_usd": {"type": "number"}, "stop_loss": {"type": "number"}}, "required": ["symbol", "side"]}}
Call place_order with side "hold" when no trade is warranted.
"""

RUSSIAN = """Ты — торговый ассистент. Анализируй рынок и отвечай строго в формате JSON.

## Рынок
BTC: цена 91 230,50, RSI 52,1, тренд восходящий
ETH: цена 3 012,44, RSI 47,8, тренд боковой

## Открытые позиции
BTC: LONG 0,05 по 89 244,47, стоп 86 979,38, тейк 95 133,70, PnL +67,95 USDT

## Правила
Всегда ставь стоп-лосс.
НИКОГДА не открывай больше двух позиций.
Не копируй значения из примера!
Отвечай только на русском языке в поле reason.

## Формат ответа
{"BTC": {"signal": "hold", "confidence": 0.7, "reason": "..."}}
signal: одно из buy, sell, hold.
"""

FREQTRADE_STATUS = """Here is the bot's /status output. Decide whether to keep or exit each trade.

*Trade ID:* `123` `(since 1 day ago)`
*Current Pair:* BTC/USDT
*Direction:* Long
*Amount:* `0.00145` (`130.0 USDT`)
*Open Rate:* `89244.47`
*Current Rate:* `90603.52`
*Unrealized Profit:* `1.52%` `(1.97 USDT)`
*Stoploss:* `86979.38` `(-2.54%)`

*Trade ID:* `124` `(since 3 hours ago)`
*Current Pair:* ETH/USDT
*Direction:* Short
*Amount:* `0.05` (`150.6 USDT`)
*Open Rate:* `3012.44`
*Current Rate:* `2990.10`
*Unrealized Profit:* `0.74%` `(1.12 USDT)`
*Stoploss:* `3101.00` `(+2.94%)`

Answer with JSON only: {"123": "keep|exit", "124": "keep|exit"}
Do not copy the example.
"""

REACT_ANSWER = """Question: Should we adjust the open positions?
Thought: I need the positions first.
Action: get_positions
Observation: [{"symbol": "BTCUSDT", "side": "LONG", "qty": 0.05, "entry": 89244.47, "stop_loss": 86979.38, "take_profit": 95133.7, "pnl": 67.95}, {"symbol": "SOLUSDT", "side": "SHORT", "qty": 12, "entry": 141.2, "stop_loss": 147.9, "take_profit": 128.0, "pnl": -3.36}]
Thought: Now I need prices.
Action: get_prices
Observation: {"BTCUSDT": 90603.52, "SOLUSDT": 141.48}
Thought:

Final Answer: {"BTCUSDT": "hold", "SOLUSDT": "close"}
Each value is one of: hold, close, tighten_stop.
Do not copy the example values.
"""

QUALIFIED_LABELS = """### BTC
- price: 91,230.50
- trend (ema_50 vs ema_200): bullish
- RSI(14, 1h): 52.1

### ETH
- price: 3,012.44
- trend (ema_50 vs ema_200): bearish
- RSI(14, 1h): 47.8

### Response format
JSON only: {"BTC": "buy|sell|hold", "ETH": "buy|sell|hold"}
"""

SIGNAL_CHANNEL = """📊 Signals channel digest

📈 BTC/USDT LONG
Entry: 89,200 - 89,500
SL: 86,900
Targets: 91,000 / 93,500 / 96,000
Leverage: 5x

📉 SOL/USDT SHORT
Entry zone: 141.0-142.5
Stop: 147.9
TP1: 135.0 TP2: 130.0 TP3: 128.0

Which of these signals should we follow? Reply with JSON only: {"BTC": "follow|skip", "SOL": "follow|skip"}
"""

FENCED_ANSWER = """## Market
BTC price 91230.5 rsi 52.1

## Output
Return exactly this JSON, nothing else:
```json
{"symbol": "BTC", "action": "hold", "confidence": 0.5}
```
"""

CCXT_POSITIONS = """You manage perpetual positions on Bybit. Current positions (ccxt fetch_positions):
[{"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 0.05, "entryPrice": 89244.47, "markPrice": 90603.52, "unrealizedPnl": 67.95, "leverage": 5, "liquidationPrice": 72100.0, "stopLossPrice": 86979.38, "takeProfitPrice": 95133.7}, {"symbol": "ETH/USDT:USDT", "side": "short", "contracts": 1.2, "entryPrice": 3012.44, "markPrice": 2990.1, "unrealizedPnl": 26.81, "leverage": 3, "liquidationPrice": 3900.0, "stopLossPrice": null, "takeProfitPrice": null}]

Tickers: {"BTC/USDT:USDT": {"last": 90603.52, "percentage": 1.52}, "ETH/USDT:USDT": {"last": 2990.1, "percentage": -0.74}}

Reply with JSON only: {"actions": [{"symbol": "BTC/USDT:USDT", "action": "hold|close|reduce"}]}
"""

HYPERLIQUID_STATE = """Account state from Hyperliquid clearinghouseState:
{"marginSummary": {"accountValue": "10234.55", "totalNtlPos": "4530.2"}, "assetPositions": [{"type": "oneWay", "position": {"coin": "BTC", "szi": "0.05", "entryPx": "89244.4", "positionValue": "4530.2", "unrealizedPnl": "67.9", "leverage": {"type": "cross", "value": 5}, "liquidationPx": "72100.1"}}, {"type": "oneWay", "position": {"coin": "SOL", "szi": "-12.0", "entryPx": "141.2", "positionValue": "1697.8", "unrealizedPnl": "-3.36", "leverage": {"type": "cross", "value": 3}, "liquidationPx": "180.4"}}]}
Mid prices: {"BTC": "90603.5", "SOL": "141.48", "ETH": "2990.15"}

Decide for each coin. Output JSON: {"BTC": {"action": "hold|close|add", "reason": "..."}}
Never open a new position above 5x leverage.
"""

HUMMINGBOT_STATUS = """Hummingbot status:

  Markets:
    Exchange    Market     Best Bid   Best Ask   Ref Price (MidPrice)
    binance     ETH-USDT   2989.90    2990.30    2990.10

  Assets:
                    ETH       USDT
    Total Balance   1.2000    3512.44
    Available       0.8000    2300.10

  Orders:
    Level  Type  Price     Spread  Amount (Orig)  Amount (Adj)  Age
    1      buy   2984.12   0.20%   0.05           0.05          00:01:12
    1      sell  2996.08   0.20%   0.05           0.05          00:01:12

Should the spreads change? Answer JSON only: {"bid_spread": number, "ask_spread": number}
"""

LANGCHAIN_FORMAT = """You are a crypto trading assistant.

Market data:
BTC: price 91,230.50, RSI 52.1, trend up
ETH: price 3,012.44, RSI 47.8, trend flat

The output should be formatted as a JSON instance that conforms to the JSON schema below.

As an example, for the schema {"properties": {"foo": {"title": "Foo", "description": "a list of strings", "type": "array", "items": {"type": "string"}}}, "required": ["foo"]}
the object {"foo": ["bar", "baz"]} is a well-formatted instance of the schema. The object {"properties": {"foo": ["bar", "baz"]}} is not well-formatted.

Here is the output schema:
```
{"properties": {"decisions": {"title": "Decisions", "type": "array", "items": {"$ref": "#/definitions/Decision"}}}, "required": ["decisions"], "definitions": {"Decision": {"title": "Decision", "type": "object", "properties": {"symbol": {"title": "Symbol", "type": "string"}, "action": {"title": "Action", "enum": ["buy", "sell", "hold"], "type": "string"}, "confidence": {"title": "Confidence", "type": "number"}}, "required": ["symbol", "action", "confidence"]}}}
```
"""

JAPANESE_MARKET = """## 市場データ
BTC/JPY: 価格 14,920,000円、RSI 52.1、トレンド 上昇
ETH/JPY: 価格 456,780円、RSI 47.8、トレンド 横ばい

## 出力形式
JSONのみで回答してください: {"BTC": "買い|売り|様子見"}
例の値をコピーしないでください。
"""


# --- freqtrade `/status`: one trade a paragraph, its pair named on its second line ------------------
def test_freqtrade_trades_are_positions_with_their_ids() -> None:
    facts = required_facts(FREQTRADE_STATUS)
    assert {
        Fact("BTC", "id", "123"),
        Fact("BTC", "side", "Long"),
        Fact("BTC", "qty", "0.00145"),
        Fact("BTC", "entry", "89244.47"),
        Fact("BTC", "sl", "86979.38"),
        Fact("ETH", "id", "124"),
        Fact("ETH", "side", "Short"),
        Fact("ETH", "entry", "3012.44"),
        Fact("ETH", "sl", "3101.00"),
    } <= facts


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_freqtrade_trades_survive_every_mode_under_their_symbol(mode: str) -> None:
    """`emergency` dropped both trades whole ("key/value line without required facts"); the ids the
    answer is keyed by (`{"123": "keep|exit"}`) must stay with them."""
    out = compress_checked(FREQTRADE_STATUS, mode)
    symbols = ("BTC", "ETH")
    for fields in (
        {"symbol": "BTC", "side": "Long", "entry": "89244.47", "sl": "86979.38"},
        {"symbol": "ETH", "side": "Short", "entry": "3012.44", "sl": "3101.00"},
    ):
        assert position_kept(out, symbols, fields) == []
    # (an id is written before the pair in the table and in `/status`: found on the pair's line or row)
    for trade_id, pair in (("123", "BTC"), ("124", "ETH")):
        assert any(trade_id in line and pair in line for line in out.splitlines()) or (
            f"- {pair}: id={trade_id} " in out or f"`{trade_id}`" in out
        )


def test_freqtrade_trades_without_blank_lines_are_still_two_trades() -> None:
    joined = "\n".join(line for line in FREQTRADE_STATUS.splitlines() if line.strip())
    assert Fact("ETH", "id", "124") in required_facts(joined)
    assert Fact("BTC", "id", "124") not in required_facts(joined)


# --- a signal channel: side in the title, an entry zone, several targets ---------------------------
def test_signal_titles_give_the_side_and_targets_are_take_profits() -> None:
    facts = required_facts(SIGNAL_CHANNEL)
    assert {
        Fact("BTC", "side", "LONG"),
        Fact("BTC", "sl", "86,900"),
        Fact("BTC", "tp", "91,000"),
        Fact("SOL", "side", "SHORT"),
        Fact("SOL", "sl", "147.9"),
        Fact("SOL", "tp", "135.0"),
    } <= facts


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_signal_zones_and_every_target_survive(mode: str) -> None:
    """`minimal`/`emergency` kept only `SOL/USDT SHORT`: every entry, stop and target was dropped."""
    out = compress_checked(SIGNAL_CHANNEL, mode)
    for symbol, values in {
        "BTC": ("89,200", "89,500", "86,900", "91,000", "93,500", "96,000"),
        "SOL": ("141.0", "147.9", "135.0", "130.0", "128.0"),
    }.items():
        for value in values:
            assert symbol in owned_by(out, ("BTC", "SOL"), value), (symbol, value)


# --- ReAct: `Final Answer:` is the answer's example, whatever its keys -----------------------------
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_react_final_answer_and_its_allowed_values_are_kept(mode: str) -> None:
    out = compress_checked(REACT_ANSWER, mode)
    assert "Final Answer: {" in out
    assert '"BTCUSDT"' in out.split("Final Answer:")[1]
    assert line_kept(out, "Each value is one of: hold, close, tighten_stop.")
    assert line_kept(out, "Do not copy the example values.")


# --- a tool's JSON Schema is the answer contract ---------------------------------------------------
def _schema(text: str) -> object:
    line = next(ln for ln in text.splitlines() if ln.startswith('{"name"'))
    return json.loads(line)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_tool_schema_is_kept_whole_in_every_mode(mode: str) -> None:
    """`emergency` dropped it ("JSON block without market facts"): the model had no way to answer."""
    out = compress_checked(TOOL_SCHEMA, mode)
    assert _schema(out) == _schema(TOOL_SCHEMA)  # no enum, type or key rewritten as an example value


# --- Russian: market words, positions, prohibitions, "JSON only" -----------------------------------
def test_russian_labels_and_a_position_written_with_po_are_facts() -> None:
    facts = required_facts(RUSSIAN)
    assert {
        Fact("BTC", "price", "91 230,50"),
        Fact("BTC", "trend", "восходящий"),
        Fact("ETH", "price", "3 012,44"),
        Fact("BTC", "side", "LONG"),
        Fact("BTC", "qty", "0,05"),
        Fact("BTC", "entry", "89 244,47"),
    } <= facts


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_russian_prices_survive_every_mode(mode: str) -> None:
    """`minimal` kept `BTC: RSI 52,1` of `BTC: цена 91 230,50, RSI 52,1, ...`: the price went."""
    out = compress_checked(RUSSIAN, mode)
    for value in ("91 230,50", "3 012,44", "89 244,47", "86 979,38", "95 133,70"):
        assert value in out


@pytest.mark.parametrize("mode", ["lossless", "analysis", "standard"])
def test_russian_instructions_are_kept(mode: str) -> None:
    out = compress_checked(RUSSIAN, mode)
    for line in (
        "Всегда ставь стоп-лосс.",
        "НИКОГДА не открывай больше двух позиций.",
        "Не копируй значения из примера!",
    ):
        assert line_kept(out, line)


@pytest.mark.parametrize("mode", ["minimal", "emergency"])
def test_russian_do_not_copy_and_json_only_are_the_contract(mode: str) -> None:
    out = compress_checked(RUSSIAN, mode)
    assert line_kept(out, "Не копируй значения из примера!")
    assert "строго в формате JSON" in out
    assert line_kept(out, "signal: одно из buy, sell, hold.")


@pytest.mark.parametrize(
    "line",
    [
        "Не открывай позицию без стопа.",
        "Ne copiez pas les valeurs de l'exemple.",
        "Non usare la leva oltre 5x.",
    ],
)
def test_a_prohibition_that_starts_with_not_is_an_instruction(line: str) -> None:
    assert is_instruction(line)


def test_english_no_at_the_start_is_not_an_instruction() -> None:
    assert not is_instruction("No clear trend on the 4h chart.")


# --- labels with a qualifier in parentheses --------------------------------------------------------
def test_a_qualifier_in_parentheses_does_not_hide_the_label() -> None:
    facts = required_facts(QUALIFIED_LABELS)
    assert {
        Fact("BTC", "rsi", "52.1"),
        Fact("BTC", "trend", "bullish"),
        Fact("ETH", "trend", "bearish"),
    } <= facts
    grid = "BNB-USDT: last 612.4 | RSI(14, 1h) 38.9 | trend: down | 24h range 598.1-641.7"
    assert {Fact("BNB", "rsi", "38.9"), Fact("BNB", "trend", "down")} <= required_facts(grid)


@pytest.mark.parametrize("mode", ["minimal", "emergency"])
def test_a_trend_with_a_qualifier_survives(mode: str) -> None:
    """The `trend (ema_50 vs ema_200)` lines were dropped as "without required facts"."""
    out = compress_checked(QUALIFIED_LABELS, mode)
    assert "BTC" in owned_by(out, ("BTC", "ETH"), "bullish")
    assert "ETH" in owned_by(out, ("BTC", "ETH"), "bearish")


# --- lossless keeps a fence (the other levels save its tokens; the example itself stays) -------------
def test_lossless_keeps_the_fence_of_an_answer_example() -> None:
    out = compress_checked(FENCED_ANSWER, "lossless")
    assert "```json\n{" in out
    assert out.rstrip().endswith("}\n```")


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_fenced_answer_example_keeps_its_keys(mode: str) -> None:
    out = compress_checked(FENCED_ANSWER, mode)
    assert '{"symbol":' in out.replace(" ", "")
    assert '"action":"hold"' in out.replace(" ", "")


def test_a_line_kept_whole_is_not_reported_dropped() -> None:
    result = AdaptivePromptCompressor("gpt-4o").compress_by_context(FENCED_ANSWER, "minimal")
    assert all(d.kept is None or d.kept != d.text for d in result.dropped)


# --- exchange payloads as libraries return them: ccxt positions, Hyperliquid state, `Label: {json}` --
def test_ccxt_positions_are_positions_and_take_profit_price_is_no_price() -> None:
    """`takeProfitPrice` was read as the price (95133.7) and a `null` one as the price `None`; the
    positions, with `stopLossPrice`/`takeProfitPrice`, were not positions at all."""
    facts = required_facts(CCXT_POSITIONS)
    assert {
        Fact("BTC", "side", "long"),
        Fact("BTC", "qty", "0.05"),
        Fact("BTC", "entry", "89244.47"),
        Fact("BTC", "sl", "86979.38"),
        Fact("BTC", "tp", "95133.7"),
        Fact("ETH", "side", "short"),
        Fact("ETH", "entry", "3012.44"),
        Fact("BTC", "price", "90603.52"),  # the ticker's `last`, behind its `Tickers:` label
        Fact("ETH", "price", "2990.1"),
    } <= facts
    assert Fact("BTC", "price", "95133.7") not in facts
    assert not any(f.value == "None" for f in facts)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_ccxt_stop_loss_and_tickers_survive_every_mode(mode: str) -> None:
    """`emergency` dropped `stopLossPrice` (and the `Tickers:` line whole) while keeping the take
    profit as if it were a price."""
    out = compress_checked(CCXT_POSITIONS, mode)
    assert '"stopLossPrice":86979.38' in out.replace(" ", "")
    assert out.count("Tickers:") == 1
    assert '"last":90603.52' in out.replace(" ", "")


def test_hyperliquid_positions_by_signed_size() -> None:
    facts = required_facts(HYPERLIQUID_STATE)
    assert {
        Fact("BTC", "qty", "0.05"),
        Fact("BTC", "entry", "89244.4"),
        Fact("SOL", "qty", "-12.0"),
        Fact("SOL", "entry", "141.2"),
        Fact("BTC", "price", "90603.5"),  # `Mid prices: {...}`: the label names the measure
        Fact("SOL", "price", "141.48"),
    } <= facts


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_hyperliquid_sizes_entries_and_mid_prices_survive(mode: str) -> None:
    out = compress_checked(HYPERLIQUID_STATE, mode).replace(" ", "")
    for kept in (
        '"szi":"0.05"',
        '"entryPx":"89244.4"',
        '"szi":"-12.0"',
        '"entryPx":"141.2"',
        '"SOL":"141.48"',
    ):
        assert kept in out
    assert "Midprices:{" in out


@pytest.mark.parametrize(
    "line",
    [
        'Respond with JSON: {"signal": "buy|sell|hold"}',  # the answer's example
        'Final Answer: {"BTCUSDT": "hold"}',
        "Mid prices: [113910.5, 113999.5, 114022.0]",  # a series, shortened as series are
    ],
)
def test_a_label_before_json_that_is_no_data_is_left_as_it_was(line: str) -> None:
    assert parse(line).blocks[0].kind is not Kind.JSON


# --- Hummingbot `status`: aligned tables whose column names have spaces; live state is no history ---
def test_aligned_columns_named_in_several_words_are_a_table() -> None:
    doc = parse(HUMMINGBOT_STATUS)
    headers = [b.header for b in doc.blocks if b.kind is Kind.TABLE]
    assert ("Exchange", "Market", "Best Bid", "Best Ask", "Ref Price (MidPrice)") in headers
    assert ("Level", "Type", "Price", "Spread", "Amount (Orig)", "Amount (Adj)", "Age") in headers
    assert Fact("ETH", "price", "2990.10") in required_facts(HUMMINGBOT_STATUS)


@pytest.mark.parametrize("mode", ["lossless", "analysis", "standard"])
def test_balances_and_resting_orders_keep_every_row(mode: str) -> None:
    """`standard` cut the tables to their last row ("the latest"), as if resting orders and balances
    were candles: a table without a time index is live state."""
    out = compress_checked(HUMMINGBOT_STATUS, mode)
    for value in ("2984.12", "2996.08", "1.2000", "3512.44", "0.8000", "2300.10"):
        assert value in out


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_the_mid_price_survives(mode: str) -> None:
    """`emergency` dropped the markets table: its `Ref Price (MidPrice)` was no price."""
    assert "ETH" in owned_by(compress_checked(HUMMINGBOT_STATUS, mode), ("ETH",), "2990.10")


# --- LangChain's PydanticOutputParser format instructions ------------------------------------------
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_langchain_output_schema_is_kept_and_checked(mode: str) -> None:
    """`emergency` raised FidelityError ("missing format: answer key '$ref'") on a correct output: the
    check looked for the key between word boundaries, and there is none before a `$`."""
    out = compress_checked(LANGCHAIN_FORMAT, mode)
    assert '"$ref":"#/definitions/Decision"' in out.replace(" ", "")
    assert '"enum":["buy","sell","hold"]' in out.replace(" ", "")


# --- Japanese values separated by `、`; German "never copy" ----------------------------------------
def test_japanese_entity_values_separated_by_the_ideographic_comma_are_facts() -> None:
    assert {
        Fact("BTC", "price", "14,920,000"),
        Fact("BTC", "rsi", "52.1"),
        Fact("ETH", "price", "456,780"),
    } <= required_facts(JAPANESE_MARKET)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_japanese_market_data_survives_every_mode(mode: str) -> None:
    """`emergency` dropped both market lines (no fact was read in them)."""
    out = compress_checked(JAPANESE_MARKET, mode)
    for value in ("14,920,000", "52.1", "456,780", "47.8"):
        assert value in out


def test_german_never_copy_is_the_do_not_copy_kind() -> None:
    prompt = 'BTC: Kurs 91.230,50\nAntworte nur mit JSON: {"BTC": "kaufen|halten"}\nKopiere niemals die Beispielwerte.\n'
    assert line_kept(compress_checked(prompt, "emergency"), "Kopiere niemals die Beispielwerte.")


@pytest.mark.parametrize(
    "line",
    [
        "No copies los valores del ejemplo.",
        "No abras posiciones nuevas si el RSI > 70.",
        "No operes contra la tendencia de 4h.",
        "N'utilisez pas plus de 5x de levier.",
        "N’ouvrez pas de position sans stop loss.",
    ],
)
def test_spanish_and_french_prohibitions_are_instructions(line: str) -> None:
    """Spanish forbids with `No` + the verb, French with `N'` + the verb: both were read as plain prose
    (English `No ...` starts data as often), so `standard` could trim them."""
    assert is_instruction(line)


@pytest.mark.parametrize(
    "line",
    ["No clear trend.", "No trades in the last 24h.", "No open positions.", "No hay posiciones abiertas."],
)
def test_a_line_that_starts_with_no_is_not_for_that_an_instruction(line: str) -> None:
    assert not is_instruction(line)


def test_a_spanish_prohibition_survives_standard() -> None:
    prompt = (
        "## Mercado\nBTC: precio 91.230,50, RSI 52,1, tendencia alcista. El volumen sube. El spread es estrecho.\n"
        "Las noticias son neutrales. No operes contra la tendencia principal. El funding es bajo.\n"
        '## Formato\nResponde solo con JSON: {"BTC": "comprar|mantener|vender"}\n'
    )
    assert "No operes contra la tendencia principal." in compress_checked(prompt, "standard")


ONE_LINE_POSITIONS = """## Market
BTC: price 91,230.50, RSI 52.1, trend up. Funding is flat and open interest rose overnight.
ETH: price 3,012.44, RSI 47.8, trend flat. The order book is thin above 3,050.

## Notes
Volatility has been compressing for three sessions. Weekend liquidity is usually lower.
Macro calendar is quiet until Thursday. Treat breakouts with care.

## Positions
ETH long 0.05 @ 2,965.10 | SL 2,850.00 | TP 3,200.00
- SOLUSDT short 12 @ $142.65, stop: $147.10, take profit: $131.00

## Answer
Respond with JSON only: {"ETH": "hold|close", "SOLUSDT": "hold|close"}
Do not copy the example values.
"""


def test_a_position_on_one_line_states_its_facts() -> None:
    """`SYM long qty @ entry | SL x | TP y` was kept as written but stated no fact: a compression that
    lost it would have passed the check."""
    facts = required_facts(ONE_LINE_POSITIONS)
    assert {
        (f.kind, f.value) for f in facts if f.symbol == "ETH" and f.kind not in ("price", "rsi", "trend")
    } == {
        ("position", "ETH"),
        ("side", "long"),
        ("qty", "0.05"),
        ("entry", "2,965.10"),
        ("sl", "2,850.00"),
        ("tp", "3,200.00"),
    }
    assert Fact("SOL", "tp", "$131.00") in facts
    assert not required_facts("BTC long bias since Monday at 90,000\n")  # a side, no position


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_one_line_positions_survive_every_mode(mode: str) -> None:
    out = compress_checked(ONE_LINE_POSITIONS, mode)
    for number in ("2,965.10", "2,850.00", "3,200.00", "$142.65", "$147.10", "$131.00"):
        assert number in out


def test_losing_a_one_line_position_is_caught_by_the_check() -> None:
    without = ONE_LINE_POSITIONS.replace("ETH long 0.05 @ 2,965.10 | SL 2,850.00 | TP 3,200.00\n", "")
    assert (
        Fact("ETH", "sl", "2,850.00")
        in check_fidelity(ONE_LINE_POSITIONS, without, "emergency").missing_facts
    )
