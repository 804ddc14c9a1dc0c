"""pytest wiring for the backends component (filled in by its issue)."""
