"""Counts a test reports (the fuzz's answers by status, the stress test's jobs and letters):
kept here and printed at the end of every run by the hooks below (registered by
tests/conftest.py), so CI's log shows them whether the test passed or not, from every process
of a parallel run (tests/test_counts.py)."""

import pytest

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)


def pytest_sessionfinish(session):
    # Under pytest-xdist each process collects its own counts; they travel to the controlling
    # process with the process's end (`workeroutput`), which prints them.
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["counts"] = list(LINES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    LINES.extend(getattr(node, "workeroutput", {}).get("counts", []))


def pytest_terminal_summary(terminalreporter):
    if LINES:
        terminalreporter.section("counts")
        for line in LINES:
            terminalreporter.write_line(line)
