"""The 12 real nof1 Alpha Arena prompts and their required facts, read with plain regexes."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources


@cache
def nof1_prompts() -> tuple[tuple[str, str], ...]:
    """(model_id, user_prompt) of the packaged real conversations."""
    ref = resources.files("pytest_oxbot") / "data" / "llm" / "nof1_conversations.json"
    data = json.loads(ref.read_text(encoding="utf-8"))
    return tuple((c["model_id"], c["user_prompt"]) for c in data["conversations"])


def nof1_facts(prompt: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Per coin (symbol, current price, current RSI) and per position (symbol, stop-loss, profit target)."""
    coins = [
        (m.group(1), m.group(2), m.group(3))
        for m in re.finditer(
            r"### ALL (\w+) DATA\s+current_price = ([-\d.e]+),.*?current_rsi \(7 period\) = ([-\d.e]+)",
            prompt,
        )
    ]
    positions = [
        (m.group(1), m.group(3), m.group(2))
        for m in re.finditer(
            r"'symbol': '(\w+)'.*?'profit_target': ([-\d.e]+), 'stop_loss': ([-\d.e]+)", prompt
        )
    ]
    return coins, positions
