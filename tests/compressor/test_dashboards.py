"""Markdown dashboards in styles our corpus does not use: per-entity records pivot into tables whose
cells keep every number as written; a unit or a labelled aside shared by every row moves into the
header once; a column where one row differs is left as written."""

from __future__ import annotations

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity

from .factcheck import numbers_kept_as_written

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")

# A scalping bot's dashboard: `Label: value` bullets under bold coin names, units after every value.
SCALPER = """## 📊 MARKET STATE
**ETH** (Ethereum)
- Last: 3,052.18 USDT (24h Change: -1.42%)
- Spread: 0.4 bps
- Book Imbalance: 0.62 bid
**SOL** (Solana)
- Last: 142.655 USDT (24h Change: +3.05%)
- Spread: 1.1 bps
- Book Imbalance: 0.47 bid
**AVAX** (Avalanche)
- Last: 14.312 USDT (24h Change: +0.88%)
- Spread: 2.7 bps
- Book Imbalance: 0.55 bid

## RULES
- NEVER open a trade when Spread > 5 bps.

## OUTPUT FORMAT
Reply with JSON only: {"ETH": {"action": "buy|sell|hold", "size_usd": 250}}
**DO NOT copy the example values!**
"""

# A swing bot's report: `### SYMBOL` sections of `Label: value | Label: value` lines; one row lacks
# the unit the others share, so that column must stay as written.
SWING = """# Swing Report
### BTC
Close: $89,244.47 | ATR: 1,204.5 USD
Bias: bullish | Score: 7/10
### ETH
Close: $3,052.18 | ATR: 61.2 USD
Bias: bearish | Score: 4/10
### XRP
Close: $2.1843 | ATR: 0.0914
Bias: neutral | Score: 5/10

### RESPONSE FORMAT
Answer in JSON: {"BTC": {"signal": "long|short|flat", "confidence": 0.7}}
You MUST give a signal for every symbol.
"""


@pytest.mark.parametrize("prompt", [SCALPER, SWING], ids=["scalper", "swing"])
def test_new_dashboards_lose_nothing(prompt: str) -> None:
    result = COMPRESSOR.compress_by_context(prompt, "standard")
    assert check_fidelity(prompt, result, result.level).ok
    assert changed_numbers(prompt, result) == []
    assert numbers_kept_as_written(prompt, result) == []
    assert result.compressed_tokens < result.original_tokens
    again = COMPRESSOR.compress_by_context(result, "standard")
    assert str(again) in (str(result), result.text)  # idempotent: nothing left to pivot or move


def test_shared_unit_and_aside_move_into_the_header() -> None:
    result = COMPRESSOR.compress_by_context(SCALPER, "standard")
    header = next(ln for ln in result.splitlines() if ln.startswith("|name|"))
    assert "Last (USDT)" in header
    assert "24h Change" in header
    assert "Spread (bps)" in header
    assert "Book Imbalance (bid)" in header
    assert "|3,052.18|-1.42%|0.4|0.62|" in result
    assert "USDT" not in result.replace("Last (USDT)", "")  # written once, in the header


def test_a_unit_missing_from_one_row_stays_in_every_cell() -> None:
    result = COMPRESSOR.compress_by_context(SWING, "standard")
    assert "1,204.5 USD" in result
    assert "61.2 USD" in result
    assert "0.0914" in result
    assert "ATR (USD)" not in result
