"""Property tests: numbers with separators, instruction lines and position blocks inserted into generated
prompts of every shape (and the real nof1 prompts); every guarantee checked on every mode and budget.
"""

from __future__ import annotations

import dataclasses
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity
from pytest_oxbot.tokens import count_tokens

from .corpus import COINS, SHAPES, Case
from .factcheck import in_order, line_kept, numbers_kept_as_written, position_kept
from .nof1 import nof1_prompts

MODES = ["analysis", "standard", "emergency"]
COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
SYMBOLS = [s for s, _, _ in COINS]
# OXBOT_HYPOTHESIS_EXAMPLES raises the budget for a deeper local hunt; CI keeps the suite fast.
EXAMPLES = int(os.environ.get("OXBOT_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclasses.dataclass
class Inserted:
    numbers: list[str] = dataclasses.field(default_factory=list)
    instructions: list[str] = dataclasses.field(default_factory=list)
    positions: list[dict[str, str | None]] = dataclasses.field(default_factory=list)


# --- what gets inserted ------------------------------------------------------------------------------
amount = st.decimals(min_value=1000, max_value=9_999_999, places=2).map(lambda d: f"{d:,.2f}")
small = st.decimals(min_value=0, max_value=99, places=3).map(str)


@st.composite
def number_line(draw: st.DrawFn, out: Inserted) -> str:
    """A line of numbers as bots write them: separators, currency, signs, percent, ranges, ratios."""
    money = "$" + draw(amount)
    lo = draw(st.integers(100, 500))
    rng = f"{lo}–{lo + draw(st.integers(1, 90))}"
    ratio = f"{draw(small)}x"
    signed = f"{draw(st.sampled_from(['+', '-']))}{draw(small)}%"
    approx = "~$" + draw(small)
    numbers = [money, rng, ratio, signed, approx]
    out.numbers += numbers
    shape = draw(st.sampled_from(["prose", "kv", "bullet"]))
    if shape == "prose":
        return (
            f"Exposure is {money} notional ({signed}) inside the {rng} range at {ratio} volume, "
            f"costing {approx}."
        )
    if shape == "kv":
        return f"Exposure: {money} | Change: {signed} | Range: {rng} | Volume: {ratio} | Fees: {approx}"
    return f"- Example: {signed} move @ {ratio} leverage = {money} notional = {approx} in fees ({rng})"


INSTRUCTION_FORMS = [
    "**{x} MUST be respected on every trade!**",
    "- NEVER {x}.",
    "IMPORTANT: {x}.",
    "ALWAYS {x}.",
    "Do not {x} under any circumstances.",
    "{x} is MANDATORY.",
    "**DO NOT {x}!**",
    "A stop loss is REQUIRED when you {x}.",
]
INSTRUCTION_BODIES = [
    "open more than 3 positions",
    "size above 2% risk",
    "chase a breakout",
    "ignore funding",
]


@st.composite
def instruction_line(draw: st.DrawFn, out: Inserted) -> str:
    line = draw(st.sampled_from(INSTRUCTION_FORMS)).format(x=draw(st.sampled_from(INSTRUCTION_BODIES)))
    out.instructions.append(line)
    return line


price = st.decimals(min_value=1, max_value=120_000, places=2)


@st.composite
def position_block(draw: st.DrawFn, out: Inserted) -> str:
    """One open position in one of the shapes bots use (markdown, key: value, table, JSON, dict, k=v)."""
    sym, name, _ = draw(st.sampled_from(COINS))
    side = draw(st.sampled_from(["LONG", "SHORT"]))
    entry, sl, tp = draw(price), draw(price), draw(price)
    qty = str(draw(st.decimals(min_value="0.001", max_value=500, places=3)))
    pnl = draw(st.decimals(min_value=-5000, max_value=5000, places=2))
    shape = draw(st.sampled_from(["markdown", "keyvalue", "table", "json", "dict", "kv"]))
    sep = shape in ("markdown", "keyvalue", "table")
    e, s, t = (f"${v:,.2f}" if sep else str(v) for v in (entry, sl, tp))
    p = f"${pnl:+,.2f}" if sep else str(pnl)
    out.positions.append({"symbol": sym, "side": side, "qty": qty, "entry": e, "sl": s, "tp": t, "pnl": p})
    if shape == "markdown":
        return (
            f"**{name}** ({sym}/USDT):\n  - Side: {side} | Qty: {qty}\n  - Entry: {e} -> Current: {e}\n"
            f"  - **Unrealized P&L: {p} (+1.00%)**\n  - SL: {s} (-4.0% away) | TP: {t} (+5.0% away)"
        )
    if shape == "keyvalue":
        return (
            f"Symbol: {sym}/USDT | Side: {side} | Size: {qty}\nEntry Price: {e}\nPnL: {p}\n"
            f"Stop Loss: {s} | Take Profit: {t}"
        )
    if shape == "table":
        return (
            "| Symbol | Side | Qty | Entry | SL | TP | PnL |\n|---|---|---|---|---|---|---|\n"
            f"| {sym}/USDT | {side} | {qty} | {e} | {s} | {t} | {p} |"
        )
    if shape == "json":
        return (
            f'```json\n{{"positions": [{{"symbol": "{sym}", "side": "{side}", "qty": {qty}, '
            f'"entry_price": {e}, '
            f'"stop_loss": {s}, "take_profit": {t}, "unrealized_pnl": {p}}}]}}\n```'
        )
    if shape == "dict":
        return (
            f"{{'symbol': '{sym}', 'side': '{side}', 'quantity': {qty}, 'entry_price': {e}, "
            f"'unrealized_pnl': {p}, "
            f"'exit_plan': {{'profit_target': {t}, 'stop_loss': {s}}}, 'sl_oid': 1}}"
        )
    return f"- {sym}: side={side} qty={qty} entry={e} sl={s} tp={t} pnl={p}"


def _heading(paragraph: str) -> bool:
    first = paragraph.lstrip().split("\n", 1)[0]
    return first.startswith("#") or (first.isupper() and len(first.split()) <= 6)


@st.composite
def prompts(draw: st.DrawFn) -> tuple[str, Case | None, Inserted]:
    """A corpus prompt of any shape (or a real nof1 prompt) with numbers, instructions and positions
    inserted between its paragraphs; positions only where a section starts, so they cannot change whose
    data follows them."""
    if draw(st.integers(0, 5)) == 0:
        case, base = None, draw(st.sampled_from(nof1_prompts()))[1]
    else:
        case = draw(st.sampled_from(list(SHAPES.values())))(draw(st.integers(0, 10_000)))
        base = case.prompt
    paragraphs = base.rstrip("\n").split("\n\n")
    out = Inserted()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["number", "instruction", "position"]))
        if kind == "position":
            # before a heading: after the last one, a position would sit inside the answer format
            starts = [i for i, p in enumerate(paragraphs) if _heading(p)]
            at = draw(st.sampled_from(starts))
            paragraphs.insert(at, draw(position_block(out)))
        else:
            at = draw(st.integers(0, len(paragraphs)))
            paragraphs.insert(at, draw(number_line(out) if kind == "number" else instruction_line(out)))
    return "\n\n".join(paragraphs) + "\n", case, out


