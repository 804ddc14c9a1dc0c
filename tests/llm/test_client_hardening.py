"""Issue 13 on the LLM client's paths: hostile Retry-After (11), a total deadline against a server that drips
bytes (12, a real HTTP server on 127.0.0.1), the API key never stored or raised (15), deep nesting through
`decide()` (4), and a failing budget that never loses a paid answer (6)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pytest_oxbot.http import HttpOptions
from pytest_oxbot.llm import (
    CostAwareLLMClient,
    InMemoryBudget,
    LLMDeadlineExceeded,
    LLMError,
    LLMResponseError,
    LLMRetriesExhausted,
    Signal,
)
from pytest_oxbot.llm.budget import Reservation
from pytest_oxbot.pricing import PriceTable
from pytest_oxbot.retry import RetryPolicy
from tests.servers import DripServer

from .conftest import DictCache, SleepRecorder
from .test_budget_hardening import chat

PRICES = PriceTable.shipped()
KEY = "sk-live-SECRET-0123456789abcdef"
PROMPT = "BTC at 97000"


def client_for(handler: Any, **kwargs: Any) -> CostAwareLLMClient:
    kwargs.setdefault("price_table", PRICES)
    return CostAwareLLMClient(
        base_url="https://llm.test/v1", api_key=KEY, transport=httpx.MockTransport(handler), **kwargs
    )


def scripted(*responses: Any) -> Any:
    """A handler answering the given responses in order (a callable gets the decoded body), then 200s."""
    queue = list(responses)
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(1)
        item = queue.pop(0) if queue else None
        if item is None:
            return chat(body)
        return item(body) if callable(item) else item

    handler.calls = seen  # type: ignore[attr-defined]
    return handler


# -- item 11: hostile Retry-After on the LLM path ----------------------------------------------------------


@pytest.mark.parametrize("value", ["1e9", "inf", "Infinity", "99999999999999999999"])
async def test_a_huge_or_infinite_retry_after_never_sleeps_for_ever(value: str) -> None:
    sleeps = SleepRecorder()
    handler = scripted(httpx.Response(429, headers={"Retry-After": value}))
    policy = RetryPolicy(max_attempts=3, max_total=30)
    async with client_for(handler, retry=policy, sleep=sleeps) as client:
        result = await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert result.decisions["BTC"].error is None
    assert len(sleeps.waits) == 1
    assert 0 < sleeps.waits[0] <= policy.max_delay  # treated as absent: a bounded backoff


async def test_nan_on_a_429_does_not_retry_at_once() -> None:
    sleeps = SleepRecorder()
    handler = scripted(*[httpx.Response(429, headers={"Retry-After": "nan"})] * 2)
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_total=30)
    async with client_for(handler, retry=policy, sleep=sleeps) as client:
        await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert len(sleeps.waits) == 2
    assert sleeps.waits[0] >= 0.5
    assert sleeps.waits[1] >= 1.0  # growing, never "at once"


# -- item 12: one total deadline around the whole call, against a real dripping server --------------------


@pytest_asyncio.fixture
async def drip() -> AsyncIterator[DripServer]:
    server = await DripServer(interval=0.5, length=10_000).start()
    yield server
    await server.aclose()


async def test_a_server_dripping_one_byte_every_half_second_is_cut_at_the_total_deadline(
    drip: DripServer,
) -> None:
    budget = InMemoryBudget(Decimal(1))
    async with CostAwareLLMClient(
        base_url=drip.url + "/v1",
        api_key=KEY,
        price_table=PRICES,
        budget=budget,
        http=HttpOptions(connect_timeout=5, read_timeout=10),  # each byte arrives well within 10 s
        retry=RetryPolicy(max_attempts=4, max_total=1.5),
    ) as client:
        began = time.monotonic()
        with pytest.raises(LLMDeadlineExceeded, match=r"1\.5 s deadline") as info:
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
        elapsed = time.monotonic() - began
    assert info.value.in_flight
    assert drip.requests == 1
    assert drip.bytes_sent < drip.length  # cut long before the 5,000 s the answer would take
    assert elapsed < 30  # the bound is 1.5 s; the seed waited 30 s+ here (generous for a loaded machine)
    # The request was in flight: the provider may bill it, so its reservation is charged, not released.
    assert await budget.spent_today() > 0
    assert client.get_comprehensive_cost_report()["estimated_charges"] == 1


async def test_the_deadline_covers_waits_between_attempts_too() -> None:
    sleeps = SleepRecorder()
    handler = scripted(*[httpx.Response(503)] * 10)
    policy = RetryPolicy(max_attempts=10, base_delay=2, max_delay=8, max_total=5)
    async with client_for(handler, retry=policy, sleep=sleeps) as client:
        with pytest.raises(LLMRetriesExhausted):
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert sum(sleeps.waits) <= 5


# -- item 15: the API key never reaches what the client stores, logs or raises ---------------------------


async def test_a_provider_echoing_the_key_in_errors_never_puts_it_in_an_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = httpx.Response(500, json={"error": f"bad key {KEY} (Bearer {KEY})"})
    handler = scripted(echo, echo)
    async with client_for(handler, retry=RetryPolicy(max_attempts=2), sleep=SleepRecorder()) as client:
        with pytest.raises(LLMRetriesExhausted) as info:
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value.__dict__)
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": KEY}},
        {"choices": [{"message": {"content": 5}}], "usage": {"prompt_tokens": 1}, "note": KEY},
        {"choices": KEY, "usage": {}},
    ],
)
async def test_a_malformed_answer_echoing_the_key_raises_without_it(body: dict[str, Any]) -> None:
    handler = scripted(httpx.Response(200, json=body))
    async with client_for(handler) as client:
        with pytest.raises(LLMResponseError) as info:
            await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
    assert KEY not in str(info.value)


async def test_a_key_echoed_in_the_answer_never_reaches_cache_ledger_logs_or_decisions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    content = json.dumps(
        {"BTC": {"signal": "hold", "confidence": 0.5, "justification": f"my key is {KEY}"},
         "ETH": {"signal": KEY}}  # an invalid decision whose error would quote the signal
    )  # fmt: skip
    cache = DictCache()
    handler = scripted(lambda body: chat(body, content=content, model=KEY))
    async with client_for(handler, cache=cache) as client:
        result = await client.decide(PROMPT, ["BTC", "ETH"], model="gpt-4o-mini")
        again = await client.decide(PROMPT, ["BTC", "ETH"], model="gpt-4o-mini")  # from the cache
        report = client.get_comprehensive_cost_report()
        overshoots = repr(client.overshoots)
    assert again.cache_hit
    texts = [
        result.raw_content,
        repr(result),
        repr(again),
        json.dumps(cache.data, default=str),
        json.dumps(report, default=str),
        repr(client.ledger.records),
        overshoots,
        caplog.text,
    ]
    for text in texts:
        assert KEY not in text
    assert "***" in result.decisions["BTC"].justification
    assert result.decisions["ETH"].signal is Signal.HOLD


# -- item 4 through decide(), and item 6 for any Budget ---------------------------------------------------


async def test_deep_nesting_through_decide_is_hold_not_a_recursion_error() -> None:
    handler = scripted(lambda body: chat(body, content="[" * 1000 + '{"BTC": {"signal": "buy_to_enter"'))
    async with client_for(handler) as client:
        result = await client.decide(PROMPT, ["BTC", "ETH"], model="gpt-4o-mini")
    assert result.trades == []
    assert all(d.error for d in result.decisions.values())


class FlakyBudget(InMemoryBudget):
    """A third-party budget whose settle fails until `healthy` (e.g. its store is down)."""

    def __init__(self) -> None:
        super().__init__(Decimal(1))
        self.healthy = False

    async def settle(self, reservation: Reservation, actual: Decimal) -> None:
        if not self.healthy:
            raise ConnectionError("store down")
        await super().settle(reservation, actual)


async def test_a_budget_that_cannot_settle_never_loses_the_paid_answer() -> None:
    budget = FlakyBudget()
    async with client_for(scripted(), budget=budget) as client:
        first = await client.decide(PROMPT, ["BTC"], model="gpt-4o-mini")
        assert first.cost > 0
        assert await budget.spent_today() == 0  # not yet settled
        budget.healthy = True
        second = await client.decide(PROMPT + " 2", ["BTC"], model="gpt-4o-mini")
    assert await budget.spent_today() == first.cost + second.cost  # the kept settlement was retried


def test_errors_are_the_librarys() -> None:
    assert issubclass(LLMDeadlineExceeded, LLMRetriesExhausted)
    assert issubclass(LLMDeadlineExceeded, LLMError)
