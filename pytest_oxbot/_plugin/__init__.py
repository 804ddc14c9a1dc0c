"""pytest wiring, one module per component; the public plugin entry point is `pytest_oxbot.plugin`."""
