"""Starting helper processes for the storage tests and reading their lines with a time bound."""

from __future__ import annotations

import select
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60.0  # generous bound for a slow shared CI machine; never a pass/fail measure


def start_module(module: str, *args: str) -> subprocess.Popen[str]:
    """Run ``python -m module args`` from the repository root with piped text stdio."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def read_line(proc: subprocess.Popen[str], timeout_s: float = TIMEOUT_S) -> str:
    """Next stdout line of ``proc``; fails (and kills it) if none comes within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"child ended early: {proc.stderr.read()}")
            return line.strip()
    proc.kill()
    proc.communicate(timeout=TIMEOUT_S)
    raise AssertionError("child wrote nothing within the time limit")


def send_line(proc: subprocess.Popen[str], line: str) -> None:
    """Write one command line to ``proc``'s stdin."""
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
