"""Issue 13 items 5-7 and issue 17 (budget side): no overspend from a bill larger than its reservation, a
lost or reset Redis, a crash between reserve and settle, or a server that evicts the budget's counters.

The Redis cases run on real `redis-server` processes the tests start on free loopback ports (a link cut
through a TCP proxy, a restart without persistence, `allkeys-lru` with a 2 MB `maxmemory`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pytest_oxbot.cache.faults import TcpProxy
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.connections import make_redis_client
from pytest_oxbot.errors import OxbotError
from pytest_oxbot.llm import (
    BudgetError,
    BudgetExceeded,
    BudgetOvershoot,
    BudgetServerUnsafe,
    BudgetUnavailable,
    CostAwareLLMClient,
    InMemoryBudget,
    LLMError,
    RedisBudget,
)
from pytest_oxbot.llm.budget import eviction_policy
from pytest_oxbot.pricing import PriceTable
from pytest_oxbot.retry import RetryPolicy
from pytest_oxbot.tokens import count_chat_tokens
from tests.servers import RedisServer

PRICES = PriceTable.shipped()
ANSWER = json.dumps({"BTC": {"signal": "hold", "confidence": 0.5}})
PROMPT = "BTC at 97000: decide"


class Provider:
    """A test-local OpenAI-compatible provider (httpx.MockTransport): answers as `reply` says."""

    def __init__(self, reply: Callable[[dict[str, Any]], httpx.Response] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply = reply or (lambda body: chat(body))
        self.before: Callable[[], Awaitable[None]] | None = None

    async def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.before is not None:
            await self.before()
        return self.reply(body)

    def client(self, **kwargs: Any) -> CostAwareLLMClient:
        kwargs.setdefault("price_table", PRICES)
        kwargs.setdefault("retry", RetryPolicy(max_attempts=2, max_total=10))
        return CostAwareLLMClient(
            base_url="https://llm.test/v1", api_key="sk-test-hardening-1234",
            transport=httpx.MockTransport(self.handler), **kwargs,
        )  # fmt: skip


def chat(body: dict[str, Any], *, model: str | None = None, prompt: int | None = None,
         completion: int | None = None, content: str = ANSWER) -> httpx.Response:  # fmt: skip
    """A chat completion; usage defaults to the real token count of the request and `max_tokens`."""
    prompt_tokens = count_chat_tokens(body["messages"], "gpt-4o-mini") if prompt is None else prompt
    out = 40 if completion is None else completion
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-test", "object": "chat.completion", "model": model or body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out,
                      "total_tokens": prompt_tokens + out},
        },
    )  # fmt: skip


def worst_case(client: CostAwareLLMClient, model: str = "gpt-4o-mini", max_tokens: int = 300) -> Decimal:
    tokens = count_chat_tokens(client._messages(PROMPT), model)
    return PRICES.max_cost(model, tokens, max_tokens)


# -- item 5: a bill larger than its reservation ----------------------------------------------------------


async def test_an_answer_naming_a_dearer_model_is_charged_as_requested_and_reported() -> None:
    provider = Provider(lambda body: chat(body, model="gpt-4o", completion=300))
    async with provider.client() as probe:
        limit = worst_case(probe) * Decimal("1.5")  # one call fits, gpt-4o's price would be ~25x this
    budget = InMemoryBudget(limit)
    async with provider.client(budget=budget) as client:
        result = await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    spent = await budget.spent_today()
    assert spent <= limit  # the seed billed 8.5x the daily limit here
    assert result.cost == spent
    overshoot = result.overshoot
    assert isinstance(overshoot, BudgetOvershoot)
    assert client.overshoots == [overshoot]
    assert "names model 'gpt-4o'" in overshoot.reasons[0]
    assert overshoot.charged == spent <= overshoot.reserved
    assert overshoot.claimed > 8 * limit  # what the provider's claim would have cost, reported


async def test_more_completion_tokens_than_max_tokens_are_cut_to_the_contract_and_reported() -> None:
    provider = Provider(lambda body: chat(body, completion=3000))
    async with provider.client() as probe:
        limit = worst_case(probe) * Decimal("1.2")
    budget = InMemoryBudget(limit)
    async with provider.client(budget=budget) as client:
        results = await asyncio.gather(
            *(client.decide(f"{PROMPT} {i}", ["BTC"], model="gpt-4o-mini") for i in range(5)),
            return_exceptions=True,
        )
    spent = await budget.spent_today()
    assert spent <= limit  # the seed billed 4.7x the daily limit here
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert answered
    assert all(isinstance(r, BudgetExceeded) for r in results if isinstance(r, BaseException))
    for r in answered:
        assert r.overshoot is not None
        assert "3000 completion tokens, max_tokens was 300" in r.overshoot.reasons[0]
        assert r.overshoot.claimed > r.overshoot.charged


async def test_a_dated_version_of_the_requested_model_is_billed_at_its_own_price() -> None:
    provider = Provider(lambda body: chat(body, model="gpt-4o-2024-08-06"))
    async with provider.client() as client:
        result = await client.decide(PROMPT, ["BTC"], model="gpt-4o")
    assert result.overshoot is None
    assert result.cost == PRICES.cost("gpt-4o-2024-08-06", result.usage).total


async def test_declared_substitutes_are_reserved_at_the_dearest_price() -> None:
    provider = Provider(lambda body: chat(body, model="gpt-4o", completion=300))
    async with provider.client() as probe:
        mini, dear = worst_case(probe), worst_case(probe, "gpt-4o")
    substitutes = {"gpt-4o-mini": ["gpt-4o"]}
    small = InMemoryBudget(mini * 2)  # fits a gpt-4o-mini reservation, not a gpt-4o one
    async with provider.client(budget=small, billable_as=substitutes) as client:
        with pytest.raises(BudgetExceeded):
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert provider.requests == []  # refused before sending
    big = InMemoryBudget(dear * 2)
    async with provider.client(budget=big, billable_as=substitutes) as client:
        result = await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert result.overshoot is None
    assert result.cost == PRICES.cost("gpt-4o", result.usage).total  # honest: it was a declared substitute


async def test_once_a_real_overshoot_passes_the_limit_every_further_call_is_refused() -> None:
    # deepseek-chat is counted with a stand-in tokenizer (+25 %); its provider counts 60 % more.
    counted = Provider()
    async with counted.client() as probe:
        tokens = count_chat_tokens(probe._messages(PROMPT), "deepseek-chat")
    provider = Provider(lambda body: chat(body, prompt=int(tokens * 1.6), completion=300))
    async with provider.client() as probe:
        worst = PRICES.max_cost("deepseek-chat", int(tokens * 1.25) + 1, 300)
    budget = InMemoryBudget(worst * Decimal("1.05"))
    async with provider.client(budget=budget) as client:
        first = await client.decide(PROMPT, ["BTC"], model="deepseek-chat")
        assert first.overshoot is not None
        assert first.overshoot.excess > 0
        assert "more tokens than counted" in first.overshoot.reasons[-1]
        assert await budget.spent_today() == first.cost  # the real cost is committed
        for _ in range(3):
            with pytest.raises(BudgetExceeded):
                await client.decide(PROMPT + " again", ["BTC"], model="deepseek-chat")
    assert len(provider.requests) == 1
    report = client.get_comprehensive_cost_report()
    assert report["budget_overshoots"] == 1


async def test_a_claim_far_past_any_bound_is_bounded_by_the_request() -> None:
    provider = Provider(lambda body: chat(body, prompt=10**9, completion=10**9))
    budget = InMemoryBudget(Decimal(1))
    async with provider.client(budget=budget) as client:
        result = await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    prompt_bytes = sum(len(m["content"].encode()) + 16 for m in client._messages(PROMPT)) + 16
    assert result.cost <= PRICES.max_cost("gpt-4o-mini", prompt_bytes, 300)
    assert result.overshoot is not None
    assert result.overshoot.claimed > 100


# -- item 6: budget errors are the library's, a lost Redis neither loses the answer nor blocks the day ----


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def proxy(redis_server: RedisServer) -> AsyncIterator[TcpProxy]:
    p = TcpProxy("127.0.0.1", redis_server.port)
    await p.up()
    yield p
    await p.down()


def through(proxy: TcpProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/0"


def prefix() -> str:
    return f"oxbot-test:budget:{uuid.uuid4().hex}"


async def test_losing_redis_between_reserve_and_settle_keeps_the_answer_and_settles_later(
    proxy: TcpProxy,
) -> None:
    redis = make_redis_client(through(proxy), socket_timeout=1.0)
    budget = RedisBudget(redis, Decimal(1), prefix=prefix())
    provider = Provider()
    provider.before = proxy.down  # the link drops while the provider is answering
    async with provider.client(budget=budget) as client:
        result = await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert result.cost > 0  # the paid answer came back (the seed raised redis' ConnectionError)
    assert result.decisions["BTC"].error is None
    assert budget.unsettled == 1
    await proxy.up()
    provider.before = None
    assert await budget.spent_today() == result.cost  # written as soon as Redis answered
    assert await budget.committed_today() == result.cost  # and the reservation released
    assert budget.unsettled == 0
    assert budget.degraded is None
    await redis.aclose()


async def test_an_unreachable_budget_refuses_with_a_library_error_by_default() -> None:
    from tests.servers import free_port

    redis = make_redis_client(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    budget = RedisBudget(redis, Decimal(1), prefix=prefix())
    provider = Provider()
    async with provider.client(budget=budget) as client:
        with pytest.raises(BudgetUnavailable, match="policy: refuse") as info:
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert isinstance(info.value, BudgetError | LLMError | OxbotError)
    assert provider.requests == []
    await redis.aclose()


async def test_an_unreachable_budget_with_a_fallback_allowance_spends_at_most_that_and_writes_it_back(
    proxy: TcpProxy,
) -> None:
    redis = make_redis_client(through(proxy), socket_timeout=1.0)
    provider = Provider()
    async with provider.client() as probe:
        one = worst_case(probe)
    budget = RedisBudget(redis, Decimal(1), prefix=prefix(), fallback_limit=one * Decimal("2.5"))
    await budget.spent_today()  # the start-up read, Redis up
    await proxy.down()
    answered = 0
    refusals: list[str] = []
    async with provider.client(budget=budget) as client:
        for i in range(6):
            try:
                await client.decide(f"{PROMPT} {i}", ["BTC"], model="gpt-4o-mini")
                answered += 1
            except BudgetExceeded as exc:
                refusals.append(str(exc))
        assert budget.degraded is not None
        assert "unreachable" in budget.degraded
        local_spend = sum(r.cost for r in client.ledger.records)
    assert answered >= 2
    assert len(refusals) == 6 - answered
    assert all("local fallback" in r for r in refusals)
    assert local_spend <= one * Decimal("2.5")
    await proxy.up()
    assert await budget.spent_today() == local_spend  # the local spend reached the shared counter
    await redis.aclose()


async def test_a_crashed_reservation_expires_so_the_day_is_not_blocked(redis_server: RedisServer) -> None:
    clock = FakeClock(1_767_225_600.0)
    key = prefix()
    crashed = RedisBudget(make_redis_client(redis_server.url), Decimal("0.01"), prefix=key, clock=clock,
                          lease_s=60)  # fmt: skip
    await crashed.reserve(Decimal("0.008"))  # the process dies before settling
    other = RedisBudget(make_redis_client(redis_server.url), Decimal("0.01"), prefix=key, clock=clock,
                        lease_s=60)  # fmt: skip
    with pytest.raises(BudgetExceeded):
        await other.reserve(Decimal("0.005"))
    clock.advance(61)
    r = await other.reserve(Decimal("0.005"))  # the dead process's lease has expired
    await other.settle(r, Decimal("0.004"))
    assert await other.spent_today() == Decimal("0.004")
    assert await other.committed_today() == Decimal("0.004")


async def test_a_late_settlement_after_its_lease_expired_still_counts(redis_server: RedisServer) -> None:
    clock = FakeClock(1_767_225_600.0)
    budget = RedisBudget(make_redis_client(redis_server.url), Decimal(1), prefix=prefix(), clock=clock,
                         lease_s=10)  # fmt: skip
    r = await budget.reserve(Decimal("0.2"))
    clock.advance(11)
    await budget.reserve(Decimal("0.1"))  # purges the expired lease
    await budget.settle(r, Decimal("0.15"))
    assert await budget.spent_today() == Decimal("0.15")
    assert await budget.committed_today() == Decimal("0.25")


# -- item 7: a Redis restarted without persistence does not reset the day's spend -------------------------


async def test_a_restart_without_persistence_falls_back_to_the_local_ledger_until_the_day_ends(
    redis_server: RedisServer,
) -> None:
    provider = Provider()
    async with provider.client() as probe:
        one = worst_case(probe)
    limit = one * 6
    budget = RedisBudget(make_redis_client(redis_server.url, socket_timeout=1.0), limit, prefix=prefix(),
                         fallback_limit=limit)  # fmt: skip
    spent_before = Decimal(0)
    async with provider.client(budget=budget) as client:
        for i in range(3):
            spent_before += (await client.decide(f"{PROMPT} {i}", ["BTC"], model="gpt-4o-mini")).cost
        redis_server.restart()  # no persistence: the day's counter is gone
        total = spent_before
        for i in range(20):
            try:
                total += (await client.decide(f"{PROMPT} after {i}", ["BTC"], model="gpt-4o-mini")).cost
            except BudgetExceeded:
                break
    assert total <= limit  # the seed spent 1.98x the limit here
    assert budget.degraded is not None
    assert "reset" in budget.degraded
    reported = await budget.spent_today()
    assert reported >= total  # never the reset figure (which is what Redis now says)
    fresh = await RedisBudget(make_redis_client(redis_server.url), limit, prefix="x").spent_today()
    assert fresh == 0


async def test_a_counter_that_went_back_is_a_reset_too(redis_server: RedisServer) -> None:
    clock = FakeClock(1_767_225_600.0)
    key = prefix()
    redis = make_redis_client(redis_server.url)
    budget = RedisBudget(redis, Decimal(1), prefix=key, clock=clock)
    r = await budget.reserve(Decimal("0.3"))
    await budget.settle(r, Decimal("0.3"))
    await redis.hset(f"{key}:2026-01-01", "spent", 0)  # an older snapshot restored
    with pytest.raises(BudgetUnavailable, match="reset"):
        await budget.reserve(Decimal("0.1"))
    assert await budget.spent_today() >= Decimal("0.3")


# -- issue 17: a server that may evict the budget's keys ---------------------------------------------------


@pytest.fixture
def lru_server() -> Iterator[RedisServer]:
    server = RedisServer("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru").start()
    yield server
    server.stop()


async def test_an_allkeys_server_is_refused_at_start_up(lru_server: RedisServer) -> None:
    redis = make_redis_client(lru_server.url)
    assert await eviction_policy(redis) == ("allkeys-lru", "CONFIG GET")
    budget = RedisBudget(redis, Decimal(1), prefix=prefix())
    provider = Provider()
    async with provider.client(budget=budget) as client:
        with pytest.raises(BudgetServerUnsafe, match="OXBOT_BUDGET_REDIS_URL"):
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert provider.requests == []
    await redis.aclose()


async def test_the_policy_is_read_from_info_where_config_is_disabled() -> None:
    server = RedisServer("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lfu",
                         "--rename-command", "CONFIG", "").start()  # fmt: skip
    try:
        redis = make_redis_client(server.url)
        assert await eviction_policy(redis) == ("allkeys-lfu", "INFO memory")
        with pytest.raises(BudgetServerUnsafe):
            await RedisBudget(redis, Decimal(1), prefix=prefix()).reserve(Decimal("0.01"))
        await redis.aclose()
    finally:
        server.stop()


async def test_with_an_opt_in_an_evicted_counter_never_lets_spend_pass_the_limit(
    lru_server: RedisServer,
) -> None:
    redis = make_redis_client(lru_server.url, socket_timeout=2.0)
    provider = Provider()
    async with provider.client() as probe:
        one = worst_case(probe)
    limit = one * 5
    key = prefix()
    budget = RedisBudget(redis, limit, prefix=key, allow_evicting_server=True, fallback_limit=limit)
    total = Decimal(0)
    async with provider.client(budget=budget) as client:
        for i in range(2):
            total += (await client.decide(f"{PROMPT} {i}", ["BTC"], model="gpt-4o-mini")).cost
        # A cache neighbour fills the server past its 2 MB: LRU evicts the (older) budget hash.
        day_key = f"{key}:{next(iter(budget._days))}"
        filler = 0
        while await redis.exists(day_key) and filler < 20_000:
            await redis.set(f"filler:{filler}", b"x" * 2048)
            filler += 1
        assert not await redis.exists(day_key), "the budget's key was never evicted"
        for i in range(20):
            try:
                total += (await client.decide(f"{PROMPT} more {i}", ["BTC"], model="gpt-4o-mini")).cost
            except BudgetExceeded:
                break
    assert total <= limit
    assert budget.degraded is not None
    assert "reset" in budget.degraded
    assert await budget.spent_today() >= total
    await redis.aclose()


async def test_a_noeviction_or_volatile_server_is_accepted_and_the_keys_carry_no_ttl() -> None:
    server = RedisServer("--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru").start()
    try:
        redis = make_redis_client(server.url)
        key = prefix()
        budget = RedisBudget(redis, Decimal(1), prefix=key)
        r = await budget.reserve(Decimal("0.1"))
        await budget.settle(r, Decimal("0.05"))
        assert budget.server is not None
        assert budget.server.eviction_policy == "volatile-lru"
        assert budget.server.persistent is False
        day_keys = [k async for k in redis.scan_iter(match=f"{key}:*")]
        assert day_keys
        assert [await redis.ttl(k) for k in day_keys] == [-1] * len(day_keys)  # volatile-* never evicts
        await redis.aclose()
    finally:
        server.stop()
