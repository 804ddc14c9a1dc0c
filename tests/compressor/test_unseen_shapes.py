"""Defects found by trying the compressor on prompt shapes it had never seen (a red-team pass: other
number notations, indented position blocks, hostile characters), each fixed and kept as written here.

Every check is string work on the output, not the compressor's parser; `verify=True` also runs the
compressor's own fidelity check, which must neither raise on these prompts nor miss a change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity, required_facts
from pytest_oxbot.compressor.template import expand
from pytest_oxbot.tokens import count_tokens

from .factcheck import numbers_kept_as_written

COMPRESSOR = AdaptivePromptCompressor("gpt-4o", verify=True)
MODES = ("analysis", "standard", "minimal", "emergency")
ANSWER = 'Answer JSON only: {"ETH": {"signal": "buy|sell|hold"}}'
ETH_LINES = "ETH:\n  side: long\n  quantity: 1.25\n  entry: 2965.10\n  stop loss: 2890.00\n"
ETH_LINES += "  take profit: 3150.00\n"


def compress(prompt: str, mode: str) -> str:
    out = str(COMPRESSOR.compress_by_context(prompt, mode))
    assert changed_numbers(prompt, out) == []
    assert numbers_kept_as_written(prompt, out) == []
    assert check_fidelity(prompt, out, mode).ok
    return out


def assert_kept(prompt: str, mode: str, *texts: str) -> str:
    """`compress`, and each of `texts` is in the output as written."""
    out = compress(prompt, mode)
    missing = [t for t in texts if t not in out]
    assert missing == [], f"lost {missing} from {out!r}"
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("entry", "sl", "tp", "qty", "pnl"),
    [
        ("2 965,10", "2 890,00", "3 150,00", "1.25", "+59.23"),  # space thousands, decimal comma
        ("2.965,10", "2.890,00", "3.150,00", "1,25", "+59,23"),  # European: dot thousands, decimal comma
        ("2'965.10", "2'890.00", "3'150.00", "1.25", "+59.23"),  # Swiss apostrophe thousands
    ],
    ids=["space", "european", "apostrophe"],
)
def test_a_position_in_another_number_notation_keeps_every_value_whole(
    mode: str, entry: str, sl: str, tp: str, qty: str, pnl: str
) -> None:
    """`entry 2 965,10` was condensed to `entry=2` (minimal, emergency) and the check said fine."""
    prompt = f"- ETH: side long, qty {qty}, entry {entry}, SL {sl}, TP {tp}, P&L {pnl}\n{ANSWER}\n"
    out = compress(prompt, mode)
    for value in (entry, sl, tp, qty, pnl):
        assert value in out, f"{value} not whole in {out!r}"


@pytest.mark.parametrize("mode", MODES)
def test_an_accounting_negative_keeps_its_parentheses(mode: str) -> None:
    """`unrealized P&L: (1,234.50)` came out as `pnl=1,234.50`: a loss read as a gain."""
    prompt = f"{ETH_LINES}  unrealized P&L: (1,234.50)\n\n{ANSWER}\n"
    out = compress(prompt, mode)
    assert "(1,234.50)" in out
    assert ANSWER in out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("blank", ["", "\n"], ids=["no blank line", "blank line"])
def test_the_answer_line_after_an_indented_position_is_never_condensed_away(mode: str, blank: str) -> None:
    """The answer line right after an indented `key: value` position went with the position's lines
    ("position lines condensed") in minimal and emergency."""
    prompt = f"{ETH_LINES}  unrealized P&L: +59.23\n{blank}{ANSWER}\n"
    out = compress(prompt, mode)
    assert ANSWER in out
    for value in ("2965.10", "2890.00", "3150.00"):
        assert value in out


@pytest.mark.parametrize("mode", ["analysis", "standard"])
@pytest.mark.parametrize("label", ["volumes", "closes", "15m closes"])
def test_a_series_named_after_its_symbol_is_not_read_as_prices(mode: str, label: str) -> None:
    """`BTC 1m volumes: 12.5, ...` became `BTC 1m volumes: price 9.4, ...`: volumes read as prices."""
    line = f"BTC 1m {label}: 12.5, 13.1, 9.4, 11.0, 10.2"
    out = compress(f"{line}\nYou MUST answer in JSON.\n", mode)
    assert "price" not in out
    assert out.splitlines()[0].startswith(f"BTC 1m {label}: ")


def test_a_bare_number_after_a_coin_name_is_still_its_price() -> None:
    line = "- **Shiba Inu (SHIB)**: $0.00001234 (+1.20%), RSI 55.1, trend up"
    out = compress(f"{line}\nYou MUST answer in JSON.\n", "emergency")
    assert "$0.00001234" in out


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_a_unit_moved_to_a_column_header_is_not_a_lost_fact(mode: str) -> None:
    """Pivoted positions put `USDT` into the header `unrealized P&L (USDT)`; the compressor's own check
    then did not know the column and raised FidelityError on a harmless prompt."""
    block = "- {sym}\n  - side: {side}\n  - quantity: {q}\n  - entry: {e}\n"
    block += "  - stop loss: {sl}\n  - take profit: {tp}\n"
    prompt = (
        "Positions\n"
        + block.format(sym="SOL", side="short", q="40", e="148.92", sl="153.40", tp="135.00")
        + "  - unrealized P&L: +273.80 USDT\n"
        + block.format(sym="BTC", side="long", q="0.05", e="87910.00", sl="86500.00", tp="92000.00")
        + "  - unrealized P&L: +65.77 USDT\n\n"
        + ANSWER
        + "\n"
    )
    out = compress(prompt, mode)
    assert "+273.80" in out
    assert "+65.77" in out


@pytest.mark.parametrize("mode", MODES)
def test_a_lone_surrogate_is_counted_not_a_crash(mode: str) -> None:
    prompt = "BTC price 89,225.34 \ud83d RSI 55.2\n"
    out = compress(prompt, mode)
    assert "89,225.34" in out
    assert count_tokens(prompt, "gpt-4o") > 0


@pytest.mark.parametrize("mode", MODES)
def test_a_zero_width_joiner_never_glues_two_numbers(mode: str) -> None:
    """`55<ZWJ>.2` lost its joiner as if it were emoji decoration and read `55.2`."""
    prompt = "BTC RSI 55\u200d.2\nYou MUST answer in JSON.\n"
    assert "55.2" not in compress(prompt, mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_keep_span_is_verbatim_with_its_blank_lines(mode: str) -> None:
    prompt = "<keep>line one 1.5\n\nline three 2.5</keep>\nYou MUST answer in JSON.\n"
    assert compress(prompt, mode).startswith("line one 1.5\n\nline three 2.5\n")


POSITION_SHAPES = {
    "one line with @": "POSITIONS\nETH long 0.050 @ 2,965.10 | SL 2,890.00 | TP 3,150.00 | uPnL +$59.23\n",
    "perp one line": "POSITIONS\nETH-PERP long 0.050 @ 2,965.10 | SL 2,890.00 | TP 3,150.00 | uPnL +$59.23\n",
    "tab-separated pairs": (
        "POSITIONS\nETH\tside: long\tqty: 1.25\tentry: 2965.10\tSL: 2890.00\tTP: 3150.00\n"
    ),
    "TSV": (
        "OPEN POSITIONS\nsymbol\tside\tqty\tentry\tsl\ttp\tupnl\n"
        "ETH\tlong\t1.25\t2965.10\t2890.00\t3150.00\t+59.23\n"
    ),
    "fixed width": (
        "OPEN POSITIONS\nSYMBOL  SIDE   QTY    ENTRY     SL        TP        UPNL\n"
        "ETH     long   1.25   2965.10   2890.00   3150.00   +59.23\n"
    ),
    "HTML": (
        "<h2>Open positions</h2>\n<table>\n<tr><th>Symbol</th><th>Side</th><th>Qty</th><th>Entry</th>"
        "<th>Stop loss</th><th>Take profit</th></tr>\n<tr><td>ETH</td><td>LONG</td><td>1.25</td>"
        "<td>2965.10</td><td>2890.00</td><td>3150.00</td></tr>\n</table>\n"
    ),
    "code fence": (
        "## Positions\n```\nETH long qty=1.25 entry=2965.10 sl=2890.00 tp=3150.00 upnl=+59.23\n```\n"
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", POSITION_SHAPES)
def test_a_position_the_parser_does_not_read_is_kept_not_lost(shape: str, mode: str) -> None:
    """Seven shapes of one position went without a trace in emergency (and most in minimal): a
    position that cannot be condensed is kept as written."""
    prompt = POSITION_SHAPES[shape] + "\n" + ANSWER + "\n"
    out = compress(prompt, mode)
    numbers = [n for n in ("2,965.10", "2965.10") if n in prompt]
    assert numbers
    for n in numbers:
        assert n in out
    assert ("2,890.00" in out) or ("2890.00" in out)
    assert ("3,150.00" in out) or ("3150.00" in out)
    assert ANSWER in out


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_a_line_back_at_the_margin_is_not_a_field_of_the_last_position(mode: str) -> None:
    """A Telegram-style report: the account line after the indented position fields became an
    `ACCOUNT` column of the DOGE row when the positions were pivoted into a table."""
    prompt = (
        "1️⃣ ETH 🟩 LONG x5\n   📦 Size: 1.25 ETH\n   🎯 Entry: $2,965.10\n   🛑 SL: $2,890.00\n"
        "   ✅ TP: $3,150.00\n   💵 PnL: +$59.23 (+1.99%) 🤑\n"
        "2️⃣ DOGE 🟥 SHORT x3\n   📦 Size: 12,000 DOGE\n   🎯 Entry: $0.18120\n   🛑 SL: $0.18900\n"
        "   ✅ TP: $0.16500\n   💵 PnL: +$43.32 (+1.99%) 🤑\n"
        "💳 *ACCOUNT*: equity $12,133.80 • free $8,948.54 • 🔥 margin 26.2%\n"
    )
    out = compress(prompt, mode)
    account = [line for line in out.splitlines() if "$12,133.80" in line]
    assert len(account) == 1
    assert "DOGE" not in account[0]
    assert "$0.16500" not in account[0]


@pytest.mark.parametrize("mode", ["minimal", "emergency"])
def test_an_answer_template_under_a_lead_in_another_language_keeps_its_keys(mode: str) -> None:
    """Under `Responde solo con JSON:` the template was pruned to `{"BTC":{"stop_loss":0.0}}` in
    emergency: its allowed choices (`comprar|vender|mantener`) now mark it as the answer format."""
    prompt = (
        "Responde solo con JSON:\n"
        '{"BTC": {"señal": "comprar|vender|mantener", "confianza": 0.0, "stop_loss": 0.0}}\n'
    )
    assert_kept(prompt, mode, '"señal"', "comprar|vender|mantener", '"confianza"', '"stop_loss"')


@pytest.mark.parametrize("mode", MODES)
def test_a_prompt_that_is_one_json_document_keeps_its_data_and_rules(mode: str) -> None:
    """The whole document was taken for the answer example: in minimal/emergency every position value
    became `number` and the rules `[string]`. Only the example's values are typed now."""
    prompt = (
        '{"positions": [{"symbol": "ETH", "side": "long", "quantity": 1.25, "entry_price": 2965.1, '
        '"stop_loss": 2890.0, "take_profit": 3150.0, "unrealized_pnl": 59.23}], '
        '"rules": ["NEVER remove a stop loss."], "response_format": {"instructions": '
        '"Respond with JSON only. Do not copy the example values.", '
        '"example": {"ETH": {"signal": "buy|sell|hold", "confidence": 0.5}}}}\n'
    )
    out = assert_kept(
        prompt, mode, "2965.1", "2890.0", "3150.0", "59.23", "NEVER remove a stop loss.", "Do not copy"
    )
    assert "buy|sell|hold" in out


