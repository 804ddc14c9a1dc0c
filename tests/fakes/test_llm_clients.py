"""The fake LLM provider seen by real clients over loopback: the official `openai` SDK (sync, async,
streaming), `requests` and aiohttp, at any base URL and path prefix, for any model in the price table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import httpx
import pytest
import requests

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.latency import LATENCY_MODELS, LatencyModel
from pytest_oxbot.fakes.llm import FakeLLMProvider
from pytest_oxbot.pricing import PriceTable, usage_from_response
from pytest_oxbot.tokens import count_chat_tokens, count_tokens

openai = pytest.importorskip("openai")

ANSWER = {"BTC": {"signal": "hold", "confidence": 0.6, "invalidation_condition": "close below 60k"}}
MESSAGES = [
    {"role": "system", "content": "You trade."},
    {"role": "user", "content": "BTC at 64,000. Decide."},
]


@pytest.fixture
def fake() -> Iterator[FakeLLMProvider]:
    with FakeLLMProvider(answers=ANSWER, clock=FakeClock(), serve=True) as provider:
        yield provider


def test_openai_sdk_sync_gets_the_real_shape_real_usage_and_a_priced_call(fake: FakeLLMProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=200)
    text = reply.choices[0].message.content
    assert text == '{"BTC":{"signal":"hold","confidence":0.6,"invalidation_condition":"close below 60k"}}'
    assert reply.usage.prompt_tokens == count_chat_tokens(MESSAGES, "gpt-4o-mini")
    assert reply.usage.completion_tokens == count_tokens(text, "gpt-4o-mini")
    call = fake.calls[-1]
    assert call.authorized
    assert call.path == "/v1/chat/completions"
    expected = PriceTable.shipped().cost("gpt-4o-mini", usage_from_response(reply.usage.model_dump())).total
    assert call.cost == expected
    assert isinstance(call.cost, Decimal)
    model = LATENCY_MODELS["gpt-4o-mini"]
    assert call.modelled_latency_s == pytest.approx(
        model.ttft_s + call.completion_tokens / model.tokens_per_s
    )
    assert fake.clock is not None
    assert fake.clock.monotonic() == pytest.approx(call.modelled_latency_s)


async def test_openai_sdk_async_and_max_tokens_cut(fake: FakeLLMProvider) -> None:
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    try:
        reply = await client.chat.completions.create(model="deepseek-chat", messages=MESSAGES, max_tokens=5)
    finally:
        await client.close()
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5
    assert fake.calls[-1].finish_reason == "length"


def test_openai_sdk_streaming_with_usage(fake: FakeLLMProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == json.dumps(ANSWER, separators=(",", ":"))
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == fake.calls[-1].completion_tokens
    assert fake.calls[-1].stream


@pytest.mark.parametrize(
    ("public_url", "expected_path"),
    [
        ("https://api.deepseek.com/v1", "/v1/chat/completions"),
        ("https://api.deepseek.com", "/chat/completions"),
        ("https://openrouter.ai/api/v1", "/api/v1/chat/completions"),
        ("http://localhost:11434/v1", "/v1/chat/completions"),  # Ollama's OpenAI-compatible route
    ],
)
def test_any_base_url_and_path_prefix(public_url: str, expected_path: str) -> None:
    with FakeLLMProvider(public_url, answers="ok", serve=True) as fake:
        assert fake.base_url.endswith(expected_path.removesuffix("/chat/completions"))
        client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
        assert (
            client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
            .choices[0]
            .message.content
            == "ok"
        )
        # and httpx clients aimed at the impersonated URL are answered in-process, same fake
        answer = httpx.post(
            public_url + "/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
        )
        assert answer.json()["choices"][0]["message"]["content"] == "ok"
    assert [c.path for c in fake.calls] == [expected_path, expected_path]


def test_every_model_in_the_price_table_is_served_and_others_are_model_not_found() -> None:
    table = PriceTable.shipped()
    with FakeLLMProvider(answers="ok", serve=True, price_table=table) as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
        for model in table.models():
            assert client.chat.completions.create(model=model, messages=MESSAGES).model == model
        with pytest.raises(openai.NotFoundError, match="does not exist in the fake provider's price table"):
            client.chat.completions.create(model="gpt-9-imaginary", messages=MESSAGES)
        assert [m.id for m in client.models.list()] == table.models()
    assert all(c.cost is not None and c.cost > 0 for c in fake.calls if c.status == 200)


def test_a_priced_model_without_latency_figures_is_answered_and_flagged() -> None:
    table = PriceTable.from_mapping(
        {"house-llama-70b": {"input_cost_per_token": "1e-07", "output_cost_per_token": "2e-07"}}
    )
    with FakeLLMProvider(answers="ok", serve=True, price_table=table) as fake:
        reply = requests.post(
            fake.base_url + "/chat/completions",
            json={"model": "house-llama-70b", "messages": MESSAGES},
            timeout=5,
        )
        assert reply.status_code == 200
    assert fake.calls[0].modelled_latency_s is None
    assert fake.unknown_latency == {"house-llama-70b"}
    assert fake.modelled_latencies == []
    timed = LatencyModel(0.2, 100.0, "our own measurement")
    with FakeLLMProvider(
        answers="ok", serve=True, price_table=table, latency_models={"house-llama-70b": timed}
    ) as f2:
        requests.post(
            f2.base_url + "/chat/completions", json={"model": "house-llama-70b", "messages": []}, timeout=5
        )
    assert f2.modelled_latencies == [pytest.approx(0.2 + 1 / 100.0)]


async def test_aiohttp_and_faults_over_loopback(fake: FakeLLMProvider) -> None:
    fake.inject("429", retry_after=2)
    fake.inject("server_error")
    async with aiohttp.ClientSession() as session:
        url = fake.base_url + "/chat/completions"
        body = {"model": "gpt-4o-mini", "messages": MESSAGES}
        async with session.post(url, json=body) as limited:
            assert limited.status == 429
            assert limited.headers["retry-after"] == "2"
        async with session.post(url, json=body) as failed:
            assert failed.status == 500
        async with session.post(url, json=body) as ok:
            assert ok.status == 200
    assert [c.status for c in fake.calls] == [429, 500, 200]
    assert fake.pending_faults() == []


def test_openai_sdk_sees_a_rate_limit_and_a_real_timeout(fake: FakeLLMProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=0.5)
    fake.inject("rate_limit")
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    fake.inject("timeout")
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices


async def test_respx_and_loopback_share_one_state_and_one_clock(fake: FakeLLMProvider) -> None:
    async with fake.client() as ours:  # the toolkit's client: in-process through respx
        await ours.decide("BTC at 64,000", ["BTC"], model="gpt-4o-mini")
    theirs = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    theirs.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(fake.calls) == 2
    assert fake.clock is not None
    assert fake.clock.monotonic() == pytest.approx(sum(fake.modelled_latencies))


def test_server_url_before_start_and_a_bad_base_url_are_clear_errors() -> None:
    with pytest.raises(FakeError, match="start the fake provider first"):
        _ = FakeLLMProvider(serve=True).base_url
    with pytest.raises(FakeError, match="must be an http"):
        FakeLLMProvider("api.deepseek.com/v1")


def test_multi_part_content_is_counted_and_a_hostile_body_is_a_400(fake: FakeLLMProvider) -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "BTC at 64,000. Decide."}]}]
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=parts)
    plain = [{"role": "user", "content": "BTC at 64,000. Decide."}]
    assert reply.usage.prompt_tokens == count_chat_tokens(plain, "gpt-4o-mini")
    for body in (
        {"model": "gpt-4o-mini", "messages": "hi"},
        {"model": "gpt-4o-mini", "messages": [1, 2]},
        [1],
    ):
        answer = requests.post(fake.base_url + "/chat/completions", json=body, timeout=5)
        assert answer.status_code == 400
    assert requests.post(fake.base_url + "/chat/completions", data=b"{not json", timeout=5).status_code == 400
    assert fake.server_errors == []
