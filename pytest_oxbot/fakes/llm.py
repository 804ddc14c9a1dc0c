"""A fake OpenAI-compatible chat-completions provider: real answer shape, real token counts, real prices.

Why a fake this faithful: cost and latency KPIs are only meaningful if the fake bills like the real
thing. Each answer has exactly the shape of the recorded `gpt-4o` response shipped in `data/llm/`, its
`usage` counted with the real tokenizer from the request and the answer, output cut at `max_tokens`
(`finish_reason: "length"`) as a provider would, priced with the price table (litellm's format), and a
*modelled* latency from `fakes.latency` that is recorded (and advances an injected `FakeClock`) instead
of slept, unless asked to really sleep.

Two ways in, one handler: respx answers httpx clients aimed at `public_url` (any path under its host, so
any base URL and prefix: OpenAI's `/v1`, OpenRouter's `/api/v1`, DeepSeek's bare host); with
`serve=True`, `base_url` is a real loopback server (`http://127.0.0.1:<port>/v1`) for every other client:
the official `openai` SDK (sync and async), `requests`, aiohttp. Both accept any model in the price table
and answer `stream: true` as server-sent events.

Works without pytest: `with FakeLLMProvider(serve=True) as fake: OpenAI(base_url=fake.base_url, ...)`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import respx

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.errors import FakeError, UnknownModelError
from pytest_oxbot.fakes.cassette import Cassette, CassetteMiss, RecordingTransport, request_hash
from pytest_oxbot.fakes.faults import Fault, FaultQueue, PendingFault
from pytest_oxbot.fakes.latency import LatencyModel, UnknownLatencyModel, latency_model_for
from pytest_oxbot.fakes.records import (
    RecordedDecision,
    RecordError,
    cost_of_decision,
    parse_usage,
    price,
    usage_from_counts,
)
from pytest_oxbot.fakes.server import LoopbackServer, pass_through_to_loopback
from pytest_oxbot.llm.client import CostAwareLLMClient
from pytest_oxbot.llm.contract import AnswerContract
from pytest_oxbot.pricing import MalformedUsageError, PriceTable, usage_from_response
from pytest_oxbot.tokens import count_chat_tokens, count_tokens

__all__ = [
    "DEFAULT_BASE_URL",
    "FakeCall",
    "FakeLLMProvider",
    "FakeRequest",
    "Fault",
    "Nof1Answers",
    "RecordError",
    "RecordedDecision",
    "load_nof1_conversations",
    "load_reference_response",
]

DEFAULT_BASE_URL = "https://llm.oxbot.test/v1"
MODELLED_LATENCY_HEADER = "x-oxbot-modelled-latency-s"
CHAT_COMPLETIONS = "/chat/completions"


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
    response_format: Any = None

    @property
    def contract(self) -> AnswerContract | None:
        """The compact answer contract this request asks for (its schema or its instructions), if any."""
        return AnswerContract.from_request(self.response_format, self.prompt)

    @property
    def prompt(self) -> str:
        """The last user message (where the market state is)."""
        users = [_text(m.get("content")) for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else ""


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One request the fake received (never the Authorization header: only whether there was one).

    `cost` is the call's price from its `usage` and the fake's price table (None when it was not
    answered); `modelled_latency_s` is None for a model without published latency figures.
    """

    model: str
    messages: list[dict[str, Any]]
    status: int
    fault: Fault | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    modelled_latency_s: float | None = 0.0
    finish_reason: str | None = None
    authorized: bool = False
    cost: Decimal | None = None
    path: str = CHAT_COMPLETIONS
    stream: bool = False
    response_format: Any = None
    """The request's `response_format`, as sent (the compact contract's schema, `json_object`, ...)."""


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
    """Fake of `POST {base_url}/chat/completions` with scripted answers, faults, prices, modelled latency."""

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
        price_table: PriceTable | None = None,
        mount: bool = True,
        serve: bool = False,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FakeError(
                f"base_url must be an http(s) URL such as https://api.openai.com/v1, not {base_url!r}"
            )
        self.public_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self.clock = clock
        self.sleep = sleep
        self.latency_models = dict(latency_models or {})
        self.cassette = cassette
        self.api_key = api_key
        self.price_table = price_table if price_table is not None else PriceTable.shipped()
        self.mount = mount
        self.serve = serve
        self.calls: list[FakeCall] = []
        self.modelled_latencies: list[float] = []
        self.decisions: list[RecordedDecision] = []
        """Decisions counted by hand (`record_decision`, `record_usage`), for `cost_per_decision`."""
        self.clients: list[CostAwareLLMClient] = []
        self.unknown_latency: set[str] = set()
        """Models answered without published latency figures (no `llm_response_time` for them)."""
        self.errors: list[str] = []
        """Requests the fake could not answer faithfully (e.g. a model it cannot count tokens for)."""
        self.client_defaults = dict(client_defaults or {})
        self._faults = FaultQueue()
        self._answer = _answer_fn(answers if answers is not None else Nof1Answers())
        self._router: respx.MockRouter | None = None
        self._server = LoopbackServer(self._handle, name="oxbot-fake-llm")
        self._lock = threading.RLock()  # respx (the test's thread) and the server thread share the state
        self._started = False
        self._index = 0
        if record_upstream is not None and cassette is None:
            raise ValueError("record_upstream needs a cassette to record into")
        self.record_upstream = record_upstream.rstrip("/") if record_upstream else None

    def __repr__(self) -> str:
        where = self._server.url if self._server.running else self.public_url
        return f"FakeLLMProvider(base_url={where!r}, calls={len(self.calls)})"

    # -- where clients reach it --
    @property
    def base_url(self) -> str:
        """Where to point any client: the loopback server (with `public_url`'s path) when `serve`."""
        return self.server_url if self.serve else self.public_url

    @property
    def server_url(self) -> str:
        """`http://127.0.0.1:<port>/v1` (the path of `public_url`), started on first use."""
        if not self._started:
            raise FakeError(
                "start the fake provider first (`with FakeLLMProvider(...) as fake:` or the fixture)"
            )
        if not self._server.running:
            self._server.start()
        return self._server.url + self._prefix

    @property
    def httpx_url(self) -> str:
        """Where an httpx client (the toolkit's own) should go: in-process when mounted, else the server."""
        return self.public_url if self.mount else self.server_url

    @property
    def server_errors(self) -> list[str]:
        """What the handler raised while serving over loopback (a test should fail on any)."""
        return list(self._server.errors)

    # -- lifecycle --
    def start(self) -> FakeLLMProvider:
        self._started = True
        if self.record_upstream is not None or not self.mount:
            return self  # record mode: real calls through a RecordingTransport, nothing mocked
        parts = urlsplit(self.public_url)
        router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        origin: dict[str, Any] = {"scheme": parts.scheme, "host": parts.hostname}
        if parts.port is not None:
            origin["port"] = parts.port
        router.route(**origin).mock(side_effect=self._handle)
        router.route(scheme="http").mock(side_effect=pass_through_to_loopback)
        router.start()
        self._router = router
        return self

    def stop(self) -> None:
        if self.record_upstream is not None and self.cassette is not None:
            self.cassette.save()
        if self._router is not None:
            self._router.stop()
            self._router = None
        self._server.stop()
        self._started = False

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
        """Make the next `times` calls suffer `kind` (429 carries `Retry-After: retry_after`).

        `timeout` raises httpx.ReadTimeout in-process; over loopback the connection is held unanswered
        until the client's own timeout fires (set a short one in that test).
        """
        fault = Fault.parse(kind, LLM_FAULTS)
        with self._lock:
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
        kwargs: dict[str, Any] = {"base_url": self.httpx_url, "api_key": self.api_key}
        if self.clock is not None:
            kwargs["clock"] = self.clock
        return kwargs

    def client(self, **overrides: Any) -> CostAwareLLMClient:
        """A `CostAwareLLMClient` wired to this fake; its ledger feeds the fixture's KPIs."""
        made = CostAwareLLMClient(**{**self.client_defaults, **self.client_kwargs(), **overrides})
        self.clients.append(made)
        return made

    # -- counting decisions of any client --
    def record_decision(self, result: object) -> Decimal:
        """Count one decision: a `DecisionResult`, or any object/mapping with a Decimal `cost`.

        A float (or any inexact) cost is refused here, with what to pass instead. Returns the cost.
        """
        cost, model, usage = cost_of_decision(result)
        with self._lock:
            self.decisions.append(RecordedDecision(cost, model, usage, "record_decision"))
        return cost

    def record_usage(
        self,
        model: str,
        usage: object = None,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Decimal:
        """Count one decision of your own client, priced from its token usage; returns its cost (USD).

        Either `usage`, the provider's usage block as returned (OpenAI, DeepSeek or Anthropic shape; a
        dict or the SDK's object: `record_usage("gpt-4o-mini", response.usage)`), or the counts by hand
        (`prompt_tokens=..., completion_tokens=..., cached_tokens=...`, cached ones inside the prompt's,
        as OpenAI counts them). Priced with the fake's price table; an unknown model is an error.
        """
        if usage is not None and (prompt_tokens is not None or completion_tokens is not None):
            raise RecordError("record_usage: pass either a usage block or the token counts, not both")
        if usage is not None:
            try:
                parsed = parse_usage(usage)
            except MalformedUsageError as exc:
                raise RecordError(f"record_usage: {exc}") from None
        elif prompt_tokens is None or completion_tokens is None:
            raise RecordError(
                "record_usage needs the provider's usage block, or prompt_tokens= and completion_tokens="
            )
        else:
            parsed = usage_from_counts(prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens)
        cost = price(self.price_table, model, parsed)
        with self._lock:
            self.decisions.append(RecordedDecision(cost, model, parsed, "record_usage"))
        return cost

    def pending_faults(self) -> list[str]:
        with self._lock:
            return [f.kind.value for f in self._faults.pending() for _ in range(f.times)]

    def total_cost(self) -> Decimal:
        """What the answered calls cost, priced from their usage."""
        return sum((c.cost for c in self.calls if c.cost is not None), Decimal(0))

    # -- the endpoint --
    def _handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (respx and the loopback server call this, from any thread).

        The answer is a response that can also be awaited: awaited (respx's async path, the server), it
        first waits the modelled latency when `sleep=True`, so concurrent calls wait concurrently; a
        synchronous httpx client through respx gets it at once.
        """
        path = request.url.path
        if request.method == "GET" and path.endswith("/models"):
            return self._models()
        if request.method != "POST" or not path.endswith(CHAT_COMPLETIONS):
            return _openai_error(
                404, f"the fake provider does not serve {request.method} {path}", "not_found"
            )
        try:
            payload = json.loads(request.content)
        except ValueError:
            return _openai_error(400, "the request body is not JSON", "invalid_request_error")
        if not isinstance(payload, Mapping):
            return _openai_error(400, "the request body must be a JSON object", "invalid_request_error")
        messages = payload.get("messages") or []
        if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
            return _openai_error(400, "messages must be a list of message objects", "invalid_request_error")
        with self._lock:
            response, wait = self._answer_locked(request, payload)
        return _SleptResponse.wrap(response, wait, request)

    def _answer_locked(
        self, request: httpx.Request, payload: Mapping[str, Any]
    ) -> tuple[httpx.Response, float]:
        model = str(payload.get("model", ""))
        messages = list(payload.get("messages") or [])
        stream = bool(payload.get("stream"))
        authorized = request.headers.get("authorization", "").startswith("Bearer ")
        path = request.url.path
        if self.cassette is None and model not in self.price_table:
            self.calls.append(FakeCall(model, messages, 404, None, authorized=authorized, path=path))
            return _model_not_found(model, self.price_table), 0.0
        fault = self._faults.take()
        index = self._index
        self._index += 1
        if fault is not None and fault.kind in (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.TIMEOUT):
            return self._fail(request, fault, model, messages, authorized), 0.0
        if self.cassette is not None:
            return self._replay(payload, model, messages, authorized, path)
        try:
            prompt_tokens = count_chat_tokens(_countable(messages), model)
            asked = FakeRequest(model, messages, _max_tokens(payload), index, payload.get("response_format"))
            content = self._content(asked, fault)
            completion_tokens = count_tokens(content, model)
        except UnknownModelError as exc:
            message = f"the fake cannot count tokens for {model!r}: {exc}"
            self.errors.append(message)
            self.calls.append(FakeCall(model, messages, 400, None, authorized=authorized, path=path))
            return _openai_error(400, message, "invalid_request_error"), 0.0
        finish = "stop"
        max_tokens = _max_tokens(payload)
        if max_tokens is not None and completion_tokens > max_tokens:
            content = _truncate_to_tokens(content, model, max_tokens)
            completion_tokens = count_tokens(content, model)
            finish = "length"
        usage = _usage(prompt_tokens, completion_tokens)
        cost = self.price_table.cost(model, usage_from_response(usage)).total
        latency = self._latency(model, completion_tokens)
        kind = fault.kind if fault is not None else None
        self.calls.append(
            FakeCall(
                model,
                messages,
                200,
                kind,
                prompt_tokens,
                completion_tokens,
                latency,
                finish,
                authorized,
                cost,
                path,
                stream,
                payload.get("response_format"),
            )
        )
        headers = {MODELLED_LATENCY_HEADER: repr(latency)} if latency is not None else {}
        if latency is not None:
            self.modelled_latencies.append(latency)
            if not self.sleep and self.clock is not None:
                self.clock.advance(latency)
        wait = latency if (latency is not None and self.sleep) else 0.0
        if kind is Fault.INVALID_BODY:
            return httpx.Response(200, headers=headers, text="<html>upstream proxy error</html>"), wait
        body = load_reference_response()
        body["id"] = f"chatcmpl-oxbotfake{index:06d}"
        body["created"] = int(self.clock.time()) if self.clock is not None else body["created"]
        body["model"] = model
        body["choices"][0]["message"]["content"] = content
        body["choices"][0]["finish_reason"] = finish
        body["usage"] = usage
        if stream:
            return _stream_response(body, payload, headers), wait
        return httpx.Response(200, headers=headers, json=body), wait

    def _latency(self, model: str, completion_tokens: int) -> float | None:
        try:
            return latency_model_for(model, self.latency_models).latency(completion_tokens)
        except UnknownLatencyModel:
            self.unknown_latency.add(model)
            return None

    def _models(self) -> httpx.Response:
        created = int(self.clock.time()) if self.clock is not None else 0
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "oxbot-fake"}
            for m in self.price_table.models()
        ]
        return httpx.Response(200, json={"object": "list", "data": data})

    def _content(self, req: FakeRequest, fault: PendingFault | None) -> str:
        answer = self._answer(req)
        if fault is not None and fault.kind is Fault.MISSING_SYMBOL:
            if not isinstance(answer, Mapping) or not answer:
                raise FakeError(
                    "Fault.MISSING_SYMBOL needs an answer given as a mapping of symbol -> decision"
                )
            drop = fault.symbol or next(iter(answer))
            answer = {k: v for k, v in answer.items() if k != drop}
        contract = req.contract
        if contract is not None and isinstance(answer, Mapping):
            answer = contract.compact(answer)  # what a model following the contract writes
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
        path = request.url.path
        if fault.kind is Fault.TIMEOUT:
            self.calls.append(FakeCall(model, messages, 0, fault.kind, authorized=auth, path=path))
            raise httpx.ReadTimeout("fake provider: modelled read timeout", request=request)
        if fault.kind is Fault.RATE_LIMIT:
            self.calls.append(FakeCall(model, messages, 429, fault.kind, authorized=auth, path=path))
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            error = {
                "message": "Rate limit reached for requests",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
            return httpx.Response(429, headers=headers, json={"error": error})
        self.calls.append(FakeCall(model, messages, 500, fault.kind, authorized=auth, path=path))
        error = {"message": "The server had an error while processing your request.", "type": "server_error"}
        return httpx.Response(500, json={"error": error})

    def _replay(
        self,
        payload: Mapping[str, Any],
        model: str,
        messages: list[dict[str, Any]],
        auth: bool,
        path: str,
    ) -> tuple[httpx.Response, float]:
        assert self.cassette is not None
        try:
            entry = self.cassette.get(request_hash(payload))
        except CassetteMiss as exc:
            self.calls.append(FakeCall(model, messages, 404, None, authorized=auth, path=path))
            return httpx.Response(404, json={"error": {"message": str(exc), "type": "cassette_miss"}}), 0.0
        usage = entry.usage
        served = str(entry.response.get("model") or model)
        billed = served if served in self.price_table else model
        cost = (
            self.price_table.cost(billed, usage_from_response(usage)).total
            if billed in self.price_table
            else None
        )
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
                cost,
                path,
            )
        )
        self.modelled_latencies.append(entry.latency_s)
        if not self.sleep and self.clock is not None:
            self.clock.advance(entry.latency_s)
        response = httpx.Response(
            200, headers={MODELLED_LATENCY_HEADER: repr(entry.latency_s)}, json=entry.response
        )
        return response, entry.latency_s if self.sleep else 0.0

    def total_modelled_latency(self) -> Decimal:
        return sum((Decimal(repr(x)) for x in self.modelled_latencies), Decimal(0))


class _SleptResponse(httpx.Response):
    """A response that, awaited, really waits `wait` seconds first (`sleep=True`), outside any lock."""

    wait: float = 0.0

    @classmethod
    def wrap(cls, response: httpx.Response, wait: float, request: httpx.Request) -> _SleptResponse:
        # bound to its request, so respx hands it on as it is (it clones unbound responses)
        slept = cls(response.status_code, headers=response.headers, content=response.content, request=request)
        slept.wait = wait
        return slept

    def __await__(self) -> Generator[Any, None, httpx.Response]:
        return self._after_wait().__await__()

    async def _after_wait(self) -> httpx.Response:
        if self.wait > 0:
            await asyncio.sleep(self.wait)
        return httpx.Response(
            self.status_code, headers=self.headers, content=self.content, request=self.request
        )


def _countable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages whose multi-part content (`[{"type": "text", "text": ...}]`) is counted as its text."""
    return [
        {**m, "content": _text(m.get("content"))} if isinstance(m.get("content"), list) else m
        for m in messages
    ]


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a content list (OpenAI's multi-part form)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _max_tokens(payload: Mapping[str, Any]) -> int | None:
    """`max_completion_tokens` (newer SDKs) or `max_tokens`."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
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


def _stream_response(
    body: dict[str, Any], payload: Mapping[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """The answer as OpenAI streams it: server-sent `chat.completion.chunk`s, then `[DONE]`."""
    choice = body["choices"][0]
    base: dict[str, Any] = {k: body[k] for k in ("id", "created", "model", "system_fingerprint") if k in body}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    events = [
        chunk({"role": "assistant", "content": "", "refusal": None}, None),
        chunk({"content": choice["message"]["content"]}, None),
        chunk({}, choice["finish_reason"]),
    ]
    options = payload.get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage"):
        events.append({**base, "choices": [], "usage": body["usage"]})
    text = "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(
        200, headers={**headers, "content-type": "text/event-stream; charset=utf-8"}, content=text.encode()
    )


def _openai_error(status: int, message: str, kind: str, code: str | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": kind, "param": None, "code": code}}
    )


def _model_not_found(model: str, table: PriceTable) -> httpx.Response:
    known = ", ".join(table.models()[:12])
    message = (
        f"The model `{model}` does not exist in the fake provider's price table (it serves any priced model: "
        f"{known}, ...); add its prices with --oxbot-prices FILE (litellm's format)"
    )
    return _openai_error(404, message, "invalid_request_error", "model_not_found")


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
