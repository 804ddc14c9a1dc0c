"""The cost-aware LLM client: pricing from real usage, an atomic budget, routing and safe decision parsing."""

from pytest_oxbot.llm.budget import Budget, InMemoryBudget, RedisBudget, Reservation, UnlimitedBudget
from pytest_oxbot.llm.client import Completion, CostAwareLLMClient, DecisionResult
from pytest_oxbot.llm.decisions import Decision, ParsedDecisions, Signal, base_asset, parse_decisions
from pytest_oxbot.llm.errors import (
    BudgetExceeded,
    EmergencyStop,
    LLMError,
    LLMHTTPError,
    LLMResponseError,
    LLMRetriesExhausted,
    NoModelFits,
)
from pytest_oxbot.llm.report import CallRecord, CostLedger
from pytest_oxbot.llm.routing import ModelRouter

__all__ = [
    "Budget",
    "BudgetExceeded",
    "CallRecord",
    "Completion",
    "CostAwareLLMClient",
    "CostLedger",
    "Decision",
    "DecisionResult",
    "EmergencyStop",
    "InMemoryBudget",
    "LLMError",
    "LLMHTTPError",
    "LLMResponseError",
    "LLMRetriesExhausted",
    "ModelRouter",
    "NoModelFits",
    "ParsedDecisions",
    "RedisBudget",
    "Reservation",
    "Signal",
    "UnlimitedBudget",
    "base_asset",
    "parse_decisions",
]
