"""Lines alike but for a few words, written once as a template with a row of values per line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity, required_facts
from pytest_oxbot.compressor.template import MAX_ROWS, MAX_TEMPLATE, expand, write
from pytest_oxbot.tokens import count_tokens

from .factcheck import numbers_kept_as_written

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
ANSWER = 'Respond with JSON only: {"BTC": {"signal": "hold|buy|sell"}}'
COMMENTARY = [
    "Ethereum extended its move overnight and now trades near $3,049.39. Momentum is weak, with the RSI at "
    "47.7 and the 20-period EMA at $3,057.26.",
    "Solana extended its move overnight and now trades near $128.45. Momentum is weak, with the RSI at 47.4 "
    "and the 20-period EMA at $129.23.",
    "Bitcoin extended its move overnight and now trades near $96,049.07. Momentum is constructive, with the "
    "RSI at 63.3 and the 20-period EMA at $97,821.37.",
]
NEWS = [
    "- [COINDESK] ADA spot ETF flows of $2.0B this week; analysts see 9% upside.",
    "- [THEBLOCK] ADA spot ETF flows of $1.1B this week; analysts see 3% upside.",
    "- [DECRYPT] SOL spot ETF flows of $0.5B this week; analysts see 6% upside.",
    "- [COINDESK] XRP spot ETF flows of $1.2B this week; analysts see 8% upside.",
]
PROMPT = (
    "Market commentary:\n" + "\n\n".join(COMMENTARY) + "\n\nNews:\n" + "\n".join(NEWS) + "\n" + ANSWER + "\n"
)


def gpt4o(text: str) -> int:
    return count_tokens(text, "gpt-4o")


def test_one_sentence_per_symbol_is_written_once_and_read_back_as_its_lines() -> None:
    out = str(COMPRESSOR.compress_by_context(PROMPT, "standard"))
    assert out.count('Lines of "') == 2
    assert out.count("(end of lines)") == 2
    assert 'Lines of "{} extended its move overnight and now trades near {}.' in out
    assert "Ethereum|$3,049.39|weak|47.7|$3,057.26" in out
    assert 'Lines of "- [{}] {} spot ETF flows of {} this week; analysts see {} upside.":' in out
    assert "COINDESK|ADA|$2.0B|9%" in out
    lines = expand(out).splitlines()
    assert all(line in lines for line in COMMENTARY + NEWS)
    assert gpt4o(out) < gpt4o(PROMPT) - 40
    # the check reads the template as its lines: every price is still a fact of the output
    assert required_facts(PROMPT) <= required_facts(out)
    assert check_fidelity(PROMPT, out).ok
    assert changed_numbers(PROMPT, out) == []
    assert numbers_kept_as_written(PROMPT, out) == []


def test_templates_are_idempotent_and_survive_every_later_mode() -> None:
    out = str(COMPRESSOR.compress_by_context(PROMPT, "standard"))
    assert str(COMPRESSOR.compress_by_context(out, "standard")) == out
    for mode in ("lossless", "analysis", "minimal", "emergency"):
        again = str(COMPRESSOR.compress_by_context(out, mode))
        # `20-period` is written once in the template and stands for three lines: counted three times
        assert changed_numbers(PROMPT, again) == [], mode
        assert check_fidelity(PROMPT, again, "standard" if mode in ("lossless", "analysis") else mode).ok


def test_analysis_keeps_the_lines_as_written() -> None:
    out = str(COMPRESSOR.compress_by_context(PROMPT, "analysis"))
    assert 'Lines of "' not in out
    assert all(line in out for line in COMMENTARY)


def test_instruction_lines_are_never_written_as_a_template() -> None:
    rules = [
        f"You must never risk more than {n}% of the account on {sym} in one trade, whatever the signal says."
        for n, sym in ((2, "BTC"), (3, "ETH"), (1, "SOL"), (4, "XRP"))
    ]
    prompt = "\n".join(rules) + "\n" + ANSWER + "\n"
    out = str(COMPRESSOR.compress_by_context(prompt, "standard"))
    assert all(rule in out for rule in rules)


def test_lines_that_differ_in_more_than_a_few_words_or_hold_pipes_stay_lines() -> None:
    assert (
        write(["BTC price 1 | rsi 2 | trend up now", "ETH price 3 | rsi 4 | trend up now"], gpt4o, 0) is None
    )
    assert write(["a {b} c d e f", "x {b} c d e f"], gpt4o, 0) is None
    assert write(["BTC is up today", "ETH is down today again"], gpt4o, 0) is None  # other word counts
    assert write(["one two three four", "five six seven eight"], gpt4o, 0) is None  # nothing in common
    assert write(["BTC  is at 1 now", "ETH is at 2 now"], gpt4o, 0) is None  # other spaces


def test_a_value_keeps_its_sign_currency_and_unit_and_sheds_only_brackets_and_trailing_punctuation() -> None:
    lines = [
        f"- [{src}] {sym} moved {chg} in the last hour of trading to ${px}."
        for src, sym, chg, px in (
            ("CD", "BTC", "-1.2%", "91,234.50"),
            ("TB", "ETH", "+0.4%", "3,012.40"),
            ("DC", "SOL", "-0.7%", "140.10"),
        )
    ]
    text = write(lines, gpt4o, -100)
    assert text is not None
    assert text.splitlines()[0] == 'Lines of "- [{}] {} moved {} in the last hour of trading to {}.":'
    assert text.splitlines()[1] == "CD|BTC|-1.2%|$91,234.50"
    assert expand(text) == "\n".join(lines)


def test_a_template_in_a_prompt_is_read_as_its_lines_within_bounds() -> None:
    rows = "\n".join(f"{sym}|{px}" for sym, px in (("BTC", "91,234.50"), ("ETH", "3,012.40")))
    assert expand(f'Lines of "{{}} trades at {{}} today":\n{rows}\n(end of lines)\nnext') == (
        "BTC trades at 91,234.50 today\nETH trades at 3,012.40 today\nnext"
    )
    for wrong in (
        'Lines of "{} trades at {} today":\nBTC|1\nETH|2\nnext',  # no end line
        'Lines of "{} trades at {} today":\nBTC|1\nETH|2|3\n(end of lines)\n',  # a row of other cells
        'Lines of "{} trades at {} today":\nBTC|1\n(end of lines)\n',  # one row
    ):
        assert expand(wrong) == wrong
    huge = 'Lines of "{} ' + "x" * MAX_TEMPLATE + ' {}":\n' + "a|b\n" * 3 + "(end of lines)\n"
    assert expand(huge) == huge  # past the bound: not a template, read as written
    many = 'Lines of "{} and {}":\n' + "a|b\n" * (MAX_ROWS + 1) + "(end of lines)\n"
    assert expand(many) == many
    prompt = f'Prices:\nLines of "{{}} trades at {{}} today":\n{rows}\n(end of lines)\n{ANSWER}\n'
    facts = required_facts(prompt)
    assert {f.symbol for f in facts if f.kind == "price"} >= {"BTC", "ETH"}


NEWS_2 = [
    f"{coin} extended its move overnight and now trades near {px} as momentum stays {m} on the hourly chart."
    for coin, px, m in (
        ("Ethereum", "$3,049.39", "weak"),
        ("Solana", "$128.45", "weak"),
        ("Bitcoin", "$96,049.07", "firm"),
    )
]
JSON_ONLY = 'Respond with JSON only: {"action": "buy|sell|hold", "symbol": "string"}'


@pytest.mark.parametrize(
    "after",
    [
        "sym|funding_8h\nDOGEUSDT|0.0100%\nXRPUSDT|-0.0042%\n",  # a compact pipe table
        "sym|px|rsi14\nDOGEUSDT|0.1712|44.2\nXRPUSDT|2.3120|39.9\n",
        'Decide: {"action":"buy|sell|hold"}\n',  # an answer example with choices
        "The desk was quiet overnight.\nBNBUSDT|612.40|55.0\nXRPUSDT|2.3120|39.9\n",  # (a line dropped)
    ],
)
@pytest.mark.parametrize("mode", ["standard", "minimal", "emergency"])
def test_a_template_never_takes_in_the_lines_after_it(after: str, mode: str) -> None:
    """The rows of a template used to run on while the next lines had as many cells: a pipe table's
    funding rates read as prices in the sentence, a `buy|sell|hold` example as data, and with
    `verify=True` the call raised on its own output. The rows now end with an end line."""
    prompt = "News:\n" + "\n".join(NEWS_2) + "\n\n" + after + "\n" + JSON_ONLY + "\n"
    strict = AdaptivePromptCompressor("gpt-4o", verify=True)
    out = str(strict.compress_by_context(prompt, mode))
    read = expand(out).splitlines()
    for line in after.splitlines():
        if "|" in line and line in prompt and line in out:
            assert line in read  # still its own line when read back
    assert str(strict.compress_by_context(out, mode)) == out


def test_an_accounting_negative_keeps_its_parentheses_in_its_cell() -> None:
    lines = [
        f"Realized result on {sym} desk yesterday was ({v}) USD after fees and funding."
        for sym, v in (("BTC", "1,234.50"), ("ETH", "310.20"), ("SOL", "88.10"), ("XRP", "12.00"))
    ]
    text = write(lines, gpt4o, -100)
    assert text is not None
    assert "BTC|(1,234.50)" in text
    assert expand(text) == "\n".join(lines)


word = st.from_regex(r"[A-Za-z][a-z]{0,7}", fullmatch=True)
value = st.one_of(
    word,
    st.decimals(min_value=-99_999, max_value=99_999, places=2).map(lambda d: f"{d:,.2f}"),
    st.integers(0, 999).map(lambda n: f"${n}."),
    st.integers(0, 99).map(lambda n: f"[{n}%]"),
)


@settings(max_examples=150, deadline=None)
@given(
    skeleton=st.lists(st.one_of(word, st.none()), min_size=3, max_size=14),
    rows=st.integers(2, 6),
    data=st.data(),
)
def test_write_gives_back_exactly_the_lines_or_nothing(
    skeleton: list[str | None], rows: int, data: st.DataObject
) -> None:
    lines = [" ".join(w if w is not None else data.draw(value) for w in skeleton) for _ in range(rows)]
    text = write(lines, gpt4o, -1000)
    if text is None:
        return
    assert expand(text) == "\n".join(lines)
    assert changed_numbers("\n".join(lines), text) == []
    assert numbers_kept_as_written("\n".join(lines), text) == []
