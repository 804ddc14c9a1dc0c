"""`python -m pytest_oxbot.monitor --help`."""

from __future__ import annotations

import sys

from pytest_oxbot.monitor.cli import main

if __name__ == "__main__":
    sys.exit(main())
