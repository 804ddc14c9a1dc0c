"""A fake OpenAI-compatible chat-completions provider on respx: real answer shape, real token counts.

Why a fake this faithful: cost and latency KPIs are only meaningful if the fake bills like the real
thing. Each answer has exactly the shape of the recorded `gpt-4o` response shipped in `data/llm/`, its
`usage` counted with the real tokenizer from the request and the answer, output cut at `max_tokens`
(`finish_reason: "length"`) as a provider would, and a *modelled* latency from `fakes.latency` that is
recorded (and advances an injected `FakeClock`) instead of slept, unless asked to really sleep.

Works without pytest: `with FakeLLMProvider() as fake: ...` mounts a respx router on `fake.base_url`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from types import TracebackType
from typing import Any

import httpx
import respx

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.errors import FakeError
from pytest_oxbot.fakes.cassette import Cassette, CassetteMiss, RecordingTransport, request_hash
from pytest_oxbot.fakes.faults import Fault, FaultQueue, PendingFault
from pytest_oxbot.fakes.latency import LatencyModel, latency_model_for
from pytest_oxbot.llm.client import CostAwareLLMClient, DecisionResult
from pytest_oxbot.tokens import count_chat_tokens, count_tokens

__all__ = [
    "DEFAULT_BASE_URL",
    "FakeCall",
    "FakeLLMProvider",
    "FakeRequest",
    "Fault",
    "Nof1Answers",
    "load_nof1_conversations",
    "load_reference_response",
]

DEFAULT_BASE_URL = "https://llm.oxbot.test/v1"
MODELLED_LATENCY_HEADER = "x-oxbot-modelled-latency-s"


LLM_FAULTS = frozenset(
    {
        Fault.RATE_LIMIT,
        Fault.SERVER_ERROR,
        Fault.TIMEOUT,
        Fault.MALFORMED,
        Fault.MISSING_SYMBOL,
        Fault.INVALID_BODY,
    }
)
"""What the fake provider can suffer: MALFORMED cuts the model's content mid-JSON."""


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """What an answer function sees: the request body, already decoded."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None
    index: int

    @property
    def prompt(self) -> str:
        """The last user message (where the market state is)."""
        users = [m.get("content") or "" for m in self.messages if m.get("role") == "user"]
        return str(users[-1]) if users else ""


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One request the fake received (never the Authorization header: only whether there was one)."""

    model: str
    messages: list[dict[str, Any]]
    status: int
    fault: Fault | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    modelled_latency_s: float = 0.0
    finish_reason: str | None = None
    authorized: bool = False


Answer = str | Mapping[str, Any]
AnswerSource = Answer | Sequence[Answer] | Callable[[FakeRequest], Answer]


@cache
def _read_json(name: str) -> Any:
    text = resources.files("pytest_oxbot").joinpath(f"data/llm/{name}").read_text("utf-8")
    return json.loads(text)


def load_reference_response() -> dict[str, Any]:
    """The real `gpt-4o-2024-08-06` chat.completion answer the fake reproduces (a fresh copy)."""
    return copy.deepcopy(_read_json("openai_chat_completion_response.json"))


def load_nof1_conversations() -> list[dict[str, Any]]:
    """The 12 real nof1 Alpha Arena calls (prompt, per-coin JSON decision, reasoning)."""
    return copy.deepcopy(_read_json("nof1_conversations.json")["conversations"])


class Nof1Answers:
    """Scripted answers from the real nof1 decisions, cycled in order, limited to the coins the prompt names.

    `with_reasoning=True` wraps the JSON in the model's own chain of thought and a code fence, the way
    reasoning models answer; `fields` keeps only some keys of each coin's decision (values untouched).
    """

    def __init__(self, *, with_reasoning: bool = False, fields: Sequence[str] | None = None) -> None:
        self._items = load_nof1_conversations()
        self._cycle = itertools.cycle(range(len(self._items)))
        self.with_reasoning = with_reasoning
        self.fields = tuple(fields) if fields is not None else None

    def __call__(self, request: FakeRequest) -> Answer:
        item = self._items[next(self._cycle)]
        decisions: dict[str, Any] = item["llm_response"]
        named = {
            coin: d for coin, d in decisions.items() if re.search(rf"\b{re.escape(coin)}\b", request.prompt)
        }
        chosen = named or decisions
        if self.fields is not None:
            chosen = {c: {k: v for k, v in d.items() if k in self.fields} for c, d in chosen.items()}
        if not self.with_reasoning:
            return chosen
        body = json.dumps(chosen, separators=(",", ":"))
        return f"{item['cot_trace'].strip()}\n\n```json\n{body}\n```"


