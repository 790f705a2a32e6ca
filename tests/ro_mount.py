"""A read-only filesystem for tests: a small tmpfs, filled, then remounted read-only.

Permission bits do not stop root, so a test that checks the refusal of a read-only place can
only fail for root on a mount that is really read-only. Mounting needs root (or
CAP_SYS_ADMIN); where it is not allowed the caller skips, saying why.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def read_only_mount(where: Path, fill: Callable[[Path], None] | None = None,
                    size: str = "16m") -> Iterator[Path | str]:
    """Yield ``where`` mounted as a read-only tmpfs after ``fill(where)`` wrote into it, or a
    string saying why it could not be mounted (the caller skips)."""
    where.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        yield f"cannot mount a tmpfs here ({mount.stderr.strip() or mount.returncode})"
        return
    try:
        if fill is not None:
            fill(where)
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True,
                       capture_output=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
