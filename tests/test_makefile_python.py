"""README: `make` builds `.venv` on Debian's own Python 3.11 when the machine has it with venv
support (`python3.11-venv`, which `.ci/run` installs), and on `python3` otherwise."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
DEBIAN_VENV_SUPPORT = Path("/usr/lib/python3.11/ensurepip/__init__.py")


def test_the_venv_is_made_by_debians_python_when_the_machine_can(tmp_path):
    venv = tmp_path / "venv"
    # -n: the commands are printed, not run.
    made = subprocess.run(
        ["make", "-n", "--no-print-directory", f"VENV={venv}", f"{venv}/bin/python"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHON"},
    )  # fmt: skip
    first = made.stdout.splitlines()[0]
    debian = DEBIAN_PYTHON.exists() and DEBIAN_VENV_SUPPORT.exists()
    expected = f"{DEBIAN_PYTHON} -m venv {venv}" if debian else f"python3 -m venv {venv}"
    assert first == expected
    if os.environ.get("CI"):
        # .ci/run installs python3.11-venv: CI's tests run on Debian's Python.
        assert debian, "CI lacks Debian's python3.11 with venv support"
