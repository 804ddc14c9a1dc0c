"""Modelled LLM latency: time to first token + output tokens / throughput, per model, from public figures.

Why modelled and not slept: a test that sleeps measures the machine, and a KPI built on it is noise. A
model's latency is dominated by its provider's time to first token and decode speed, which are
published; modelling them gives a deterministic `llm_response_time` that still moves when a change
makes answers longer or picks a slower model. Prompt length is ignored (the published TTFTs are
measured on ~1k-token prompts, the size of a compressed trading prompt).

Each figure names its public source and the date it was read; they are medians, not guarantees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_oxbot.errors import FakeError

__all__ = ["LATENCY_MODELS", "LatencyModel", "UnknownLatencyModel", "latency_model_for"]


class UnknownLatencyModel(FakeError, LookupError):
    """No latency figures for this model: pass a `LatencyModel` instead of inventing one."""


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """`ttft_s` + `output_tokens / tokens_per_s`, with where the two numbers come from."""

    ttft_s: float
    tokens_per_s: float
    source: str

    def __post_init__(self) -> None:
        if self.ttft_s < 0 or self.tokens_per_s <= 0:
            raise ValueError("need ttft_s >= 0 and tokens_per_s > 0")

    def latency(self, output_tokens: int) -> float:
        return self.ttft_s + max(0, output_tokens) / self.tokens_per_s


_TOKENWISE = "tokenwisehq.com/free-tools/model-speed (median TTFT and output TPS), read 2026-11-25"
_AA_MEDIANS = (
    "Artificial Analysis medians via induwara.lk/tools/ai-llm-speed-comparison (verified 2026-06-24)"
)
_PROBES = "jonathanwrede.de 'TTFT varies 13x across LLM providers' hourly OpenRouter probes (median), 2026"
_LLMVERSUS = "llmversus.com/llm/speed (data verified 2026-04-06)"
_AA_HAIKU = "artificialanalysis.ai/models/claude-3-5-haiku/providers: Anthropic 68 t/s, TTFT 0.81 s (Amazon)"

LATENCY_MODELS: Mapping[str, LatencyModel] = {
    "gpt-4o-mini": LatencyModel(0.40, 140.0, _TOKENWISE),
    "gpt-4o-mini-2024-07-18": LatencyModel(0.40, 140.0, _TOKENWISE),
    "gpt-4o": LatencyModel(0.45, 131.0, _AA_MEDIANS),
    "gpt-4o-2024-08-06": LatencyModel(0.45, 131.0, _AA_MEDIANS),
    "gpt-4.1-mini": LatencyModel(0.40, 150.0, _TOKENWISE),
    "gpt-4.1-nano": LatencyModel(0.13, 150.0, _LLMVERSUS),
    "deepseek-chat": LatencyModel(1.734, 24.7, _PROBES + " (deepseek-v3.2)"),
    "gemini-2.0-flash": LatencyModel(0.405, 203.2, _PROBES),
    "claude-3-5-haiku-20241022": LatencyModel(0.81, 68.0, _AA_HAIKU),
}


def latency_model_for(model: str, overrides: Mapping[str, LatencyModel] | None = None) -> LatencyModel:
    table = {**LATENCY_MODELS, **(overrides or {})}
    name = model.split("/", 1)[1] if "/" in model and model not in table else model
    try:
        return table[name]
    except KeyError:
        raise UnknownLatencyModel(
            f"no latency figures for {model!r}; pass latency_models={{{model!r}: LatencyModel(...)}} "
            "with figures from a cited public source"
        ) from None
