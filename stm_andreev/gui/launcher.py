"""Starting headless runs: ``python -m stm_andreev.cli run PLANFILE --station S --out DIR``.

The run is its own process in its own session, so closing or killing the GUI (even its whole
process group, as a terminal's Ctrl-C does) never stops it; a reopened GUI reattaches by
reading the run file. The GUI talks to the run only through the run file (reading) and the
control channel beside it (``stm_andreev.engine.send_command``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .queue import QueueItem

log = logging.getLogger(__name__)

RUN_LOG_NAME = "run.log"


class LaunchError(Exception):
    """A run process could not be started (message names the command and why)."""


@dataclass
class RunHandle:
    """A started run: its process (None once the GUI that started it is gone) and out dir."""

    out_dir: Path
    process: subprocess.Popen | None = None

    def run_file(self) -> Path | None:
        """The run file, once the run process has created it (None before)."""
        return find_run_file(self.out_dir)

    def returncode(self) -> int | None:
        """The process's exit code, None while it runs or when not started by this GUI."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, n_chars: int = 2000) -> str:
        path = self.out_dir / RUN_LOG_NAME
        try:
            return path.read_text(encoding="utf-8", errors="replace")[-n_chars:]
        except OSError:
            return ""


def find_run_file(out_dir: str | os.PathLike[str]) -> Path | None:
    """The newest ``*.h5`` in ``out_dir`` (each queue item has its own directory)."""
    files = sorted(Path(out_dir).glob("*.h5"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def run_command(plan_file: Path, station: str, out_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "stm_andreev.cli", "run", str(plan_file),
        "--station", station, "--out", str(out_dir), "--quiet",
    ]


class RunLauncher:
    """Starts queue items as detached ``stm-andreev run`` processes.

    :param extra_args: appended to every command (e.g. ``["--no-report"]``).
    """

    def __init__(self, extra_args: list[str] | None = None) -> None:
        self.extra_args = list(extra_args or [])

    def start(self, item: QueueItem) -> RunHandle:
        out_dir = Path(item.out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            plan_file = item.plan_file()
            plan_file.write_text(item.plan_text, encoding="utf-8")
        except OSError as exc:
            raise LaunchError(f"cannot prepare {out_dir} for the run: {exc}") from exc
        cmd = run_command(plan_file, item.station, out_dir) + self.extra_args
        log.info("starting run: %s", " ".join(cmd))
        try:
            with open(out_dir / RUN_LOG_NAME, "ab") as log_file:
                process = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # the GUI's death or Ctrl-C never reaches the run
                )
        except OSError as exc:
            raise LaunchError(f"cannot start {' '.join(cmd)}: {exc}") from exc
        return RunHandle(out_dir, process)

    @staticmethod
    def attach(item: QueueItem) -> RunHandle:
        """A handle for a run started by an earlier GUI (no process object)."""
        return RunHandle(Path(item.out_dir), None)
