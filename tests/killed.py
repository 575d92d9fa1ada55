"""Killing a process outright at a chosen point of its work: what SIGKILL, the OOM killer or a
power cut leaves behind (no `finally`, no `atexit`, no cleanup of any kind)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def killed_at(work: Callable[[Callable[[], None]], object]) -> None:
    """Run `work(reached)` in a forked child and kill the child with SIGKILL once it calls
    `reached()`. The child touches no database connection unless `work` does: patch what
    would."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reading)

            def reached() -> None:
                os.write(writing, b"1")
                signal.pause()

            work(reached)
        finally:
            os._exit(1)
    os.close(writing)
    try:
        got = os.read(reading, 1)
    finally:
        os.close(reading)
        os.kill(pid, signal.SIGKILL)  # a child that ended early is a zombie until reaped
        status = os.waitpid(pid, 0)[1]
    assert got == b"1", "the child ended before the point it was to be killed at"
    assert status == signal.SIGKILL, status
