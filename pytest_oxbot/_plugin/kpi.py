"""pytest wiring for the kpi component (filled in by its issue)."""
