"""pytest wiring for the cache component (filled in by its issue)."""
