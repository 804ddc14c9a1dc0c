"""The bot's LLM client: the official `openai` SDK, any OpenAI-compatible base URL (DeepSeek in prod)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import openai


@dataclass(frozen=True)
class Answer:
    decisions: dict[str, Any]
    usage: Any  # the SDK's usage object, as the provider billed it
    model: str


class DecisionClient:
    def __init__(
        self,
        base_url: str = "https://api.deepseek.com/v1",
        api_key: str = "",
        *,
        model: str = "deepseek-chat",
    ) -> None:
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unset", max_retries=0, timeout=30
        )
        self.model = model

    async def decide(self, system: str, prompt: str, *, max_tokens: int = 200) -> Answer:
        reply = await self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            temperature=0.2,
        )
        text = reply.choices[0].message.content or "{}"
        try:
            decisions = json.loads(text)
        except ValueError:
            decisions = {}
        return Answer(decisions if isinstance(decisions, dict) else {}, reply.usage, reply.model)

    async def close(self) -> None:
        await self.client.close()
