"""Tiny evals run with the real tools (Inspect AI, promptfoo) to make real logs for the tests."""