MARKET = "Market:\n  BTC: price 91,234.50, rsi 55.2\n  ETH: price 3,012.40, rsi 61.0\n\n"
YAML_TEMPLATE = (
    "decisions:\n"
    "  - symbol: BTC\n"
    "    action: buy|sell|hold\n"
    "    size_pct: 0-100\n"
    "  - symbol: ETH\n"
    "    action: buy|sell|hold\n"
    "    size_pct: 0-100\n"
)


TSV_SECTION = (
    "OUTPUT FORMAT\n"
    "Answer with tab-separated values, one line per symbol, with these columns:\n"
    "symbol\tsignal\tconfidence\tstop_loss\n"
    "BTC\tbuy|sell|hold\t0.0-1.0\tnumber\n"
)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("lead", "section", "after"),
    [
        ("Respond in YAML with these keys:\n", YAML_TEMPLATE, "Do not add commentary.\n"),
        ("", TSV_SECTION, ""),
    ],
    ids=["unfenced YAML", "tab-separated"],
)
def test_an_answer_format_in_another_shape_is_kept_as_written(
    lead: str, section: str, after: str, mode: str
) -> None:
    """An unfenced YAML template: standard stripped its indentation (`- symbol: BTC` / `action: ...` at
    the margin is another YAML structure), minimal kept two `size_pct` lines, emergency only the lead.
    A tab-separated one: standard turned the tabs into spaces; minimal and emergency dropped it whole,
    heading included (`OUTPUT FORMAT` without `#` or `:` was not taken for a heading)."""
    prompt = f"You are a crypto trading assistant.\n\n{MARKET}{lead}{section}{after}"
    out = compress(prompt, mode)
    assert section in out + "\n"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "line",
    [
        "No copies los valores del ejemplo.",
        "Ne copiez pas les valeurs de l'exemple.",
        "Kopiere nicht die Beispielwerte.",
    ],
)
def test_a_do_not_copy_line_in_another_language_stays_in_the_answer_section(line: str, mode: str) -> None:
    """`No copies los valores del ejemplo.` under the RESPONSE FORMAT heading went in minimal and
    emergency: only English "do not copy" lines were known. A sentence in the answer-format section is
    about the answer, whatever its language."""
    prompt = f"{MARKET}## RESPONSE FORMAT\n{ANSWER}\n{line}\n"
    out = compress(prompt, mode)
    assert line in out


@pytest.mark.parametrize("mode", MODES)
def test_instruction_lines_that_differ_only_in_emoji_are_not_duplicates(mode: str) -> None:
    """`🟢 Do not short.` under BTC and `🔴 Do not short.` under ETH: the second was dropped as a
    duplicate of the first (emoji were ignored when comparing)."""
    prompt = (
        "## BTC\n🟢 Trend: up\n🟢 Do not short.\nPrice: 91,234.50\n\n"
        "## ETH\n🔴 Trend: down\n🔴 Do not short.\nPrice: 3,012.40\n\n"
        f"## RESPONSE FORMAT\n{ANSWER}\n"
    )
    out = compress(prompt, mode)
    if mode in ("analysis", "standard"):
        assert out.count("Do not short.") == 2


YAML_MARKET = (
    "You are a trading bot.\n"
    "market:\n"
    "  - symbol: BTC\n    price: 91234.50\n    rsi: 55.2\n"
    "  - symbol: ETH\n    price: 3012.40\n    rsi: 61.0\n"
    f"{ANSWER}\n"
)


def test_market_data_in_a_yaml_list_is_read_as_required_facts() -> None:
    """`- symbol: BTC` then `price: ...`: the price had no symbol, so no fact was required of it."""
    facts = {(f.symbol, f.kind, f.value) for f in required_facts(YAML_MARKET)}
    assert {("BTC", "price", "91234.50"), ("BTC", "rsi", "55.2"), ("ETH", "price", "3012.40")} <= facts


