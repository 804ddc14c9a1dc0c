"""CostAwareLLMClient: an OpenAI-compatible chat client that prices, budgets, caches and routes each call.

Why one wire format: OpenAI, DeepSeek, Qwen (compatible mode), OpenRouter, vLLM and Ollama all speak
`POST {base_url}/chat/completions`, so one httpx client covers them. Every call is priced from the
`usage` the provider returns (never from an estimate), reserved against the budget before it is sent,
and answered from the cache when the exact same request (model, template version, prompt, parameters)
was answered before. The API key lives only in the Authorization header: never in a repr, log line,
error message, cache entry or report.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from pytest_oxbot.cache.protocol import AsyncCache
from pytest_oxbot.clock import Clock, SystemClock
from pytest_oxbot.errors import SettingsError
from pytest_oxbot.http import HttpOptions
from pytest_oxbot.llm.budget import Budget, BudgetOvershoot, InMemoryBudget, Reservation
from pytest_oxbot.llm.contract import AnswerContract, ResponseFormatMode, response_format_mode
from pytest_oxbot.llm.decisions import (
    DEFAULT_LIMITS,
    Decision,
    DecisionLimits,
    ParsedDecisions,
    parse_decisions,
)
from pytest_oxbot.llm.errors import (
    BudgetExceeded,
    LLMDeadlineExceeded,
    LLMHTTPError,
    LLMResponseError,
    LLMRetriesExhausted,
)
from pytest_oxbot.llm.options import LLMOptions
from pytest_oxbot.llm.report import CallRecord, CostLedger
from pytest_oxbot.llm.routing import ModelRouter
from pytest_oxbot.monitor.performance import PerformanceMonitor
from pytest_oxbot.pricing import (
    ModelPrice,
    PriceTable,
    TokenUsage,
    default_price_table,
    usage_from_response,
)
from pytest_oxbot.retry import RetryPolicy, is_retryable_status, parse_retry_after
from pytest_oxbot.tokens import count_chat_tokens, is_exact

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "Completion",
    "CostAwareLLMClient",
    "DecisionResult",
]

if TYPE_CHECKING:
    from pytest_oxbot.settings import Settings

log = logging.getLogger(__name__)
TEMPLATE_VERSION = "decisions-v1"
# Non-OpenAI prompts are counted with o200k_base (see tokens.py); providers' own BPEs can count more.
APPROXIMATE_TOKEN_MARGIN = 1.25
# Byte-level BPEs (OpenAI, Llama, DeepSeek, Qwen) and byte-fallback SentencePiece make at most one token
# per UTF-8 byte; chat formats add a few tokens per message. No honest bill has more prompt tokens.
_TOKENS_PER_MESSAGE_BOUND = 16
_MIN_SECRET_LEN = 8  # a shorter "key" would blank ordinary words: it is not scrubbed (nor a real key)
_DATED_VERSION = r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})"  # gpt-4o-2024-08-06, claude-...-20241022
DEFAULT_SYSTEM_PROMPT = (
    "You are a disciplined crypto trading assistant. Answer with one JSON object mapping each requested "
    'coin to {"signal": "hold"|"buy_to_enter"|"sell_to_enter"|"close", "confidence": 0..1, '
    '"entry_price", "stop_loss", "profit_target", "leverage", "quantity", "justification"}.'
)


class _ClientDefault:
    """The default of a `system_prompt` argument: the client's own (None means "no system prompt")."""

    def __repr__(self) -> str:
        return "<the client's system prompt>"


CLIENT_SYSTEM_PROMPT = _ClientDefault()


class _Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "'***'" if self._value else "None"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Completion:
    """One answered request: the text, what it used and cost, how long it took, and whether it was cached."""

    content: str
    model: str
    usage: TokenUsage
    cost: Decimal
    latency_s: float
    cache_hit: bool
    cache_key: str
    response_id: str | None = None
    overshoot: BudgetOvershoot | None = None
    finish_reason: str | None = None
    """The provider's `finish_reason`: `length` means the answer was cut at `max_tokens`."""


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """Validated per-symbol decisions plus the call's usage, cost (0 on a cache hit) and latency."""

    decisions: dict[str, Decision]
    errors: list[str]
    model: str
    usage: TokenUsage
    cost: Decimal
    latency_s: float
    cache_hit: bool
    raw_content: str = field(repr=False, default="")
    overshoot: BudgetOvershoot | None = None
    finish_reason: str | None = None

    @property
    def trades(self) -> list[Decision]:
        return [d for d in self.decisions.values() if d.is_trade]

    @property
    def truncated(self) -> bool:
        """The answer was cut at `max_tokens` (every decision is then HOLD with that error)."""
        return self.finish_reason == "length"


class CostAwareLLMClient:
    """Use as `async with CostAwareLLMClient(base_url=..., ...) as client: await client.decide(...)`."""

    def __init__(
        self,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        cache: AsyncCache | None = None,
        price_table: PriceTable | None = None,
        budget: Budget | None = None,
        clock: Clock | None = None,
        *,
        options: LLMOptions | None = None,
        http: HttpOptions | None = None,
        router: ModelRouter | None = None,
        monitor: PerformanceMonitor | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        default_model: str | None = None,
        template_version: str = TEMPLATE_VERSION,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        decision_limits: DecisionLimits = DEFAULT_LIMITS,
        billable_as: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.options = options or LLMOptions()
        self.http = http or HttpOptions()
        self.base_url = base_url.rstrip("/")
        self._api_key = _Secret(api_key)
        self.clock: Clock = clock or SystemClock()
        self.price_table = price_table or default_price_table()
        self.budget: Budget = budget or InMemoryBudget(self.options.daily_cost_limit, clock=self.clock)
        self.cache = cache
        if router is not None and default_model is not None and default_model != router.default_model:
            raise SettingsError(
                f"default_model={default_model!r} differs from the router's ({router.default_model!r}): "
                "set the default model on the ModelRouter you pass"
            )
        if router is None:
            router = ModelRouter(self.price_table, clock=self.clock, reply_tokens=self.options.max_tokens)
            if default_model is not None:
                self.price_table.get(default_model)
                router.default_model = default_model
        self.router = router
        self.monitor = monitor or PerformanceMonitor()
        self.monitor.subscribe(self.router.on_latency_alert)
        self.retry = retry or RetryPolicy()
        self.template_version = template_version
        self.system_prompt = system_prompt
        self.decision_limits = decision_limits
        self.billable_as = {k: tuple(v) for k, v in (billable_as or {}).items()}
        for substitutes in self.billable_as.values():
            for name in substitutes:
                self.price_table.get(name)  # an unpriced substitute is a configuration error: say so now
        self.overshoots: list[BudgetOvershoot] = []
        """Calls whose bill did not fit their reservation or whose provider claimed more than allowed."""
        self._unsettled: list[tuple[Reservation, Decimal]] = []
        self.ledger = CostLedger()
        self._transport = transport
        self._sleep = sleep
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"CostAwareLLMClient(base_url={self.base_url!r}, api_key={self._api_key!r})"

    @classmethod
    def from_env(cls, settings: Settings | None = None, **kwargs: Any) -> CostAwareLLMClient:
        """The documented edge: options, HTTP limits and the API key (OXBOT_LLM_API_KEY, else
        OPENAI_API_KEY) from the environment; every keyword given explicitly wins."""
        from pytest_oxbot.settings import Settings

        s = settings if settings is not None else Settings.from_env()
        kwargs.setdefault("api_key", s.api_key())
        kwargs.setdefault("options", s.llm())
        kwargs.setdefault("http", s.http())
        if "price_table" not in kwargs and s.llm_prices_file:
            kwargs["price_table"] = default_price_table(s.llm_prices_file)
        return cls(**kwargs)

    # -- lifecycle: the httpx client is made on first use, so construction binds to no event loop --
    async def __aenter__(self) -> CostAwareLLMClient:
        self._client()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = self.http.client(self.base_url, transport=self._transport)
        return self._http

    # -- public API --
    def cache_key(self, model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
        """Exact key: model, template version, prompt hash and parameters (never a semantic match)."""
        prompt_hash = hashlib.sha256(_canonical(list(messages)).encode()).hexdigest()
        material = _canonical(
            {"model": model, "template": self.template_version, "prompt": prompt_hash, "params": dict(params)}
        )
        return "oxbot:llm:" + hashlib.sha256(material.encode()).hexdigest()

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra_params: Mapping[str, Any] | None = None,
        max_cost: Decimal | None = None,
        original_prompt_tokens: int | None = None,
    ) -> Completion:
        """One chat completion through cache, budget, retries and pricing."""
        params: dict[str, Any] = {
            "max_tokens": max_tokens if max_tokens is not None else self.options.max_tokens,
            "temperature": temperature if temperature is not None else self.options.temperature,
            **(extra_params or {}),
        }
        key = self.cache_key(model, messages, params)
        start = self.clock.monotonic()
        if self.cache is None:
            completion = await self._call(model, messages, params, key, max_cost)
            self._record(completion, original_prompt_tokens)
            return completion
        fresh: list[Completion] = []

        async def load() -> dict[str, Any]:
            done = await self._call(model, messages, params, key, max_cost)
            fresh.append(done)
            return _to_cache(done)

        value = await self.cache.get_or_compute(key, load, ttl=self.options.cache_ttl)
        if fresh:
            completion = fresh[0]
            self._record(completion, original_prompt_tokens)
            return completion
        hit = _from_cache(value, key, self.clock.monotonic() - start)
        self.ledger.add(
            CallRecord(
                timestamp=self.clock.time(),
                model=hit.model,
                cache_hit=True,
                cost=Decimal(0),
                prompt_tokens=hit.usage.prompt_tokens,
                cached_prompt_tokens=hit.usage.cached_input_tokens,
                completion_tokens=hit.usage.output_tokens,
                latency_s=hit.latency_s,
                saved_by_cache=Decimal(str(value.get("cost", "0"))),
            )
        )
        return hit

    async def decide(
        self,
        prompt: str,
        symbols: Sequence[str],
        *,
        model: str | None = None,
        context_type: str = "routine",
        prices: Mapping[str, Decimal | float | str] | None = None,
        budget_limit: Decimal | float | str | None = None,
        original_prompt_tokens: int | None = None,
        max_tokens: int | None = None,
        contract: AnswerContract | bool = False,
        response_format: ResponseFormatMode | None = None,
    ) -> DecisionResult:
        """Ask for per-symbol decisions; anything malformed or invalid comes back as HOLD with its error.

        `contract=True` (or an `AnswerContract`) asks for the compact answer: its instructions are
        appended to the prompt and, where the provider takes one (`response_format_mode(model)`, or
        `response_format=` to say so), its strict JSON schema is sent as `response_format`. An answer cut
        at `max_tokens` (`finish_reason == "length"`) is an error on every decision, never a silent HOLD.
        """
        answer = AnswerContract.for_symbols(symbols) if contract is True else (contract or None)
        if answer is not None:
            prompt = f"{prompt}\n\n{answer.instructions()}"
        messages = self._messages(prompt)
        limit = None if budget_limit is None else Decimal(str(budget_limit))
        chosen = model or self.router.select_optimal_model(
            count_chat_tokens(messages, self.router.default_model), context_type, max_cost=limit
        )
        extra: dict[str, Any] = {}
        if answer is not None:
            wire = answer.response_format(response_format or response_format_mode(chosen))
            if wire is not None:
                extra["response_format"] = wire
        completion = await self.complete(
            messages,
            model=chosen,
            max_cost=limit,
            original_prompt_tokens=original_prompt_tokens,
            max_tokens=max_tokens,
            extra_params=extra,
        )
        content: Any = completion.content
        if answer is not None:
            content = answer.expand(_whole_json(completion.content))
        parsed: ParsedDecisions = parse_decisions(content, symbols, prices, limits=self.decision_limits)
        decisions, errors = parsed.decisions, list(parsed.errors)
        if completion.finish_reason == "length":
            cap = max_tokens if max_tokens is not None else self.options.max_tokens
            why = f"answer truncated at max_tokens={cap} (finish_reason=length)"
            errors.insert(0, why)
            decisions = {s: Decision.hold(d.symbol, why, d.extra) for s, d in decisions.items()}
        for d in decisions.values():
            if d.error:
                log.warning("decision for %s demoted to HOLD: %s", d.symbol, d.error)
        return DecisionResult(
            decisions=decisions,
            errors=errors,
            model=completion.model,
            usage=completion.usage,
            cost=completion.cost,
            latency_s=completion.latency_s,
            cache_hit=completion.cache_hit,
            raw_content=completion.content,
            overshoot=completion.overshoot,
            finish_reason=completion.finish_reason,
        )

    async def analyze_with_cost_optimization(
        self,
        model: str | None = None,
        prompt: str = "",
        context_type: str = "routine",
        budget_limit: Decimal | float | str | None = None,
        symbols: Sequence[str] | None = None,
        max_tokens: int | None = None,
        system_prompt: str | _ClientDefault | None = CLIENT_SYSTEM_PROMPT,
    ) -> dict[str, Any]:
        """0xBot's entry point: route, budget-check, call (or hit the cache) and say what it cost.

        `max_tokens` caps the reply (default: the client's options); `system_prompt` replaces the
        client's own, and None sends the user's prompt alone (as a bot with its own prompt wants).
        """
        if isinstance(system_prompt, _ClientDefault):
            messages = self._messages(prompt)
        elif system_prompt is None:
            messages = [{"role": "user", "content": prompt}]
        else:
            messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]
        limit = None if budget_limit is None else Decimal(str(budget_limit))
        chosen = model or self.router.select_optimal_model(
            count_chat_tokens(messages, self.router.default_model), context_type, max_cost=limit
        )
        completion = await self.complete(messages, model=chosen, max_cost=limit, max_tokens=max_tokens)
        result: dict[str, Any] = {
            "response": completion.content,
            "model": completion.model,
            "cost_usd": completion.cost,
            "cached": completion.cache_hit,
            "latency_s": completion.latency_s,
            "usage": completion.usage.to_dict(),
        }
        if symbols:
            result["decisions"] = parse_decisions(
                completion.content, symbols, limits=self.decision_limits
            ).decisions
        return result

    def get_comprehensive_cost_report(self) -> dict[str, Any]:
        """Cache hit rate, spend by model and day, savings, projected monthly cost: from recorded calls."""
        report = self.ledger.report()
        limit = self.options.daily_cost_limit
        report["daily_limit_usd"] = None if limit is None else str(limit)
        report["budget_overshoots"] = len(self.overshoots)
        report["budget_overshoot_excess_usd"] = str(sum((o.excess for o in self.overshoots), Decimal(0)))
        report["budget_degraded"] = getattr(self.budget, "degraded", None)
        report["monitor"] = self.monitor.snapshot()
        return report

    # -- internals --
    def _messages(self, prompt: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}]

    def _record(self, c: Completion, original_prompt_tokens: int | None) -> None:
        saved = Decimal(0)
        if original_prompt_tokens is not None and original_prompt_tokens > c.usage.prompt_tokens:
            rate = self.price_table.get(c.model).input_cost_per_token
            saved = rate * (original_prompt_tokens - c.usage.prompt_tokens)
        self.ledger.add(
            CallRecord(
                timestamp=self.clock.time(),
                model=c.model,
                cache_hit=False,
                cost=c.cost,
                prompt_tokens=c.usage.prompt_tokens,
                cached_prompt_tokens=c.usage.cached_input_tokens,
                completion_tokens=c.usage.output_tokens,
                latency_s=c.latency_s,
                saved_by_compression=saved,
            )
        )
        self.monitor.record_llm_call(c.model, c.latency_s, c.cost)

    def billable_models(self, model: str) -> dict[str, ModelPrice]:
        """The prices a call for `model` can be billed at: the model, its dated versions in the price table
        (`gpt-4o` -> `gpt-4o-2024-08-06`) and the substitutes declared in `billable_as` (e.g. a gateway's
        fallback models). The reservation covers the dearest of them."""
        requested = self.price_table.get(model)
        out = {requested.model: requested}
        versions = re.compile(re.escape(requested.model) + _DATED_VERSION)
        for name in self.price_table.models():
            if versions.fullmatch(name):
                out[name] = self.price_table.get(name)
        for name in self.billable_as.get(model, ()) + self.billable_as.get(requested.model, ()):
            price = self.price_table.get(name)
            out[price.model] = price
        return out

    async def _call(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        key: str,
        max_cost: Decimal | None,
    ) -> Completion:
        billable = self.billable_models(model)  # an unpriced model is refused before anything else
        prompt_tokens = count_chat_tokens(messages, model)
        if not is_exact(model):  # counted with a stand-in BPE: reserve with a margin for the real tokenizer
            prompt_tokens = math.ceil(prompt_tokens * APPROXIMATE_TOKEN_MARGIN)
        max_out = int(params["max_tokens"])
        worst, dearest = max((self.price_table.max_cost(m, prompt_tokens, max_out), m) for m in billable)
        if max_cost is not None and worst > max_cost:
            raise BudgetExceeded("call", max_cost, Decimal(0), worst)
        payload = {"model": model, "messages": list(messages), **params}
        start = self.clock.monotonic()
        response, reservation = await self._send(payload, model, worst)
        latency = self.clock.monotonic() - start
        try:
            body = response.json()
            content = body["choices"][0]["message"].get("content") or ""
            finish = body["choices"][0].get("finish_reason")
            if not isinstance(content, str):
                raise TypeError(f"content is {type(content).__name__}, not text")
            usage = usage_from_response(body["usage"])
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
            await self._settle(reservation, reservation.amount)  # usage unknown: charge the maximum
            raise LLMResponseError(
                f"answer from {self.base_url} is not a chat completion ({self._redact(repr(exc))[:300]})"
            ) from None
        cost, overshoot = self._bill(
            model, billable, billable[dearest], body.get("model"), usage, messages, max_out, reservation
        )
        await self._settle(reservation, cost)
        if overshoot is not None:
            self.overshoots.append(overshoot)
            log.warning(
                "LLM call to %s: bill $%s against a reservation of $%s (provider's claim $%s): %s",
                model,
                overshoot.charged,
                overshoot.reserved,
                overshoot.claimed,
                "; ".join(overshoot.reasons),
            )
        response_id = body.get("id")
        return Completion(
            content=self._redact(content),
            model=model,
            usage=usage,
            cost=cost,
            latency_s=latency,
            cache_hit=False,
            cache_key=key,
            response_id=self._redact(response_id) if isinstance(response_id, str) else None,
            overshoot=overshoot,
            finish_reason=finish if isinstance(finish, str) else None,
        )

    def _bill(
        self,
        model: str,
        billable: Mapping[str, ModelPrice],
        dearest: ModelPrice,
        served: Any,
        usage: TokenUsage,
        messages: Sequence[Mapping[str, Any]],
        max_out: int,
        reservation: Reservation,
    ) -> tuple[Decimal, BudgetOvershoot | None]:
        """What the call is charged: its real cost within the bounds the request allows.

        Priced as the model the answer names when that model is billable for this call, else as the
        dearest billable one. A provider cannot bill more output tokens than `max_tokens` or more prompt
        tokens than the prompt has bytes (+ a per-message overhead): a `usage` claiming more is cut to
        those bounds and reported, so one answer can never commit more than the call could cost.
        """
        reasons: list[str] = []
        served_price = None
        if isinstance(served, str) and served in self.price_table:
            served_price = self.price_table.get(served)
        if served_price is not None and served_price.model in billable:
            billed = served_price
        else:
            billed = dearest
            if isinstance(served, str) and served != model:
                reasons.append(
                    f"the answer names model {self._redact(served)[:80]!r}, which is not billable for a "
                    f"{model!r} call: charged as {billed.model!r}"
                )
        claimed_price = served_price if served_price is not None else billed
        claimed = self.price_table.cost(claimed_price.model, usage).total
        prompt_bound = (
            sum(len(str(m.get("content") or "").encode()) + _TOKENS_PER_MESSAGE_BOUND for m in messages)
            + _TOKENS_PER_MESSAGE_BOUND
        )
        if usage.output_tokens > max_out:
            reasons.append(f"usage claims {usage.output_tokens} completion tokens, max_tokens was {max_out}")
        if usage.prompt_tokens > prompt_bound:
            reasons.append(
                f"usage claims {usage.prompt_tokens} prompt tokens, over the prompt's bound of {prompt_bound}"
            )
        bounded = TokenUsage(
            input_tokens=usage.input_tokens,
            output_tokens=min(usage.output_tokens, max_out),
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )
        cap = self.price_table.max_cost(billed.model, prompt_bound, max_out)
        cost = min(self.price_table.cost(billed.model, bounded).total, cap)
        if cost > reservation.amount:
            reasons.append(
                f"the prompt billed more tokens than counted locally (${cost} against ${reservation.amount})"
            )
        if not reasons:
            return cost, None
        return cost, BudgetOvershoot(
            day=reservation.day,
            model=billed.model,
            reserved=reservation.amount,
            charged=cost,
            claimed=claimed,
            reasons=tuple(reasons),
        )

    async def _settle(self, reservation: Reservation, actual: Decimal) -> None:
        """Settle, never losing a paid answer to a failing budget: a failed settlement is kept and retried
        before the next reservation (RedisBudget keeps its own; this covers any `Budget`)."""
        try:
            await self.budget.settle(reservation, actual)
        except Exception as exc:
            self._unsettled.append((reservation, actual))
            log.error("budget settlement kept for a retry: %s", self._redact(f"{type(exc).__name__}: {exc}"))

    async def _retry_unsettled(self) -> None:
        while self._unsettled:
            reservation, actual = self._unsettled[0]
            try:
                await self.budget.settle(reservation, actual)
            except Exception:
                return
            self._unsettled.pop(0)

    async def _reserve(self, amount: Decimal) -> Reservation:
        await self._retry_unsettled()
        return await self.budget.reserve(amount)

    async def _send(
        self, payload: Mapping[str, Any], model: str, worst: Decimal
    ) -> tuple[httpx.Response, Reservation]:
        """POST with retries, all within the policy's total deadline (`max_total`), holding a reservation.

        The deadline is enforced around the whole call (`asyncio.timeout`), so a server that drips one
        byte at a time cannot hold it past `max_total`, whatever the per-read timeouts. A call cut while
        a request was in flight is charged its reservation (the provider may have billed it).
        """
        client = self._client()
        headers = {"Authorization": f"Bearer {self._api_key.get()}"} if self._api_key.get() else {}
        reservation: Reservation | None = await self._reserve(worst)
        waited = 0.0
        attempt = 0
        in_flight = False
        began = self.clock.monotonic()
        try:
            async with asyncio.timeout(self.retry.max_total):
                while True:
                    attempt += 1
                    retry_after: float | None = None
                    if reservation is None:
                        reservation = await self._reserve(worst)
                    try:
                        in_flight = True
                        response = await client.post("/chat/completions", json=payload, headers=headers)
                        in_flight = False
                    except httpx.TimeoutException:
                        in_flight = False
                        # The provider may have processed (and billed) it: keep the reservation as spent.
                        self._charge_estimated(model, reservation)
                        await self._settle(reservation, reservation.amount)
                        reservation = None
                        last = "timeout"
                    except httpx.NetworkError as exc:
                        in_flight = False
                        last = f"network error {type(exc).__name__}"
                    else:
                        if response.status_code == 200:
                            return response, reservation
                        detail = self._redact(response.text[:300])
                        if not is_retryable_status(response.status_code):
                            raise LLMHTTPError(response.status_code, detail)
                        last = f"HTTP {response.status_code}: {detail}"
                        retry_after = parse_retry_after(response.headers, self.clock.time())
                        if retry_after is None and response.status_code == 429:
                            # No usable Retry-After (absent, `nan`, `inf`, `1e9`): never retry at once.
                            retry_after = self.retry.base_delay * 2.0 ** min(attempt - 1, 16)
                    if attempt >= self.retry.max_attempts:
                        raise LLMRetriesExhausted(attempt, last)
                    delay = self.retry.delay(attempt, retry_after)
                    spent = max(self.clock.monotonic() - began, waited)  # waited: when sleep moves no clock
                    if spent + delay > self.retry.max_total:
                        raise LLMRetriesExhausted(
                            attempt,
                            f"{last} (waiting {delay:.1f}s more would pass {self.retry.max_total}s)",
                        )
                    waited += delay
                    log.info("LLM call to %s: %s, retrying in %.2fs", model, last, delay)
                    await self._sleep(delay)
        except TimeoutError:
            await self._release(model, reservation, in_flight)
            raise LLMDeadlineExceeded(attempt, self.retry.max_total, in_flight) from None
        except BaseException:
            await self._release(model, reservation, in_flight)
            raise

    async def _release(self, model: str, reservation: Reservation | None, in_flight: bool) -> None:
        """End a reservation of a call that failed: charged in full if a request was in flight (the
        provider may have billed it), else nothing (not sent, or refused)."""
        if reservation is None:
            return
        if in_flight:
            self._charge_estimated(model, reservation)
            await self._settle(reservation, reservation.amount)
        else:
            await self._settle(reservation, Decimal(0))

    def _charge_estimated(self, model: str, reservation: Reservation) -> None:
        self.ledger.add(
            CallRecord(
                timestamp=self.clock.time(),
                model=model,
                cache_hit=False,
                cost=reservation.amount,
                prompt_tokens=0,
                cached_prompt_tokens=0,
                completion_tokens=0,
                latency_s=0.0,
                estimated=True,
            )
        )

    def _redact(self, text: str) -> str:
        """The text with the API key blanked (a provider may echo it in an error or an answer)."""
        key = self._api_key.get()
        if not key or len(key) < _MIN_SECRET_LEN:
            return text
        return text.replace(key, "***")


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _to_cache(c: Completion) -> dict[str, Any]:
    """JSON-safe (no pickle, no key): what a later identical request needs to be answered."""
    return {
        "content": c.content,
        "model": c.model,
        "usage": c.usage.to_dict(),
        "cost": str(c.cost),
        "response_id": c.response_id,
        "finish_reason": c.finish_reason,
    }


def _from_cache(value: Mapping[str, Any], key: str, latency: float) -> Completion:
    return Completion(
        content=str(value["content"]),
        model=str(value["model"]),
        usage=TokenUsage(**{k: int(v) for k, v in value["usage"].items()}),
        cost=Decimal(0),
        latency_s=latency,
        cache_hit=True,
        cache_key=key,
        response_id=value.get("response_id"),
        finish_reason=value.get("finish_reason"),
    )


def _whole_json(text: str) -> Any:
    """The answer decoded when it is one JSON value (a compact answer), else the text for the parser."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").removeprefix("JSON").strip()
    try:
        return json.loads(stripped, parse_float=Decimal)
    except (ValueError, RecursionError):
        return text
