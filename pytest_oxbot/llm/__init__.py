"""The cost-aware LLM client: pricing from real usage, an atomic budget, routing and safe decision parsing."""

from pytest_oxbot.llm.budget import (
    Budget,
    BudgetOvershoot,
    InMemoryBudget,
    RedisBudget,
    Reservation,
    ServerCheck,
    UnlimitedBudget,
)
from pytest_oxbot.llm.client import Completion, CostAwareLLMClient, DecisionResult
from pytest_oxbot.llm.decisions import (
    Decision,
    DecisionLimits,
    ParsedDecisions,
    Signal,
    base_asset,
    parse_decisions,
)
from pytest_oxbot.llm.errors import (
    BudgetError,
    BudgetExceeded,
    BudgetServerUnsafe,
    BudgetUnavailable,
    EmergencyStop,
    LLMDeadlineExceeded,
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
    "BudgetError",
    "BudgetExceeded",
    "BudgetOvershoot",
    "BudgetServerUnsafe",
    "BudgetUnavailable",
    "CallRecord",
    "Completion",
    "CostAwareLLMClient",
    "CostLedger",
    "Decision",
    "DecisionLimits",
    "DecisionResult",
    "EmergencyStop",
    "InMemoryBudget",
    "LLMDeadlineExceeded",
    "LLMError",
    "LLMHTTPError",
    "LLMResponseError",
    "LLMRetriesExhausted",
    "ModelRouter",
    "NoModelFits",
    "ParsedDecisions",
    "RedisBudget",
    "Reservation",
    "ServerCheck",
    "Signal",
    "UnlimitedBudget",
    "base_asset",
    "parse_decisions",
]
