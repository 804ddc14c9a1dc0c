"""pytest-oxbot: keep LLM-driven trading bots fast and cheap, and prove it on every pull request."""

__version__ = "0.1.0"
