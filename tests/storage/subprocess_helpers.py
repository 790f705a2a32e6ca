"""Starting helper processes for the storage tests and reading their lines with a time bound."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path
from weakref import WeakKeyDictionary

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60.0  # generous bound for a slow shared CI machine; never a pass/fail measure

# Bytes read from each child's stdout but not yet handed out as lines. read_line reads the pipe
# with os.read, never through proc.stdout's own buffer: a buffered readline can take two lines
# at once, and select() on the pipe then waits for a third that may never come.
_pending: WeakKeyDictionary[subprocess.Popen[str], bytes] = WeakKeyDictionary()


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
    fd = proc.stdout.fileno()
    pending = _pending.get(proc, b"")
    while b"\n" not in pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            proc.kill()
            proc.communicate(timeout=TIMEOUT_S)
            raise AssertionError("child wrote nothing within the time limit")
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"child ended early: {proc.stderr.read()}")
            pending += chunk
    line, _, rest = pending.partition(b"\n")
    _pending[proc] = rest
    return line.decode("utf-8").strip()


def send_line(proc: subprocess.Popen[str], line: str) -> None:
    """Write one command line to ``proc``'s stdin."""
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
