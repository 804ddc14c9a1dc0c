"""Command-line arguments of the in-process pytester runs of the gate's tests."""

# Only the KPI plugin (not the component fixtures); hypothesis is re-imported (and assertion-rewritten) by
# every in-process run: leave it out.
ONLY_KPI = (
    "-p",
    "no:oxbot",
    "-p",
    "pytest_oxbot._plugin.kpi",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
)
