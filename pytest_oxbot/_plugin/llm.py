"""pytest wiring for the llm component (filled in by its issue)."""
