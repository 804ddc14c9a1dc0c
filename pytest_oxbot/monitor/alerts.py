"""Alert state machines: fire after `for_s` past the threshold, clear after `clear_for_s` past `clear_at`.

A value with fewer than `min_samples` events behind it says nothing: the state and its timers stay as
they are (a quiet minute neither fires nor clears an alert). While an alert with `repeat_s` stays
breached, its action is repeated every `repeat_s` (e.g. raising the TTLs one more step up to the cap).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pytest_oxbot.monitor.config import AlertRule

__all__ = ["AlertEvent", "AlertState", "evaluate"]

log = logging.getLogger("pytest_oxbot.monitor")


@dataclass
class AlertState:
    rule: AlertRule
    active: bool = False
    since: float | None = None
    breach_since: float | None = None
    recover_since: float | None = None
    last_action: float | None = None
    value: float | None = None
    samples: float = 0.0
    firings: int = 0
    seq: int = 0

    def as_dict(self) -> dict[str, Any]:
        r = self.rule
        return {
            "name": r.name,
            "active": self.active,
            "since": self.since,
            "metric": r.metric,
            "when": r.when,
            "threshold": r.threshold,
            "clear_at": r.clear_level,
            "value": self.value,
            "samples": self.samples,
            "action": r.action,
            "params": dict(r.params),
            "firings": self.firings,
            "condition": r.describe(),
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    alert: str
    event: str  # fired | cleared | repeated
    value: float
    rule: AlertRule
    t: float


def evaluate(state: AlertState, value: float | None, samples: float, now: float) -> AlertEvent | None:
    """Advance one alert by one observation; returns the event it produced, if any."""
    rule = state.rule
    if value is None or samples < rule.min_samples:
        return None
    state.value, state.samples = value, samples
    if not state.active:
        state.recover_since = None
        if not rule.breached(value):
            state.breach_since = None
            return None
        if state.breach_since is None:
            state.breach_since = now
        if now - state.breach_since < rule.for_s:
            return None
        state.active, state.since, state.last_action = True, now, now
        state.firings += 1
        state.seq += 1
        state.breach_since = None
        return AlertEvent(rule.name, "fired", value, rule, now)
    if rule.recovered(value):
        if state.recover_since is None:
            state.recover_since = now
        if now - state.recover_since < rule.clear_for_s:
            return None
        state.active, state.since, state.recover_since = False, None, None
        return AlertEvent(rule.name, "cleared", value, rule, now)
    state.recover_since = None
    if (
        rule.repeat_s is not None
        and rule.breached(value)
        and state.last_action is not None
        and now - state.last_action >= rule.repeat_s
    ):
        state.last_action = now
        state.seq += 1
        return AlertEvent(rule.name, "repeated", value, rule, now)
    return None
