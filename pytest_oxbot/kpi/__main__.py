"""Entry point of `python -m pytest_oxbot.kpi`."""

from pytest_oxbot.kpi.cli import main

raise SystemExit(main())
