"""Token counting per model: exact BPE for OpenAI models, an explicit, flagged approximation otherwise.

Why this exists: the `prompt_tokens` KPI and the cost of a decision are only as good as the count
behind them. OpenAI models are counted exactly with `bpe-openai` (a Rust BPE that ships the
`o200k_base` and `cl100k_base` ranks inside the wheel, so nothing is downloaded at run time; tiktoken
would fetch them). Other providers (DeepSeek, Qwen, Claude, Gemini, Grok, Llama, Mistral) publish no
offline tokenizer we can ship, so their counts are the `o200k_base` count of the same text and every
such answer says `exact=False`. A model we cannot place in any family is an error, never a guess.

Chat overhead follows OpenAI's published rule (openai-cookbook, "How to count tokens with tiktoken"):
3 tokens per message (`<|start|>{role}<|message|>...<|end|>`), +1 per `name` field, +3 to prime the
reply (`<|start|>assistant<|message|>`); `gpt-3.5-turbo-0301` used 4 per message and -1 per name.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from pytest_oxbot.errors import UnknownModelError

__all__ = [
    "CL100K",
    "O200K",
    "ModelTokenizer",
    "TokenCount",
    "UnknownModelError",
    "chat_token_count",
    "count_chat_tokens",
    "count_tokens",
    "encoding_for",
    "is_exact",
    "resolve",
    "token_count",
    "warm_up",
]

O200K = "o200k_base"
CL100K = "cl100k_base"

# Prefixes that route a model name through a gateway (litellm, OpenRouter, Azure); they do not
# change the tokenizer, so they are stripped before matching.
_ROUTE_PREFIXES = ("openai/", "azure/", "openrouter/", "litellm/", "ft:")

# Matched in order against the lower-cased model name (first hit wins); longest/most specific first.
_OPENAI_O200K = (
    "gpt-4o",
    "chatgpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "gpt-oss",
    "omni-moderation",
    "gpt-realtime",
    "codex-mini",
)
_OPENAI_CL100K = ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002")

# Families counted approximately: the o200k_base count of the same text, flagged `exact=False`.
# These providers use their own BPEs (not shipped offline); we have no recorded usage to calibrate
# against, so no correction factor is applied: the figure is for planning, never for billing.
_APPROXIMATE_FAMILIES = {
    "deepseek": "deepseek",
    "qwen": "qwen",
    "claude": "anthropic",
    "anthropic": "anthropic",
    "gemini": "google",
    "grok": "xai",
    "llama": "meta",
    "mistral": "mistral",
    "mixtral": "mistral",
}


class _Counter(Protocol):
    def count(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class ModelTokenizer:
    """How a model's text is counted: which BPE ranks, and whether the count is exact."""

    model: str
    encoding: str
    exact: bool
    family: str
    tokens_per_message: int = 3
    tokens_per_name: int = 1
    reply_priming: int = 3


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A count together with how much it can be trusted."""

    tokens: int
    exact: bool
    encoding: str
    model: str
    family: str

    def __int__(self) -> int:
        return self.tokens


def _normalise(model: str) -> str:
    name = model.strip().lower()
    for prefix in _ROUTE_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name.rsplit("/", 1)[-1] if "/" in name else name


@lru_cache(maxsize=512)
def resolve(model: str) -> ModelTokenizer:
    """The tokenizer of a model name (provider prefixes such as `openai/` are ignored)."""
    name = _normalise(model)
    if name in (O200K, CL100K):
        return ModelTokenizer(model, name, True, "openai")
    if name.startswith("gpt-3.5-turbo-0301"):
        return ModelTokenizer(model, CL100K, True, "openai", tokens_per_message=4, tokens_per_name=-1)
    if name.startswith(_OPENAI_O200K):
        return ModelTokenizer(model, O200K, True, "openai")
    if name.startswith(_OPENAI_CL100K):
        return ModelTokenizer(model, CL100K, True, "openai")
    for marker, family in _APPROXIMATE_FAMILIES.items():
        if marker in name:
            return ModelTokenizer(model, O200K, False, family)
    raise UnknownModelError(
        f"no tokenizer known for model {model!r}: exact for OpenAI (gpt-4o, gpt-4.1, gpt-5, o-series, "
        f"gpt-4, gpt-3.5), approximate for {sorted(set(_APPROXIMATE_FAMILIES))}"
    )


class _EncodeCounter:
    """Fallback when the Rust binding's direct `count` is unavailable: the public tiktoken-like API."""

    def __init__(self, encoding: str) -> None:
        import bpe_openai  # imported on first use: it costs ~0.5 s at start-up

        self._enc = bpe_openai.get_encoding(encoding)

    def count(self, text: str) -> int:
        return len(self._enc.encode_ordinary(text))


@lru_cache(maxsize=4)
def _encoder(encoding: str) -> _Counter:
    # Loading the ranks costs ~15-40 ms: once per process. The binding's `count` skips building
    # a Python list of ids (about twice as fast); both treat special-token text as plain text.
    # bpe-openai 0.1.4 reads its rank files with the deprecated `importlib.resources.open_binary`: its
    # DeprecationWarning is not ours to show in every user's test run.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "open_binary is deprecated", DeprecationWarning)
        try:
            from bpe_openai import _bindings

            counter: _Counter = _bindings.tokenizer_for_encoding(encoding)
        except (ImportError, AttributeError):  # pragma: no cover - depends on the wheel's layout
            counter = _EncodeCounter(encoding)
    return counter


def encoding_for(model: str) -> str:
    """The BPE encoding name used for `model` (`o200k_base` or `cl100k_base`)."""
    return resolve(model).encoding


def is_exact(model: str) -> bool:
    """True when counts for `model` are the provider's own BPE, False for the documented approximation."""
    return resolve(model).exact


def _count(text: str, encoding: str) -> int:
    if not text:
        return 0
    # encode_ordinary: special-token strings inside user text are counted as the plain text the API
    # sees, never rejected or merged into a control token.
    try:
        return _encoder(encoding).count(text)
    except UnicodeEncodeError:  # a lone surrogate: counted as the replacement character a UTF-8 body carries
        return _encoder(encoding).count(text.encode("utf-8", "replace").decode("utf-8"))


def count_tokens(text: str, model: str) -> int:
    """Tokens of a bare text for `model` (exact or approximate; see `token_count` to know which)."""
    return _count(text, resolve(model).encoding)


def token_count(text: str, model: str) -> TokenCount:
    """Tokens of a bare text, with whether the figure is exact."""
    tok = resolve(model)
    return TokenCount(_count(text, tok.encoding), tok.exact, tok.encoding, model, tok.family)


def count_chat_tokens(messages: Iterable[Mapping[str, str | None]], model: str) -> int:
    """Prompt tokens of a chat request as the provider bills them (OpenAI's message overhead rule)."""
    return chat_token_count(messages, model).tokens


def chat_token_count(messages: Iterable[Mapping[str, str | None]], model: str) -> TokenCount:
    """`count_chat_tokens` with whether the figure is exact."""
    tok = resolve(model)
    total = 0
    for message in messages:
        total += tok.tokens_per_message
        for key, value in message.items():
            if isinstance(value, str):
                total += _count(value, tok.encoding)
            if key == "name":
                total += tok.tokens_per_name
    total += tok.reply_priming
    return TokenCount(total, tok.exact, tok.encoding, model, tok.family)


def warm_up(encodings: Iterable[str] = (O200K, CL100K)) -> None:
    """Load the BPE ranks ahead of time, so the first measured count is not paying for it."""
    for encoding in encodings:
        _encoder(encoding)
