"""The fake provider: real answer shape, real token counts, modelled latency, nof1 scripts, cassettes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.cassette import Cassette, RecordingTransport, request_hash
from pytest_oxbot.fakes.latency import LATENCY_MODELS, LatencyModel, UnknownLatencyModel, latency_model_for
from pytest_oxbot.fakes.llm import FakeLLMProvider, FakeRequest, Nof1Answers, load_reference_response
from pytest_oxbot.llm import CostAwareLLMClient, Signal
from pytest_oxbot.llm.options import LLMOptions
from pytest_oxbot.pricing import PriceTable
from pytest_oxbot.tokens import count_chat_tokens, count_tokens

URL = "https://llm.oxbot.test/v1/chat/completions"
SECRET = "sk-live-never-in-a-cassette-77"


def _keys(obj: Any) -> Any:
    """The nested key structure of a JSON value (values ignored)."""
    if isinstance(obj, dict):
        return {k: _keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_keys(v) for v in obj]
    return type(obj).__name__ if obj is None else "v"


async def test_answer_has_the_exact_shape_of_the_real_response_and_real_usage() -> None:
    messages = [{"role": "user", "content": "BTC at 100000"}]
    with FakeLLMProvider(answers="hold everything") as fake:
        async with httpx.AsyncClient() as http:
            body = (await http.post(URL, json={"model": "gpt-4o-mini", "messages": messages})).json()
    reference = load_reference_response()
    assert _keys(body) == _keys(reference)
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"][0]["message"]["content"] == "hold everything"
    assert body["usage"]["prompt_tokens"] == count_chat_tokens(messages, "gpt-4o-mini")
    assert body["usage"]["completion_tokens"] == count_tokens("hold everything", "gpt-4o-mini")
    assert (
        body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert len(fake.calls) == 1


async def test_modelled_latency_advances_the_clock_and_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(_: float) -> None:
        raise AssertionError("the fake slept without --oxbot-llm-sleep")

    monkeypatch.setattr("pytest_oxbot.fakes.llm.asyncio.sleep", no_sleep)
    clock = FakeClock()
    with FakeLLMProvider(answers="x" * 200, clock=clock) as fake:
        async with httpx.AsyncClient() as http:
            await http.post(URL, json={"model": "deepseek-chat", "messages": []})
    tokens = fake.calls[0].completion_tokens
    expected = LATENCY_MODELS["deepseek-chat"].ttft_s + tokens / LATENCY_MODELS["deepseek-chat"].tokens_per_s
    assert fake.modelled_latencies == [pytest.approx(expected)]
    assert clock.monotonic() == pytest.approx(expected)


async def test_sleep_option_really_sleeps_the_modelled_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("pytest_oxbot.fakes.llm.asyncio.sleep", record)
    with FakeLLMProvider(answers="ok", sleep=True) as fake:
        async with httpx.AsyncClient() as http:
            await http.post(URL, json={"model": "gpt-4o-mini", "messages": []})
    assert slept == fake.modelled_latencies


def test_latency_model_table_cites_a_source_for_every_model_and_unknown_is_an_error() -> None:
    assert all(m.source and m.tokens_per_s > 0 for m in LATENCY_MODELS.values())
    assert set(PriceTable.shipped().models()) <= set(LATENCY_MODELS)
    with pytest.raises(UnknownLatencyModel):
        latency_model_for("mystery-model")
    custom = LatencyModel(0.1, 100.0, "my own measurement")
    assert latency_model_for("mystery-model", {"mystery-model": custom}).latency(50) == pytest.approx(0.6)


async def test_nof1_answers_are_real_decisions_limited_to_the_coins_in_the_prompt() -> None:
    answers = Nof1Answers()
    first = answers(FakeRequest("gpt-4o-mini", [{"role": "user", "content": "BTC and ETH only"}], None, 0))
    assert isinstance(first, dict)
    assert set(first) == {"BTC", "ETH"}
    assert first["BTC"]["stop_loss"] == 112152.48  # gemini-2.5-pro's real BTC decision


async def test_nof1_answers_with_reasoning_parse_through_the_client() -> None:
    with FakeLLMProvider(
        answers=Nof1Answers(
            with_reasoning=True,
            fields=("signal", "confidence", "stop_loss", "profit_target", "leverage", "quantity"),
        )
    ) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(),
            price_table=PriceTable.shipped(),
            options=LLMOptions(max_tokens=4000),
        ) as client:
            result = await client.decide("Decide for BTC ETH SOL", ["BTC", "ETH", "SOL"], model="gpt-4o-mini")
    assert fake.calls[0].finish_reason == "stop"
    assert all(d.error is None and d.signal is Signal.HOLD for d in result.decisions.values())


async def test_default_seed_max_tokens_cut_a_five_coin_nof1_answer() -> None:
    """A finding, kept as a test: 300 output tokens do not fit a full 5-coin nof1-style answer."""
    prompt = "Decide for BTC ETH SOL BNB XRP"
    with FakeLLMProvider() as fake:
        async with CostAwareLLMClient(**fake.client_kwargs(), price_table=PriceTable.shipped()) as client:
            result = await client.decide(prompt, ["BTC", "ETH", "SOL", "BNB", "XRP"], model="gpt-4o-mini")
    assert fake.calls[0].finish_reason == "length"
    assert fake.calls[0].completion_tokens == 300
    assert result.trades == []
    # ... and the truncation is an error on every decision, never a silent wall of HOLDs
    assert result.truncated
    assert result.errors[0] == "answer truncated at max_tokens=300 (finish_reason=length)"
    assert all(d.error == result.errors[0] for d in result.decisions.values())


async def test_the_compact_contract_fits_five_coins_in_300_tokens() -> None:
    """The same five-coin decision as above, asked for in the compact contract: it fits, and it is cheap."""
    symbols = ["BTC", "ETH", "SOL", "BNB", "XRP"]
    with FakeLLMProvider() as fake:
        async with CostAwareLLMClient(**fake.client_kwargs(), price_table=PriceTable.shipped()) as client:
            compact = await client.decide(
                "Decide for BTC ETH SOL BNB XRP", symbols, model="gpt-4o-mini", contract=True
            )
    call = fake.calls[0]
    assert call.finish_reason == "stop"
    assert not compact.truncated
    assert all(d.error is None for d in compact.decisions.values())
    assert call.completion_tokens < 200  # a full nof1-style answer of the same decisions is over 300
    sent = fake_request_body(fake, 0)
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"]["required"] == symbols
    assert "Answer with JSON only" in sent["messages"][-1]["content"]


@pytest.mark.parametrize(
    ("model", "wire"),
    [("deepseek-chat", "json_object"), ("claude-3-5-haiku-20241022", None), ("gemini-2.0-flash", None)],
)
async def test_the_contract_uses_what_each_provider_accepts(model: str, wire: str | None) -> None:
    with FakeLLMProvider() as fake:
        async with CostAwareLLMClient(**fake.client_kwargs(), price_table=PriceTable.shipped()) as client:
            result = await client.decide("Decide for BTC", ["BTC"], model=model, contract=True)
    sent = fake_request_body(fake, 0)
    assert (sent.get("response_format") or {}).get("type") == wire
    assert result.decisions["BTC"].error is None  # the instructions alone are enough for the answer


async def test_cassette_records_through_the_transport_and_replays_offline(tmp_path: Path) -> None:
    path = tmp_path / "llm.json"
    real = load_reference_response()

    def upstream(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        return httpx.Response(200, json=real)

    cassette = Cassette(path, secrets=[SECRET])
    transport = RecordingTransport(cassette, inner=httpx.MockTransport(upstream))
    async with CostAwareLLMClient(
        base_url="https://api.example.test/v1",
        api_key=SECRET,
        transport=transport,
        price_table=PriceTable.shipped(),
    ) as client:
        recorded = await client.complete([{"role": "user", "content": "who are you"}], model="gpt-4o")
    cassette.save()
    assert SECRET not in path.read_text()
    assert recorded.content == real["choices"][0]["message"]["content"]

    replay = Cassette(path)
    assert len(replay.entries) == 1
    with FakeLLMProvider(cassette=replay, clock=FakeClock()) as fake:
        async with CostAwareLLMClient(**fake.client_kwargs(), price_table=PriceTable.shipped()) as client:
            again = await client.complete([{"role": "user", "content": "who are you"}], model="gpt-4o")
            assert again.content == recorded.content
            assert again.usage == recorded.usage
            assert again.cost == recorded.cost
            with pytest.raises(Exception, match="no recorded answer"):
                await client.complete([{"role": "user", "content": "something else"}], model="gpt-4o")
    assert fake.modelled_latencies == [replay.entries[next(iter(replay.entries))].latency_s]


def test_cassette_refuses_to_store_a_secret(tmp_path: Path) -> None:
    from pytest_oxbot.fakes.cassette import CassetteEntry

    cassette = Cassette(tmp_path / "c.json", secrets=[SECRET])
    with pytest.raises(ValueError, match="secret"):
        cassette.put("k", CassetteEntry("gpt-4o", {"echo": SECRET}, 0.1, 0.0))


def test_request_hash_is_canonical() -> None:
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 3}
    b = json.loads(json.dumps(dict(reversed(list(a.items())))))
    assert request_hash(a) == request_hash(b)
    assert request_hash(a) != request_hash({**a, "max_tokens": 4})


def fake_request_body(fake: FakeLLMProvider, index: int) -> dict[str, Any]:
    """What the client sent in call `index` (model, messages, response_format, ...)."""
    call = fake.calls[index]
    return {"model": call.model, "messages": call.messages, "response_format": call.response_format}
