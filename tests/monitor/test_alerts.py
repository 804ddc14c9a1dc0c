"""The alert state machine: dwell times, minimum samples, hysteresis (no flapping), repeats."""

from __future__ import annotations

from pytest_oxbot.monitor.alerts import AlertState, evaluate
from pytest_oxbot.monitor.config import AlertRule


def _events(
    state: AlertState, values: list[float | None], step: float = 10.0, samples: float = 100
) -> list[str]:
    out = []
    for i, v in enumerate(values):
        event = evaluate(state, v, samples, i * step)
        if event is not None:
            out.append(f"{i}:{event.event}")
    return out


def test_a_value_wobbling_inside_the_band_fires_once() -> None:
    rule = AlertRule(name="hr", metric="cache_hit_rate", when="below", threshold=0.7, clear_at=0.75)
    state = AlertState(rule)
    wobble = [0.8, 0.69, 0.71, 0.69, 0.72, 0.68, 0.74, 0.69, 0.76]
    assert _events(state, wobble) == ["1:fired", "8:cleared"]
    assert state.firings == 1


def test_without_a_band_the_same_wobble_flaps() -> None:
    rule = AlertRule(name="hr", metric="cache_hit_rate", when="below", threshold=0.7)
    assert len(_events(AlertState(rule), [0.8, 0.69, 0.71, 0.69, 0.72, 0.68])) == 5  # what the band prevents


def test_dwell_times_on_both_edges() -> None:
    rule = AlertRule(name="m", metric="memory_mb", when="above", threshold=100, for_s=30, clear_for_s=20)
    state = AlertState(rule)
    # breached at t=10..30 (20 s: not yet), again from t=50: fires at t=80;
    # recovered from t=90: clears at t=110
    values = [50, 150, 150, 150, 50, 150, 150, 150, 150, 50, 50, 50]
    assert _events(state, values) == ["8:fired", "11:cleared"]


def test_too_few_samples_neither_fire_nor_clear() -> None:
    rule = AlertRule(name="l", metric="llm_response_time", when="above", threshold=1.0, min_samples=3)
    state = AlertState(rule)
    assert evaluate(state, 5.0, 2, 0.0) is None
    assert not state.active
    assert evaluate(state, 5.0, 3, 1.0) is not None
    assert state.active
    assert evaluate(state, 0.1, 1, 2.0) is None
    assert state.active
    assert evaluate(state, None, 0, 3.0) is None
    assert state.active
    assert evaluate(state, 0.1, 3, 4.0) is not None
    assert not state.active


def test_repeat_while_still_breached() -> None:
    rule = AlertRule(
        name="hr",
        metric="cache_hit_rate",
        when="below",
        threshold=0.7,
        clear_at=0.75,
        action="increase_ttl",
        repeat_s=30,
    )
    state = AlertState(rule)
    assert _events(state, [0.5, 0.5, 0.5, 0.5, 0.72, 0.72, 0.5, 0.5]) == [
        "0:fired",
        "3:repeated",
        "6:repeated",
    ]
    assert state.seq == 3
