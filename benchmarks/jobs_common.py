"""What the parts of the jobs section (benchmarks/jobs.py) share, and scale.py through them:
paths, the demo's password, the services' arguments, the progress line on stderr and the error
that stops a step."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = sys.executable
PASSWORD = "cdt-demo"  # the demo's sign-ins (portal/demo)
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[jobs {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the bench's services are, given, never guessed: PostgreSQL's server (a database
    of the bench's own is made on it and dropped), an empty Redis database of the bench's own
    (emptied at the end; one that holds anything is refused), gunicorn's port."""
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="an empty Redis database for the bench, redis://host:port/db (BENCH_REDIS_URL)",
    )
    parser.add_argument(
        "--app-port",
        type=int,
        default=int(os.environ.get("BENCH_APP_PORT", "0")),
        help="gunicorn's port on 127.0.0.1 (BENCH_APP_PORT; 0: one the system gives)",
    )