@pytest.mark.parametrize("mode", MODES)
def test_market_data_in_a_yaml_list_survives_every_mode_with_its_symbol(mode: str) -> None:
    """Emergency dropped every price and RSI of a YAML market list (and the check did not see it)."""
    out = compress(YAML_MARKET, mode)
    for sym, price, rsi in (("BTC", "91234.50", "55.2"), ("ETH", "3012.40", "61.0")):
        line = next(ln for ln in out.splitlines() if price in ln)
        assert sym in line or any(sym in ln for ln in out.splitlines() if rsi in ln)
        assert rsi in out


def test_a_line_lost_inside_a_bullet_is_reported_under_its_own_line_number() -> None:
    """What went of `- symbol: BTC` was reported as line 1 (the bullet's content had no line)."""
    prompt = "Intro line.\nassets:\n  - symbol: BTC\n    volume: 5\n  - symbol: ETH\n    volume: 7\n"
    prompt += ANSWER + "\n"
    result = COMPRESSOR.compress_by_context(prompt, "emergency")
    lines = prompt.splitlines()
    assert [(d.line, d.text) for d in result.dropped] == [
        (n, lines[n - 1].strip()) for n in (1, 3, 4, 5, 6)
    ], result.report()


@pytest.mark.parametrize("mode", MODES)
def test_a_stray_closing_keep_marker_is_taken_out_and_its_line_kept(mode: str) -> None:
    """A `</keep>` without its `<keep>` stayed in the prompt sent to the model, and its line could go."""
    prompt = "Intro.\nStay flat on weekends.</keep>\nBTC price 91,234.50\n" + ANSWER + "\n"
    out = compress(prompt, mode)
    assert "keep>" not in out
    assert "Stay flat on weekends." in out


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("Bitcoin Cash (BCH) price 512.30", ["BCH"]),
        ("### Bitcoin Cash (BCH/USDT)", ["BCH"]),
        ("Ethereum Classic and Bitcoin", ["ETC", "BTC"]),
        ("Bitcoin SV lags Bitcoin", ["BSV", "BTC"]),
        ("Wrapped Bitcoin (WBTC) tracks BTC", ["WBTC", "BTC"]),
    ],
)
def test_a_two_word_coin_name_names_one_coin(text: str, symbols: list[str]) -> None:
    """`Bitcoin Cash (BCH)` was read as naming BTC and BCH: a line about one coin named two, so its
    price belonged to neither."""
    from pytest_oxbot.compressor.text import symbols_in

    assert symbols_in(text) == symbols


