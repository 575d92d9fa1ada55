"""What the parts of the jobs section (benchmarks/jobs.py) share, and scale.py through them:
paths, the demo's password, Redis's address, the progress line on stderr and the error that
stops a step."""

from __future__ import annotations

import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = sys.executable
PASSWORD = "cdt-demo"  # the demo's sign-ins (portal/demo)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[jobs {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass
