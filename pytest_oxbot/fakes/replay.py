"""The fake exchange's default replay start, in a module of its own (no imports) so the pytest
plugin's report header can show it without importing httpx and respx; `fakes.exchange` re-exports it."""

from __future__ import annotations

__all__ = ["DEFAULT_REPLAY_START"]

DEFAULT_REPLAY_START = 1_769_299_200.0
"""2026-01-25T00:00:00Z: inside both recordings, with more than 24 h of 15m candles behind it."""
