"""LLM cost and latency: the naive bot (one call per symbol, no cache) against the cost-aware client.

Replays 3-minute decision cycles over the real 15m candles shipped in the package: the optimised bot
asks once for all five symbols and keys its cache on the last *closed* candle, so within one 15-minute
candle the market state (and the request) is identical and the cycle is a cache hit. Cost comes from
the fake provider's real token counts priced by the shipped table; latency is the modelled one. Both
are deterministic, so the ratios are exact. The client's own CPU cost of a cache hit against a miss
(through the fake) is gated on instruction counts; its wall-clock form is printed beside.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from importlib import resources
from statistics import median

import pytest

from benchmarks.parallel import each
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.llm import FakeLLMProvider, Nof1Answers
from pytest_oxbot.kpi.measure import KpiRecorder
from pytest_oxbot.llm import CostAwareLLMClient
from pytest_oxbot.pricing import PriceTable

SYMBOLS = ["BTC", "ETH", "SOL", "BNB", "XRP"]
CYCLES = 40  # 2 hours of 3-minute cycles
FIELDS = ("signal", "confidence", "stop_loss", "profit_target", "leverage", "quantity")
MODEL = "gpt-4o-mini"


def _candles() -> dict[str, list[list[float]]]:
    root = resources.files("pytest_oxbot").joinpath("data/market/candles")
    return {s: json.loads(root.joinpath(f"{s}_USDT-15m.json").read_text()) for s in SYMBOLS}


def _symbol_block(sym: str, rows: list[list[float]]) -> str:
    closes = ", ".join(f"{r[4]:g}" for r in rows[-20:])
    return f"{sym}/USDT last close {rows[-1][4]:g}; 15m closes (oldest first): {closes}"


def _state_at(candles: dict[str, list[list[float]]], minute: int) -> dict[str, list[list[float]]]:
    """Candles closed by `minute` after the replay start (a 15m candle closes 15 minutes after it opens)."""
    closed = 100 + minute // 15
    return {s: rows[:closed] for s, rows in candles.items()}


async def _run(optimised: bool) -> tuple[Decimal, float, int]:
    candles = _candles()
    with FakeLLMProvider(answers=Nof1Answers(fields=FIELDS), clock=FakeClock()) as fake:
        from pytest_oxbot.cache import HierarchicalCache

        cache = HierarchicalCache(clock=fake.clock, l1_ttl=900) if optimised else None
        client = CostAwareLLMClient(**fake.client_kwargs(), cache=cache, price_table=PriceTable.shipped())
        async with client:
            for cycle in range(CYCLES):
                state = _state_at(candles, cycle * 3)
                if optimised:
                    prompt = "\n".join(_symbol_block(s, state[s]) for s in SYMBOLS)
                    await client.decide(prompt, SYMBOLS, model=MODEL)
                else:
                    for s in SYMBOLS:
                        await client.decide(_symbol_block(s, state[s]), [s], model=MODEL)
        spend = sum((r.cost for r in client.ledger.records), Decimal(0))
        return spend / (CYCLES * len(SYMBOLS)), sum(fake.modelled_latencies) / CYCLES, len(fake.calls)


async def test_cost_and_modelled_latency_naive_vs_optimised(capsys: pytest.CaptureFixture[str]) -> None:
    naive_cost, naive_latency, naive_calls = await _run(optimised=False)
    opt_cost, opt_latency, opt_calls = await _run(optimised=True)
    with capsys.disabled():
        print(f"\n[llm] {CYCLES} cycles x {len(SYMBOLS)} symbols, {MODEL}, fake provider (real token counts)")
        print(f"[llm] naive: {naive_calls:4d} calls, ${naive_cost:.8f}/decision, {naive_latency:.3f} s/cycle")
        print(f"[llm] optimised: {opt_calls:4d} calls, ${opt_cost:.8f}/decision, {opt_latency:.3f} s/cycle")
        print(f"[llm] ratios: cost {opt_cost / naive_cost:.3f}, latency {opt_latency / naive_latency:.3f}")
    assert opt_calls <= naive_calls / 10
    assert opt_cost <= naive_cost / 4
    assert opt_latency <= naive_latency / 4


class _Overhead:
    """A cost-aware client on the fake provider, for counting one decision's instructions in a child."""

    def __init__(self, fake: FakeLLMProvider, client: CostAwareLLMClient) -> None:
        self.fake = fake
        self.client = client
        self.calls = 0


async def overhead_client() -> _Overhead:
    """Set-up of the counted calls (not counted): the fake provider mounted, the client opened."""
    from pytest_oxbot.cache import HierarchicalCache

    fake = FakeLLMProvider(answers={"BTC": {"signal": "hold", "confidence": 0.5}}, clock=FakeClock())
    fake.__enter__()
    client = CostAwareLLMClient(
        **fake.client_kwargs(),
        cache=HierarchicalCache(clock=fake.clock),
        price_table=PriceTable.shipped(),
    )
    await client.__aenter__()
    await client.decide("BTC cycle hit", ["BTC"], model=MODEL)  # the entry every hit reads
    return _Overhead(fake, client)


async def decide_miss(state: _Overhead) -> None:
    state.calls += 1
    await state.client.decide(f"BTC cycle {state.calls}", ["BTC"], model=MODEL)


async def decide_hit(state: _Overhead) -> None:
    await state.client.decide("BTC cycle hit", ["BTC"], model=MODEL)


async def test_cache_hit_overhead_is_far_below_a_miss(
    oxbot_kpi: KpiRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Gated on instructions (valgrind, one decision per call, the fake provider in-process); the wall
    times of the same calls are printed beside."""
    oxbot_kpi.require_instruments()
    miss, hit = each(
        lambda job: oxbot_kpi.count_instructions(job[0], setup=overhead_client, name=job[1], rounds=5),
        [(decide_miss, "llm_miss_instructions"), (decide_hit, "llm_hit_instructions")],
    )
    state = await overhead_client()
    try:
        miss_s: list[float] = []
        hit_s: list[float] = []
        for _ in range(60):
            t0 = time.perf_counter()
            await decide_miss(state)
            t1 = time.perf_counter()
            await decide_hit(state)
            hit_s.append(time.perf_counter() - t1)
            miss_s.append(t1 - t0)
    finally:
        await state.client.__aexit__(None, None, None)
        state.fake.__exit__(None, None, None)
    m_miss, m_hit = median(miss_s[10:]), median(hit_s[10:])
    with capsys.disabled():
        print(
            f"\n[llm] client cost per decision: miss {miss.per_call:,.0f} instructions, "
            f"hit {hit.per_call:,.0f} (x{miss.per_call / hit.per_call:.1f}); "
            f"wall miss {m_miss * 1e3:.3f} ms, "
            f"hit {m_hit * 1e3:.3f} ms (x{m_miss / m_hit:.1f}, not gated)"
        )
    assert hit.per_call * 3 <= miss.per_call
