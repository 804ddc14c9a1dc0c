"""The guide's LLM calls: extra answer fields kept, `analyze_with_cost_optimization(max_tokens=,
system_prompt=)`, and the `cost_optimization` section of the cost report."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pytest_oxbot.llm import parse_decisions

NOF1_STYLE = {
    "BTC": {
        "signal": "buy_to_enter",
        "confidence": 0.7,
        "stop_loss": 60000,
        "profit_target": 70000,
        "leverage": 5,
        "quantity": 0.01,
        "invalidation_condition": "4h close below 60000",
        "risk_usd": 41.5,
        "coin": "BTC",
    }
}


def test_every_extra_field_of_the_answer_is_kept() -> None:
    decision = parse_decisions(NOF1_STYLE, ["BTC/USDT"], {"BTC": "64000"})["BTC/USDT"]
    assert decision.is_trade
    assert decision.extra == {"invalidation_condition": "4h close below 60000", "risk_usd": Decimal("41.5")}
    held = parse_decisions({"BTC": {**NOF1_STYLE["BTC"], "stop_loss": 99999}}, ["BTC"], {"BTC": "64000"})[
        "BTC"
    ]
    assert held.error is not None  # demoted to HOLD, and its extra fields still there for the log
    assert held.extra["invalidation_condition"] == "4h close below 60000"


@pytest.mark.oxbot_llm(answers=NOF1_STYLE)
async def test_analyze_with_cost_optimization_takes_max_tokens_and_system_prompt(oxbot_llm: Any) -> None:
    async with oxbot_llm.client() as client:
        alone = await client.analyze_with_cost_optimization(
            model="gpt-4o-mini", prompt="BTC at 64000", system_prompt=None, max_tokens=20
        )
        own = await client.analyze_with_cost_optimization(
            model="gpt-4o-mini", prompt="BTC at 64001", system_prompt="You are terse."
        )
        default = await client.analyze_with_cost_optimization(model="gpt-4o-mini", prompt="BTC at 64002")
        report = client.get_comprehensive_cost_report()
    sent = [call.messages for call in oxbot_llm.calls]
    assert sent[0] == [{"role": "user", "content": "BTC at 64000"}]  # None: the user's prompt alone
    assert sent[1] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "BTC at 64001"},
    ]
    assert sent[2][0] == {"role": "system", "content": client.system_prompt}  # default: the client's own
    assert oxbot_llm.calls[0].completion_tokens == 20
    assert oxbot_llm.calls[0].finish_reason == "length"
    assert alone["usage"]["output_tokens"] == 20
    optimization = report["cost_optimization"]
    spent = sum((r["cost_usd"] for r in (alone, own, default)), Decimal(0))
    assert Decimal(optimization["cost_with_optimizations_usd"]) == spent
    assert optimization["calls_avoided_by_cache"] == 0
    assert optimization["savings_ratio"] == 0.0
