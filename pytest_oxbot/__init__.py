"""pytest-oxbot: keep LLM-driven trading bots fast and cheap, and prove it on every pull request.

`except pytest_oxbot.OxbotError` catches every error the toolkit, the fakes and the gate raise on purpose.
"""

from pytest_oxbot.errors import OxbotError

__all__ = ["OxbotError", "__version__"]
__version__ = "0.1.0"
