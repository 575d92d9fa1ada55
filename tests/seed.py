"""The institution's own seed file from shared/, read by tests independently of the app.

CI lays shared/ beside the clone; a checkout without it skips the tests that compare against
it, except under CI (CI=true), where a missing seed is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_SEED_DIR = Path(
    os.environ.get("CDT_SHARED_SEED_DIR", Path(__file__).resolve().parents[2] / "shared" / "seed")
)


def shared_seed_text() -> str:
    files = sorted(SHARED_SEED_DIR.glob("*.txt"))
    if not files:
        message = f"the institution's seed is not at {SHARED_SEED_DIR} (shared/ beside the clone)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return files[0].read_text(encoding="utf-8")