def test_the_price_of_bitcoin_cash_is_a_fact_about_bch() -> None:
    prompt = "### Bitcoin Cash (BCH/USDT)\n- Price: $512.30\n- RSI(14): 48.1\n" + ANSWER + "\n"
    facts = {(f.symbol, f.kind, f.value) for f in required_facts(prompt)}
    assert ("BCH", "price", "$512.30") in facts or ("BCH", "price", "512.30") in facts
    assert not any(sym == "BTC" for sym, _, _ in facts)


def _candles(n: int) -> list[str]:
    return [f"BTC 1m close {90000 + 7.25 * i:.2f} at 14:{i:02d}" for i in range(n)]


@pytest.mark.parametrize(("mode", "kept"), [("analysis", 10), ("standard", 3), ("emergency", 1)])
def test_a_series_written_one_value_per_line_keeps_its_last_lines(mode: str, kept: int) -> None:
    """40 lines `BTC 1m close X at T` went through every mode untouched (a 10,000-line dump too): they are
    a series written one value per line, so they keep their last lines as a series keeps its last values,
    and the last (the current close) in every mode."""
    candles = _candles(40)
    prompt = "Recent candles:\n" + "\n".join(candles) + "\n" + ANSWER + "\n"
    result = COMPRESSOR.compress_by_context(prompt, mode)
    out = str(result)  # (lines alike but for their values may be written as one template: read back)
    assert [ln for ln in expand(out).splitlines() if ln.startswith("BTC 1m close")] == candles[-kept:]
    history = [d for d in result.dropped if d.reason.startswith("history")]
    assert [d.text for d in history] == candles[:-kept]
    assert str(COMPRESSOR.compress_by_context(out, mode)) == out  # idempotent


