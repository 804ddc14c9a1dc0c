"""Hypothesis runs the same examples every time here (`repeatable`): a required CI check fails on what a
change did, never on an example drawn for the first time. Searching for new defects is a separate,
explicit run: `pytest tests --hypothesis-profile=explore` (random examples, saved failures replayed);
what it finds is fixed and kept as a regression case (tests/compressor/found/)."""

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")  # `--hypothesis-profile=explore` loads after this and wins
