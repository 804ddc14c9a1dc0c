"""pytest wiring for the compressor component (filled in by its issue)."""
