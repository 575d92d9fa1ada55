"""The counts tests report are printed at the end of a run from every process of a parallel run,
whether their tests passed or not (tests/counts.py)."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def test_the_counts_of_every_process_are_printed_passed_or_failed(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests.counts"]')
    pytester.makepyfile(
        test_one="""
        from tests.counts import report

        def test_passes():
            report("first: 3 requests")
        """,
        test_two="""
        from tests.counts import report

        def test_fails():
            report("second: 2 jobs")
            assert False
        """,
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:django", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile"
    )
    result.assert_outcomes(passed=1, failed=1)
    sections = [n for n, line in enumerate(result.outlines) if " counts " in line]
    assert len(sections) == 1, "no «counts» section printed:\n" + result.stdout.str()
    section = sections[0]
    assert sorted(result.outlines[section + 1 : section + 3]) == [
        "first: 3 requests",
        "second: 2 jobs",
    ]
