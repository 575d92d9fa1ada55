"""Counts a test reports (the fuzz's answers by status, the stress test's jobs and letters):
kept here and printed by `pytest_terminal_summary` (tests/conftest.py) at the end of every
run, so CI's log shows them whether the test passed or not."""

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)
