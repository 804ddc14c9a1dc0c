"""CostAwareLLMClient against the fake provider: pricing, cache, retries, routing, secrets, report."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.latency import latency_model_for
from pytest_oxbot.fakes.llm import FakeLLMProvider, Fault
from pytest_oxbot.llm import (
    BudgetExceeded,
    CostAwareLLMClient,
    InMemoryBudget,
    LLMHTTPError,
    LLMResponseError,
    LLMRetriesExhausted,
    ModelRouter,
    Signal,
)
from pytest_oxbot.llm.options import LLMOptions
from pytest_oxbot.monitor import PerformanceMonitor
from pytest_oxbot.pricing import PriceTable, TokenUsage
from pytest_oxbot.retry import RetryPolicy
from pytest_oxbot.tokens import count_chat_tokens, count_tokens

SECRET = "sk-test-DO-NOT-LEAK-4f9a1c"
SYMBOLS = ["BTC/USDT", "ETH/USDT"]
ANSWER = {
    "BTC": {
        "signal": "buy_to_enter",
        "confidence": 0.71,
        "entry_price": 100000,
        "stop_loss": 98000,
        "profit_target": 104000,
        "leverage": 5,
        "quantity": 0.01,
        "justification": "breakout",
    },
    "ETH": {"signal": "hold", "confidence": 0.5, "justification": "range"},
}
PRICES = PriceTable.shipped()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeLLMProvider]:
    with FakeLLMProvider(answers=ANSWER, clock=clock, api_key=SECRET) as provider:
        yield provider


@pytest_asyncio.fixture
async def client(fake: FakeLLMProvider, dict_cache: Any, sleeps: Any) -> AsyncIterator[CostAwareLLMClient]:
    async with CostAwareLLMClient(
        **fake.client_kwargs(),
        cache=dict_cache,
        price_table=PRICES,
        retry=RetryPolicy(max_attempts=4, max_total=30),
        sleep=sleeps,
    ) as c:
        yield c


async def test_decide_prices_the_call_from_usage_counted_by_the_real_tokenizer(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    result = await client.decide("BTC at 100000, ETH at 3500", SYMBOLS, model="gpt-4o-mini")
    call = fake.calls[0]
    messages = [
        {"role": "system", "content": client.system_prompt},
        {"role": "user", "content": "BTC at 100000, ETH at 3500"},
    ]
    assert call.prompt_tokens == count_chat_tokens(messages, "gpt-4o-mini")
    assert call.completion_tokens == count_tokens(json.dumps(ANSWER, separators=(",", ":")), "gpt-4o-mini")
    assert result.usage == TokenUsage(call.prompt_tokens, call.completion_tokens)
    assert result.cost == PRICES.cost("gpt-4o-mini", result.usage).total > 0
    assert result.decisions["BTC/USDT"].signal is Signal.BUY_TO_ENTER
    assert result.decisions["BTC/USDT"].is_trade
    assert result.decisions["ETH/USDT"].signal is Signal.HOLD
    assert not result.cache_hit
    # Latency is the modelled one (the fake advanced the shared FakeClock instead of sleeping).
    expected = latency_model_for("gpt-4o-mini").latency(call.completion_tokens)
    assert result.latency_s == pytest.approx(expected)
    assert fake.modelled_latencies == [pytest.approx(expected)]


async def test_identical_request_is_a_cache_hit_and_a_changed_number_misses(
    client: CostAwareLLMClient, fake: FakeLLMProvider, dict_cache: Any
) -> None:
    first = await client.decide("BTC at 100000", SYMBOLS, model="gpt-4o-mini")
    again = await client.decide("BTC at 100000", SYMBOLS, model="gpt-4o-mini")
    other = await client.decide("BTC at 100001", SYMBOLS, model="gpt-4o-mini")
    assert len(fake.calls) == 2
    assert again.cache_hit
    assert again.cost == 0
    assert again.decisions == first.decisions
    assert again.latency_s == 0
    assert not other.cache_hit
    assert all(ttl == 300 for ttl in dict_cache.ttls.values())  # LLM_CACHE_TTL_SECONDS
    cached_text = json.dumps(list(dict_cache.data.values()))
    assert SECRET not in cached_text


async def test_cache_key_covers_model_template_and_parameters(client: CostAwareLLMClient) -> None:
    msgs = [{"role": "user", "content": "x"}]
    base = client.cache_key("gpt-4o-mini", msgs, {"max_tokens": 300, "temperature": 0.2})
    assert base != client.cache_key("gpt-4o", msgs, {"max_tokens": 300, "temperature": 0.2})
    assert base != client.cache_key("gpt-4o-mini", msgs, {"max_tokens": 301, "temperature": 0.2})
    assert base != client.cache_key(
        "gpt-4o-mini", [{"role": "user", "content": "y"}], {"max_tokens": 300, "temperature": 0.2}
    )
    client.template_version = "decisions-v2"
    assert base != client.cache_key("gpt-4o-mini", msgs, {"max_tokens": 300, "temperature": 0.2})


async def test_concurrent_identical_requests_make_one_call(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    import asyncio

    results = await asyncio.gather(*(client.decide("same", SYMBOLS, model="gpt-4o-mini") for _ in range(5)))
    assert len(fake.calls) == 1
    assert sum(not r.cache_hit for r in results) == 1


async def test_settings_defaults_are_sent(client: CostAwareLLMClient, fake: FakeLLMProvider) -> None:
    seen: list[dict[str, Any]] = []
    original = fake._handle

    async def spy(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return await original(request)

    fake._router.routes[0].side_effect = spy  # type: ignore[union-attr]
    await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert seen[0]["max_tokens"] == 300
    assert seen[0]["temperature"] == 0.2
    assert seen[0]["model"] == "gpt-4o-mini"


async def test_429_with_retry_after_is_honoured_then_succeeds(
    client: CostAwareLLMClient, fake: FakeLLMProvider, sleeps: Any
) -> None:
    fake.inject(Fault.RATE_LIMIT, retry_after=7)
    fake.inject(Fault.SERVER_ERROR)
    fake.inject(Fault.TIMEOUT)
    result = await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert [c.status for c in fake.calls] == [429, 500, 0, 200]
    assert sleeps.waits[0] >= 7  # Retry-After wins over a shorter backoff
    assert len(sleeps.waits) == 3
    assert all(w >= 0 for w in sleeps.waits)
    assert result.decisions["BTC/USDT"].is_trade


async def test_timeout_is_charged_at_its_reservation_so_spend_can_never_be_undercounted(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    fake.inject(Fault.TIMEOUT)
    result = await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    report = client.get_comprehensive_cost_report()
    assert report["estimated_charges"] == 1
    assert Decimal(report["total_cost_usd"]) > result.cost
    assert await client.budget.spent_today() == Decimal(report["total_cost_usd"])


async def test_retries_are_bounded_in_count(client: CostAwareLLMClient, fake: FakeLLMProvider) -> None:
    fake.inject(Fault.SERVER_ERROR, times=4)
    with pytest.raises(LLMRetriesExhausted, match="after 4 attempt"):
        await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert len(fake.calls) == 4
    assert await client.budget.spent_today() == 0  # 5xx are not billed; the reservation was released


async def test_retries_are_bounded_in_time_a_long_retry_after_gives_up(
    client: CostAwareLLMClient, fake: FakeLLMProvider, sleeps: Any
) -> None:
    fake.inject(Fault.RATE_LIMIT, retry_after=120)
    with pytest.raises(LLMRetriesExhausted, match="120"):
        await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert sleeps.waits == []
    assert len(fake.calls) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_is_not_retried_and_raises_a_clear_error(
    client: CostAwareLLMClient, fake: FakeLLMProvider, status: int
) -> None:
    fake._router.routes[0].side_effect = None  # type: ignore[union-attr]
    fake._router.routes[0].return_value = httpx.Response(  # type: ignore[union-attr]
        status, json={"error": {"message": f"Incorrect API key provided: {SECRET}"}}
    )
    with pytest.raises(LLMHTTPError) as info:
        await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert info.value.status_code == status
    assert f"HTTP {status}" in str(info.value)
    assert SECRET not in str(info.value)
    assert fake._router.routes[0].call_count == 1  # type: ignore[union-attr]


async def test_malformed_and_missing_answers_become_hold(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    fake.inject(Fault.MALFORMED)
    broken = await client.decide("a", SYMBOLS, model="gpt-4o-mini")
    assert broken.trades == []
    assert all(d.error for d in broken.decisions.values())
    fake.inject(Fault.MISSING_SYMBOL, symbol="BTC")
    missing = await client.decide("b", SYMBOLS, model="gpt-4o-mini")
    assert missing.decisions["BTC/USDT"].signal is Signal.HOLD
    assert missing.decisions["BTC/USDT"].error == "missing from the answer"


async def test_answer_cut_at_max_tokens_is_never_a_trade(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    result = await client.decide("x", SYMBOLS, model="gpt-4o-mini", max_tokens=20)
    assert fake.calls[0].finish_reason == "length"
    assert fake.calls[0].completion_tokens <= 20
    assert result.trades == []


async def test_a_200_that_is_not_a_completion_raises_and_is_charged_at_the_maximum(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    fake.inject(Fault.INVALID_BODY)
    with pytest.raises(LLMResponseError):
        await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert await client.budget.spent_today() > 0


async def test_unknown_model_is_refused_before_sending(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    from pytest_oxbot.pricing import UnknownModelError

    with pytest.raises(UnknownModelError):
        await client.decide("x", SYMBOLS, model="gpt-9-ultra")
    assert fake.calls == []


async def test_api_key_never_in_repr_logs_errors_or_reports(
    client: CostAwareLLMClient, fake: FakeLLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject(Fault.RATE_LIMIT, retry_after=0)
    await client.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert fake.calls[-1].authorized  # the key was sent, in the header
    texts = [
        repr(client),
        str(client),
        caplog.text,
        json.dumps(client.get_comprehensive_cost_report(), default=str),
        repr(fake.calls),
        repr(client.__dict__),
    ]
    assert all(SECRET not in t for t in texts)


async def test_api_key_from_environment_only_through_from_env(
    monkeypatch: pytest.MonkeyPatch, fake: FakeLLMProvider
) -> None:
    monkeypatch.setenv("OXBOT_LLM_API_KEY", SECRET)
    kwargs = {k: v for k, v in fake.client_kwargs().items() if k != "api_key"}
    async with CostAwareLLMClient(**kwargs, price_table=PRICES) as plain:  # no ambient key
        await plain.decide("x", SYMBOLS, model="gpt-4o-mini")
    assert not fake.calls[0].authorized
    async with CostAwareLLMClient.from_env(**kwargs, price_table=PRICES) as c:
        await c.decide("x", SYMBOLS, model="gpt-4o-mini")
        assert SECRET not in repr(c)
    assert fake.calls[1].authorized
    async with CostAwareLLMClient.from_env(**kwargs, api_key="explicit", price_table=PRICES) as c:
        assert c._api_key.get() == "explicit"  # an explicit argument wins


async def test_budget_limit_per_call_routes_to_a_cheaper_model_or_refuses(
    client: CostAwareLLMClient, fake: FakeLLMProvider
) -> None:
    out = await client.analyze_with_cost_optimization(
        prompt="BTC?", context_type="critical", budget_limit="0.0005"
    )
    assert out["model"] != "gpt-4o"  # gpt-4o's worst case (~$0.003) does not fit $0.0005
    assert Decimal(out["cost_usd"]) <= Decimal("0.0005")
    with pytest.raises(Exception, match="within"):
        await client.analyze_with_cost_optimization(prompt="BTC?", budget_limit="0.0000001")
    with pytest.raises(BudgetExceeded, match="call limit"):
        await client.analyze_with_cost_optimization(model="gpt-4o", prompt="BTC?", budget_limit="0.0005")


async def test_select_optimal_model_by_context_and_size() -> None:
    router = ModelRouter(PRICES)
    assert router.select_optimal_model(1500, "routine") == "gpt-4o-mini"
    assert router.select_optimal_model(1500, "critical") == "gpt-4o"
    assert router.select_optimal_model(1500, "no-such-context") == "gpt-4o-mini"
    assert router.select_optimal_model(500_000, "routine") == "gpt-4.1-nano"  # 128k window too small


async def test_latency_alert_switches_to_the_faster_model_and_back_after_cooldown(
    fake: FakeLLMProvider, clock: FakeClock, dict_cache: Any
) -> None:
    monitor = PerformanceMonitor(latency_threshold_s=1.0, window=3, min_samples=3)
    router = ModelRouter(
        PRICES,
        context_models={"routine": "deepseek-chat"},
        fallback_model="gpt-4.1-nano",
        cooldown_s=600,
        clock=clock,
    )
    async with CostAwareLLMClient(
        **fake.client_kwargs(),
        price_table=PRICES,
        router=router,
        monitor=monitor,
        cache=dict_cache,
    ) as c:
        models = [(await c.decide(f"cycle {i}", SYMBOLS)).model for i in range(5)]
        assert models[:3] == ["deepseek-chat"] * 3  # modelled ~1.7 s + tokens/24.7 t/s > 1 s
        assert models[3:] == ["gpt-4.1-nano"] * 2
        assert monitor.is_alerting("deepseek-chat")
        clock.advance(601)
        assert (await c.decide("cycle 9", SYMBOLS)).model == "deepseek-chat"


async def test_comprehensive_cost_report_from_real_records(
    client: CostAwareLLMClient, fake: FakeLLMProvider, clock: FakeClock
) -> None:
    a = await client.decide("p1", SYMBOLS, model="gpt-4o-mini", original_prompt_tokens=2000)
    await client.decide("p1", SYMBOLS, model="gpt-4o-mini")
    clock.advance(86_400)
    b = await client.decide("p2", SYMBOLS, model="gpt-4.1-nano")
    r = client.get_comprehensive_cost_report()
    assert r["requests"] == 3
    assert r["llm_calls"] == 2
    assert r["cache_hits"] == 1
    assert r["cache_hit_rate"] == pytest.approx(1 / 3)
    assert Decimal(r["total_cost_usd"]) == a.cost + b.cost
    assert r["spend_by_model_usd"] == {"gpt-4.1-nano": str(b.cost), "gpt-4o-mini": str(a.cost)}
    assert list(r["spend_by_day_usd"]) == ["2026-01-01", "2026-01-02"]
    assert Decimal(r["savings_usd"]["cache"]) == a.cost
    rate = PRICES.get("gpt-4o-mini").input_cost_per_token
    assert Decimal(r["savings_usd"]["compression"]) == rate * (2000 - a.usage.prompt_tokens)
    assert Decimal(r["projected_monthly_cost_usd"]) == (a.cost + b.cost) / 2 * 30


async def test_construction_binds_no_event_loop() -> None:
    c = CostAwareLLMClient(base_url="http://127.0.0.1:9/v1", api_key="k", price_table=PRICES)
    assert c._http is None
    await c.aclose()


async def test_daily_limit_setting_builds_a_budget(fake: FakeLLMProvider) -> None:
    options = LLMOptions(daily_cost_limit=Decimal(0))
    async with CostAwareLLMClient(**fake.client_kwargs(), price_table=PRICES, options=options) as c:
        assert isinstance(c.budget, InMemoryBudget)
        with pytest.raises(BudgetExceeded):
            await c.decide("x", SYMBOLS, model="gpt-4o-mini")


async def test_works_with_the_hierarchical_cache(fake: FakeLLMProvider, clock: FakeClock) -> None:
    from pytest_oxbot.cache import HierarchicalCache

    cache = HierarchicalCache(clock=clock)
    async with CostAwareLLMClient(**fake.client_kwargs(), cache=cache, price_table=PRICES) as c:
        first = await c.decide("BTC 1", SYMBOLS, model="gpt-4o-mini")
        second = await c.decide("BTC 1", SYMBOLS, model="gpt-4o-mini")
    assert not first.cache_hit
    assert second.cache_hit
    assert second.decisions == first.decisions
    assert len(fake.calls) == 1