@pytest.mark.parametrize("mode", MODES)
def test_short_runs_of_alike_lines_are_kept_whole(mode: str) -> None:
    """Seven lines alike, a line of another shape, seven more: two lists, not a dump of history."""
    candles = _candles(14)
    prompt = "\n".join(candles[:7]) + "\nETH price 3,012.40\n" + "\n".join(candles[7:]) + "\n" + ANSWER + "\n"
    out = compress(prompt, mode)
    if mode in ("analysis", "standard"):
        assert all(c in expand(out) for c in candles)


def test_a_ten_thousand_line_dump_compresses_in_every_mode() -> None:
    start = datetime(2025, 11, 1)
    candles = [
        f"BTC 1m close {90000 + i / 100:.2f} at {start + timedelta(minutes=i):%Y-%m-%d %H:%M}"
        for i in range(10_000)
    ]
    prompt = "\n".join(candles) + "\n" + ANSWER + "\n"
    for mode in MODES:
        result = COMPRESSOR.compress_by_context(prompt, mode)
        assert result.compressed_tokens < result.original_tokens / 50
        assert candles[-1] in expand(str(result))


# (role sentence, instruction sentence, rules heading, rule, format heading, answer lead, do not copy)
LANGUAGES = {
    "es": (
        "Eres un bot de trading.",
        "Nunca cierres posiciones con ganancias pequeñas.",
        "Reglas",
        "Arriesga como máximo el 2% por operación. Siempre usa stop loss.",
        "Formato de respuesta",
        "Responde solo con JSON:",
        "No copies los valores del ejemplo.",
    ),
    "pt": (
        "Você é um bot de trading.",
        "Nunca feche posições com lucros pequenos.",
        "Regras",
        "Arrisque no máximo 2% por operação. Sempre use stop loss.",
        "Formato da resposta",
        "Responda apenas com JSON:",
        "Não copie os valores do exemplo.",
    ),
    "fr": (
        "Tu es un bot de trading.",
        "Ne ferme jamais une position pour un petit gain.",
        "Règles",
        "Risque au plus 2% par opération. Utilisez toujours un stop loss.",
        "Format de réponse",
        "Réponds uniquement en JSON :",
        "Ne copiez pas les valeurs de l'exemple.",
    ),
    "de": (
        "Du bist ein Trading-Bot.",
        "Schließe niemals eine Position für einen kleinen Gewinn.",
        "Regeln",
        "Riskiere höchstens 2% pro Trade. Verwende immer einen Stop-Loss.",
        "Antwortformat",
        "Antworte nur mit JSON:",
        "Kopiere nicht die Beispielwerte.",
    ),
    "it": (
        "Sei un bot di trading.",
        "Non chiudere mai una posizione per un piccolo guadagno, è vietato.",
        "Regole",
        "Rischia al massimo il 2% per operazione. Usa sempre uno stop loss.",
        "Formato della risposta",
        "Rispondi solo in JSON:",
        "Non copiare i valori dell'esempio.",
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_instructions_rules_and_answer_format_in_other_languages(lang: str, mode: str) -> None:
    """A Spanish prompt lost `Nunca cierres posiciones...` and `Siempre usa stop loss.` in standard (the
    second sentence of a line is kept only if it is an instruction, and only English ones were known), and
    its answer template in minimal/emergency (`Formato de respuesta` was not an answer-format heading)."""
    role, never, rules, rule, fmt, lead, dont_copy = LANGUAGES[lang]
    prompt = (
        f"{role} {never}\n\n## Market\nBTC price 91,234.50 RSI 55.2\n\n## {rules}\n{rule}\n\n## {fmt}\n"
        f'{lead} {{"BTC": {{"signal": "buy|sell|hold", "confidence": 0.0}}}}\n{dont_copy}\n'
    )
    out = compress(prompt, mode)
    assert dont_copy in out
    for kept in ('"signal"', "buy|sell|hold", '"confidence"'):
        assert kept in out
    if mode in ("analysis", "standard"):
        assert never in out
        assert rule in out


ORDER_BOOK = [f"bid {i + 1}: {3012.10 - 0.15 * i:.2f} x {1 + i * 0.5:.2f}" for i in range(10)]


@pytest.mark.parametrize("mode", ["analysis", "standard"])
@pytest.mark.parametrize(
    "lines",
    [
        ORDER_BOOK,  # best level first: live state, not history
        [f"BTC 1m close {90000 + 7.25 * i:.2f} at 14:{59 - i:02d}" for i in range(10)],  # newest first
        [f"Grid order {i + 1}: buy 0.01 BTC at {88000 + 250 * i}" for i in range(10)],
    ],
    ids=["order book", "newest first", "grid orders"],
)
def test_alike_lines_that_are_not_a_history_oldest_first_are_kept_whole(mode: str, lines: list[str]) -> None:
    """An order book listed best level first kept only its three worst levels in standard, and the
    instruction after it pointed at the best bid, now gone: only lines stamped oldest first are history."""
    prompt = "\n".join(lines) + "\nQuote around the best bid. " + ANSWER + "\n"
    out = expand(compress(prompt, mode))
    for line in lines:
        assert line in out


# A second red-team pass (20 more prompt shapes): the defects its minimal reproductions showed.
BTC_LINE = "BTC: price 89225.34, rsi 55.2\n"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "answer",
    [
        'Respond in JSON: {"signal": "buy|sell|hold"}',
        'Output: {"signal": "buy|sell|hold"}',
        'Format: {"BTC": {"action": "buy|sell|hold"}}',
        'Respond with {"signal": "buy|sell|hold"}',
        'Reply {"BTC": {"signal": "buy|sell|hold"}} and nothing else.',
    ],
)
def test_an_answer_example_inside_a_line_is_the_answer_format(answer: str, mode: str) -> None:
    """`Respond in JSON: {"signal": ...}` (a `key: value` line) and `Respond with {...}` went in
    emergency (and minimal), keys and allowed values with them, and the check said fine."""
    out = compress(BTC_LINE + answer + "\n", mode)
    assert "buy|sell|hold" in out
    assert '"signal"' in out or '"action"' in out


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_an_instruction_that_carries_a_list_is_never_shortened(mode: str) -> None:
    """`Do not buy at these levels: [90000, ..., 92000]` was shortened like a price series to its last 3
    values in standard: two forbidden levels became allowed."""
    rule = "Do not buy at these levels: [90000, 90500, 91000, 91500, 92000]"
    out = compress(BTC_LINE + rule + "\n" + ANSWER + "\n", mode)
    assert rule in out


@pytest.mark.parametrize("mode", MODES)
def test_a_link_on_a_data_line_is_not_read_as_a_value(mode: str) -> None:
    """`RSI 55.2 ([chart](https://x.io/c))`: the colon of `https:` started a pair, `//x.io/c))` became
    BTC's RSI, and the self-check raised on a harmless prompt (without it, BTC's line went)."""
    prompt = (
        "- BTC: price 89,225.34, RSI 55.2 ([chart](https://x.io/c))\n- ETH: price 3,012.80, RSI 47.9\n"
        'Answer JSON only: {"BTC": "long|short|none"}\n'
    )
    assert_kept(prompt, mode, "89,225.34", "55.2", "3,012.80", "47.9")


@pytest.mark.parametrize("mode", MODES)
def test_market_facts_and_a_rule_on_one_line_keep_the_facts(mode: str) -> None:
    """`BTC last 89,225.34, RSI 55.2. You should never hold ...`: minimal/emergency dropped the whole
    line as an instruction outside the answer contract, facts included (and the self-check raised)."""
    prompt = (
        "BTC last 89,225.34, RSI 55.2. You should never hold more than 2 positions.\n"
        'Reply with JSON only: {"BTC": "buy|sell|hold"}\n'
    )
    out = compress(prompt, mode)
    assert "89,225.34" in out
    assert "55.2" in out
    if mode in ("analysis", "standard"):
        assert "You should never hold more than 2 positions." in out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "table",
    [
        "Symbol | Price | 24h | 7d | RSI\nBTC | 89,225.34 | −1.5% | (2.3%) | 55.2\n"
        "ETH | 3,012.80 | -0.8% | +4.10% | 47.9\n",
        "Symbol\tPrice\tRSI\tTrend\nBTC\t89225.34\t55.2\tup\nETH\t3012.80\t47.9\tflat\n",
    ],
    ids=["pipes without outer ones", "tab-separated"],
)
def test_a_market_table_in_another_shape_keeps_its_prices_in_every_mode(table: str, mode: str) -> None:
    """A `Symbol | Price | RSI` table without outer pipes, and a tab-separated one, were not read as
    tables: no fact was required of them and minimal/emergency dropped every price and RSI."""
    out = compress(table + "\n" + ANSWER + "\n", mode)
    for value in ("89225.34" if "\t" in table else "89,225.34", "55.2", "47.9"):
        assert value in out
    assert "Price" in out  # the header that says what the numbers are


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lead", ["Session recap:", "Recap for 2025-11-21:", "Recap (UTC):"])
def test_a_sentence_behind_a_lead_in_label_keeps_its_prices(lead: str, mode: str) -> None:
    """`Session recap: BTC last traded at 89,225.34, RSI 55.2, trend up.` was a `key: value` line whose
    key is no market field: emergency dropped it and its prices (the same sentence alone was kept)."""
    prompt = f"{lead} BTC last traded at 89,225.34, RSI 55.2, trend up.\n{ANSWER}\n"
    out = compress(prompt, mode)
    assert "89,225.34" in out
    assert "55.2" in out


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_section_written_as_numbered_fields_keeps_every_field(mode: str) -> None:
    """Under `## Answer`, `1. bid_spread — percent` / `2. action — one of KEEP, ADJUST, PAUSE`: minimal
    and emergency dropped the whole section (a Hummingbot-style prompt); under `Answer format:` only
    the field with allowed values stayed, `symbol` and `reason` went."""
    prompt = (
        "ETH: price 3012.45, rsi 48.7\n\n## Answer\nReturn these fields, one per line:\n"
        "1. bid_spread — percent\n2. action — one of KEEP, ADJUST, PAUSE\nDo not add any other text.\n"
        "\nAnswer format:\n1) symbol\n2) signal (BUY / SELL / HOLD)\n3) reason, at most 15 words\n"
    )
    assert_kept(
        prompt,
        mode,
        "bid_spread",
        "KEEP, ADJUST, PAUSE",
        "Do not add any other text.",
        "1) symbol",
        "3) reason",
    )


@pytest.mark.parametrize("mode", MODES)
def test_an_xml_answer_format_keeps_its_template_and_its_only_this_rule(mode: str) -> None:
    """`<output_format>` ... `</output_format>`: emergency dropped the whole format, minimal its
    `..., nothing else.` line; and `<ticker .../>` lines were pivoted into cells like `"up"/>`."""
    prompt = (
        '<market>\n<ticker symbol="BTC" price="89225.34" rsi="55.2" trend="up"/>\n'
        '<ticker symbol="ETH" price="3012.80" rsi="47.9" trend="down"/>\n</market>\n'
        '<output_format>\n<decision symbol="..." action="buy|sell|hold"/>\n'
        "One <decision/> element per symbol, nothing else.\n</output_format>\n"
    )
    out = compress(prompt, mode)
    assert '<decision symbol="..." action="buy|sell|hold"/>' in out
    assert "One <decision/> element per symbol, nothing else." in out
    assert '"/>|' not in out
    assert '<ticker symbol="BTC" price="89225.34" rsi="55.2" trend="up"/>' in out
