"""pytest wiring for the exchange component (filled in by its issue)."""