class FakeLLMProvider:
    """respx fake of `POST {base_url}/chat/completions` with scripted answers, faults and modelled latency."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        answers: AnswerSource | None = None,
        clock: FakeClock | None = None,
        sleep: bool = False,
        latency_models: Mapping[str, LatencyModel] | None = None,
        cassette: Cassette | None = None,
        api_key: str = "sk-fake-oxbot",
        record_upstream: str | None = None,
        client_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.sleep = sleep
        self.latency_models = dict(latency_models or {})
        self.cassette = cassette
        self.api_key = api_key
        self.calls: list[FakeCall] = []
        self.modelled_latencies: list[float] = []
        self._faults = FaultQueue()
        self._answer = _answer_fn(answers if answers is not None else Nof1Answers())
        self._router: respx.MockRouter | None = None
        self._index = 0
        self.client_defaults = dict(client_defaults or {})
        self.decisions: list[DecisionResult] = []
        self.clients: list[CostAwareLLMClient] = []
        if record_upstream is not None and cassette is None:
            raise ValueError("record_upstream needs a cassette to record into")
        self.record_upstream = record_upstream.rstrip("/") if record_upstream else None

    def __repr__(self) -> str:
        return f"FakeLLMProvider(base_url={self.base_url!r}, calls={len(self.calls)})"

    # -- respx lifecycle --
    def start(self) -> FakeLLMProvider:
        if self.record_upstream is not None:
            return self  # record mode: real calls through a RecordingTransport, nothing mocked
        router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True, base_url=self.base_url)
        router.post("/chat/completions").mock(side_effect=self._handle)
        router.start()
        self._router = router
        return self

    def stop(self) -> None:
        if self.record_upstream is not None and self.cassette is not None:
            self.cassette.save()
        if self._router is not None:
            self._router.stop()
            self._router = None

    def __enter__(self) -> FakeLLMProvider:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- scripting --
    def inject(
        self, kind: Fault | str, *, times: int = 1, retry_after: float | None = 1.0, symbol: str | None = None
    ) -> None:
        """Make the next `times` calls suffer `kind` (429 carries `Retry-After: retry_after`)."""
        fault = Fault.parse(kind, LLM_FAULTS)
        self._faults.add(PendingFault(fault, times=times, retry_after=retry_after, symbol=symbol))

    @property
    def successful_calls(self) -> list[FakeCall]:
        return [c for c in self.calls if c.status == 200 and c.fault is not Fault.INVALID_BODY]

    def client_kwargs(self) -> dict[str, Any]:
        """Arguments that point a `CostAwareLLMClient` at this fake (and its clock, if any).

        In record mode they point at the real provider instead, with the key from the environment and a
        transport that records into the cassette.
        """
        if self.record_upstream is not None and self.cassette is not None:
            transport = RecordingTransport(self.cassette, on_record=self.modelled_latencies.append)
            return {"base_url": self.record_upstream, "transport": transport}
        kwargs: dict[str, Any] = {"base_url": self.base_url, "api_key": self.api_key}
        if self.clock is not None:
            kwargs["clock"] = self.clock
        return kwargs

    def client(self, **overrides: Any) -> CostAwareLLMClient:
        """A `CostAwareLLMClient` wired to this fake; its ledger feeds the fixture's KPIs."""
        made = CostAwareLLMClient(**{**self.client_defaults, **self.client_kwargs(), **overrides})
        self.clients.append(made)
        return made

    def record_decision(self, result: DecisionResult) -> None:
        """Count a `DecisionResult` from a client you built yourself (for `cost_per_decision`)."""
        self.decisions.append(result)

    def pending_faults(self) -> list[str]:
        return [f.kind.value for f in self._faults.pending() for _ in range(f.times)]

    # -- the endpoint --
    async def _handle(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        model = str(payload.get("model", ""))
        messages = list(payload.get("messages") or [])
        authorized = request.headers.get("authorization", "").startswith("Bearer ")
        fault = self._faults.take()
        index = self._index
        self._index += 1
        if fault is not None and fault.kind in (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.TIMEOUT):
            return self._fail(request, fault, model, messages, authorized)
        if self.cassette is not None:
            return await self._replay(request, payload, model, messages, authorized)
        content = self._content(FakeRequest(model, messages, payload.get("max_tokens"), index), fault)
        completion_tokens = count_tokens(content, model)
        finish = "stop"
        max_tokens = payload.get("max_tokens")
        if isinstance(max_tokens, int) and completion_tokens > max_tokens:
            content = _truncate_to_tokens(content, model, max_tokens)
            completion_tokens = count_tokens(content, model)
            finish = "length"
        prompt_tokens = count_chat_tokens(messages, model)
        latency = latency_model_for(model, self.latency_models).latency(completion_tokens)
        await self._pass_time(latency)
        body = load_reference_response()
        body["id"] = f"chatcmpl-oxbotfake{index:06d}"
        body["created"] = int(self.clock.time()) if self.clock is not None else body["created"]
        body["model"] = model
        body["choices"][0]["message"]["content"] = content
        body["choices"][0]["finish_reason"] = finish
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        kind = fault.kind if fault is not None else None
        self.calls.append(
            FakeCall(
                model, messages, 200, kind, prompt_tokens, completion_tokens, latency, finish, authorized
            )
        )
        self.modelled_latencies.append(latency)
        headers = {MODELLED_LATENCY_HEADER: repr(latency)}
        if kind is Fault.INVALID_BODY:
            return httpx.Response(200, headers=headers, text="<html>upstream proxy error</html>")
        return httpx.Response(200, headers=headers, json=body)

    def _content(self, req: FakeRequest, fault: PendingFault | None) -> str:
        answer = self._answer(req)
        if fault is not None and fault.kind is Fault.MISSING_SYMBOL:
            if not isinstance(answer, Mapping) or not answer:
                raise FakeError(
                    "Fault.MISSING_SYMBOL needs an answer given as a mapping of symbol -> decision"
                )
            drop = fault.symbol or next(iter(answer))
            answer = {k: v for k, v in answer.items() if k != drop}
        text = answer if isinstance(answer, str) else json.dumps(answer, separators=(",", ":"), default=str)
        if fault is not None and fault.kind is Fault.MALFORMED:
            text = text[: max(1, len(text) // 2)]
        return text

    def _fail(
        self,
        request: httpx.Request,
        fault: PendingFault,
        model: str,
        messages: list[dict[str, Any]],
        auth: bool,
    ) -> httpx.Response:
        if fault.kind is Fault.TIMEOUT:
            self.calls.append(FakeCall(model, messages, 0, fault.kind, authorized=auth))
            raise httpx.ReadTimeout("fake provider: modelled read timeout", request=request)
        if fault.kind is Fault.RATE_LIMIT:
            self.calls.append(FakeCall(model, messages, 429, fault.kind, authorized=auth))
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            error = {
                "message": "Rate limit reached for requests",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
            return httpx.Response(429, headers=headers, json={"error": error})
        self.calls.append(FakeCall(model, messages, 500, fault.kind, authorized=auth))
        error = {"message": "The server had an error while processing your request.", "type": "server_error"}
        return httpx.Response(500, json={"error": error})

    async def _replay(
        self,
        request: httpx.Request,
        payload: Mapping[str, Any],
        model: str,
        messages: list[dict[str, Any]],
        auth: bool,
    ) -> httpx.Response:
        assert self.cassette is not None
        try:
            entry = self.cassette.get(request_hash(payload))
        except CassetteMiss as exc:
            self.calls.append(FakeCall(model, messages, 404, None, authorized=auth))
            return httpx.Response(404, json={"error": {"message": str(exc), "type": "cassette_miss"}})
        usage = entry.usage
        await self._pass_time(entry.latency_s)
        self.calls.append(
            FakeCall(
                model,
                messages,
                200,
                None,
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                entry.latency_s,
                "replay",
                auth,
            )
        )
        self.modelled_latencies.append(entry.latency_s)
        return httpx.Response(
            200, headers={MODELLED_LATENCY_HEADER: repr(entry.latency_s)}, json=entry.response
        )

    async def _pass_time(self, seconds: float) -> None:
        if self.sleep:
            await asyncio.sleep(seconds)
        elif self.clock is not None:
            self.clock.advance(seconds)

    def total_modelled_latency(self) -> Decimal:
        return sum((Decimal(repr(x)) for x in self.modelled_latencies), Decimal(0))


def _answer_fn(source: AnswerSource) -> Callable[[FakeRequest], Answer]:
    if callable(source):
        return source
    if isinstance(source, str | Mapping):
        fixed = source
        return lambda _req: fixed
    items = list(source)
    if not items:
        raise ValueError("answers: an empty sequence")
    cycle = itertools.cycle(items)
    return lambda _req: next(cycle)


def _truncate_to_tokens(text: str, model: str, limit: int) -> str:
    """Longest prefix of `text` with at most `limit` tokens (what a provider returns at `max_tokens`)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(text[:mid], model) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]
