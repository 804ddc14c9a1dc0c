"""Root conftest: only what this repository's own test suites need (the plugin itself loads via pytest11)."""

pytest_plugins = ["pytester"]