def assert_inserted_survive(text: str, inserted: Inserted, mode: str) -> None:
    for pos in inserted.positions:
        assert position_kept(text, SYMBOLS, pos) == [], pos
    if mode != "emergency":
        for line in inserted.instructions:
            assert line_kept(text, line), line


@SETTINGS
@given(prompts(), st.sampled_from(MODES))
def test_every_guarantee_on_generated_prompts(
    generated: tuple[str, Case | None, Inserted], mode: str
) -> None:
    prompt, case, inserted = generated
    result = COMPRESSOR.compress_by_context(prompt, mode)  # verifies itself: a broken guarantee raises
    assert changed_numbers(prompt, result) == []
    assert numbers_kept_as_written(prompt, result) == []
    assert check_fidelity(prompt, result, result.level).ok
    assert_inserted_survive(result, inserted, mode)
    if case is not None and mode != "emergency":
        for line in case.instructions + case.format_lines:
            assert line_kept(result, line), line
        assert in_order(result, case.order)
    if case is not None:
        for key in case.answer_keys:
            assert key in result


@SETTINGS
@given(prompts(), st.sampled_from(MODES))
def test_deterministic_idempotent_never_longer(
    generated: tuple[str, Case | None, Inserted], mode: str
) -> None:
    prompt, _, _ = generated
    first = COMPRESSOR.compress_by_context(prompt, mode)
    assert COMPRESSOR.compress_by_context(prompt, mode) == first
    assert first.compressed_tokens <= first.original_tokens
    assert first.compressed_tokens == count_tokens(first, "gpt-4o")
    assert COMPRESSOR.compress_by_context(first, mode) == first


@SETTINGS
@given(prompts(), st.integers(min_value=0, max_value=4000))
def test_budget_is_met_whenever_the_emergency_rendering_fits(
    generated: tuple[str, Case | None, Inserted], budget: int
) -> None:
    prompt, _, inserted = generated
    result = COMPRESSOR.compress(prompt, max_tokens=budget)
    floor = COMPRESSOR.compress_by_context(prompt, "emergency").compressed_tokens
    assert result.compressed_tokens <= result.original_tokens
    if floor <= budget:
        assert result.budget_met
        assert result.compressed_tokens <= budget
    else:
        assert not result.budget_met
        assert result.compressed_tokens == floor
    assert changed_numbers(prompt, result) == []
    assert_inserted_survive(result, inserted, "emergency")
    assert COMPRESSOR.compress(result, max_tokens=budget) == result


@SETTINGS
@given(prompts())
def test_levels_are_ordered_by_size(generated: tuple[str, Case | None, Inserted]) -> None:
    prompt, _, _ = generated
    sizes = [COMPRESSOR.compress_by_context(prompt, m).compressed_tokens for m in MODES]
    assert sizes[0] >= sizes[1] >= sizes[2]


@SETTINGS
@given(prompts(), st.sampled_from(MODES))
def test_the_dropped_report_names_real_lines(generated: tuple[str, Case | None, Inserted], mode: str) -> None:
    prompt, _, _ = generated
    lines = prompt.splitlines()
    result = COMPRESSOR.compress_by_context(prompt, mode)
    for d in result.dropped:
        assert lines[d.line - 1].strip() == d.text, d
