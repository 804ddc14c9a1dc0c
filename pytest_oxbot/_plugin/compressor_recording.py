"""`RecordingCompressor`: the compressor the `oxbot_compressor` fixture hands out, imported by that fixture
only (the compressor is too heavy for every pytest run to import)."""

from __future__ import annotations

from pytest_oxbot.compressor.engine import AdaptivePromptCompressor, CompressionResult


class RecordingCompressor(AdaptivePromptCompressor):
    """An AdaptivePromptCompressor that keeps every result, for the KPI report at teardown."""

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.results: list[CompressionResult] = []

    def compress_by_context(self, prompt: str, context: str = "standard") -> CompressionResult:
        result = super().compress_by_context(prompt, context)
        self.results.append(result)
        return result

    def compress(self, prompt: str, max_tokens: int) -> CompressionResult:
        result = super().compress(prompt, max_tokens)
        self.results.append(result)
        return result
