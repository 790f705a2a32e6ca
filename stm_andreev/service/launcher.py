"""Starting headless runs: ``python -m stm_andreev.cli run PLANFILE --station S --out DIR``.

The run is its own process in its own session, so closing or killing the GUI or the station
service (even its whole process group, as a terminal's Ctrl-C does) never stops it; a reopened
GUI or a restarted service reattaches by the run's pid and its run file. Clients talk to the run
only through the run file (reading) and the control channel beside it
(``stm_andreev.engine.send_command``). Qt-free.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .queue_store import QueueItem

log = logging.getLogger(__name__)

RUN_LOG_NAME = "run.log"


class LaunchError(Exception):
    """A run process could not be started (message names the command and why)."""


@dataclass
class RunHandle:
    """A started run: its process (None once the GUI or service that started it is gone),
    out dir and pid (kept in the queue so a restarted client can tell whether it still runs)."""

    out_dir: Path
    process: subprocess.Popen | None = None
    pid: int = 0

    def run_file(self) -> Path | None:
        """The run file, once the run process has created it (None before)."""
        return find_run_file(self.out_dir)

    def returncode(self) -> int | None:
        """The process's exit code, None while it runs or when not started by this GUI."""
        return None if self.process is None else self.process.poll()

    def alive(self) -> bool:
        """Whether the run process still runs (for an attached run: by its pid, checked to be
        a run writing into this out dir, so a recycled pid is not taken for the run)."""
        if self.process is not None:
            return self.process.poll() is None
        return pid_runs_in(self.pid, self.out_dir)

    def log_tail(self, n_chars: int = 2000) -> str:
        path = self.out_dir / RUN_LOG_NAME
        try:
            return path.read_text(encoding="utf-8", errors="replace")[-n_chars:]
        except OSError:
            return ""


def pid_runs_in(pid: int, out_dir: str | os.PathLike[str]) -> bool:
    """Whether process ``pid`` is alive and is an ``stm-andreev run`` into ``out_dir``.

    Linux: its command line is read from /proc. Elsewhere only liveness can be checked.
    """
    if pid <= 0:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        args = cmdline.read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: fall back to "is the pid alive"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if _is_zombie(pid):
        return False
    return os.fsencode(str(out_dir)) in args


def find_run_pid(out_dir: str | os.PathLike[str]) -> int:
    """The pid of a live ``stm-andreev run`` into ``out_dir`` (0 if none; Linux /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - non-Linux
        return 0
    for entry in proc.iterdir():
        if entry.name.isdigit() and pid_runs_in(int(entry.name), out_dir):
            return int(entry.name)
    return 0


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # state is the field after the ")" that closes the command name
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


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
        return RunHandle(out_dir, process, process.pid)

    @staticmethod
    def attach(item: QueueItem) -> RunHandle:
        """A handle for a run started by an earlier GUI or service (no process object).

        Without a kept pid (the starter died between starting the run and saving its pid)
        the process is looked for by its out dir, so a live run is never taken for dead.
        """
        pid = item.pid or find_run_pid(item.out_dir)
        return RunHandle(Path(item.out_dir), None, pid)
