"""Pause, resume and abort: from signals, from the terminal and from a local control channel.

The control channel is a small text file beside the run file (``<run>.h5.control``): any
process (the GUI, ``stm-andreev control``, a shell) appends one command per line (``pause``,
``resume``, ``abort``). The engine reads new lines at every check point. A file survives a
GUI crash, needs no server, and every command is on record.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

COMMANDS = ("pause", "resume", "abort")
# How often a paused run looks for a resume, in wall seconds: a human is on the other side.
PAUSE_POLL_S = 0.05


class AbortRequested(Exception):
    """The operator asked to stop (Ctrl-C, SIGTERM or an ``abort`` command)."""


def control_path(run_path: str | Path) -> Path:
    return Path(f"{run_path}.control")


def send_command(run_path: str | Path, command: str) -> None:
    """Append ``command`` to the run's control channel (what the GUI and the CLI call)."""
    if command not in COMMANDS:
        raise ValueError(f"unknown run command {command!r}; expected one of {', '.join(COMMANDS)}")
    with open(control_path(run_path), "a", encoding="utf-8") as f:
        f.write(command + "\n")


class RunControl:
    """Pending operator requests for one run, fed by signals and the control file."""

    def __init__(self, run_path: str | Path | None = None) -> None:
        self.path = control_path(run_path) if run_path is not None else None
        self._offset = 0
        if self.path is not None and self.path.exists():
            # Commands left from an earlier process are history, not requests for this one.
            self._offset = self.path.stat().st_size
        self.paused = False
        self.abort_requested = False
        # Re-entrant: the signal handlers call request() on the main thread, possibly while
        # that thread is itself inside request() (a plain Lock would deadlock the run).
        self._lock = threading.RLock()
        # Serialises reading the file: a sweep's watcher thread polls it too.
        self._poll_lock = threading.Lock()
        self._previous_handlers: dict[int, object] = {}

    # -------------------------------------------------------------- requests
    def request(self, command: str) -> None:
        with self._lock:
            if command == "pause":
                self.paused = True
            elif command == "resume":
                self.paused = False
            elif command == "abort":
                self.abort_requested = True
            else:
                log.warning("ignoring unknown run command %r", command)

    def poll(self) -> None:
        """Read new commands from the control file."""
        if self.path is None or not self.path.exists():
            return
        with self._poll_lock:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self._offset)
                text = f.read()
            # Only whole lines: a writer may be half-way through one.
            complete, _, _ = text.rpartition("\n")
            if not complete:
                return
            self._offset += len(complete.encode("utf-8")) + 1
        for line in complete.splitlines():
            if line.strip():
                self.request(line.strip().lower())

    def abort_pending(self) -> bool:
        """Whether an abort was requested (signal, :meth:`request` or the file); never raises
        AbortRequested, so a watcher thread can ask while the run's thread is blocked."""
        self.poll()
        return self.abort_requested

    def check_abort(self) -> None:
        self.poll()
        if self.abort_requested:
            raise AbortRequested("abort requested")

    def wait_while_paused(self, on_pause=None) -> None:
        """Block (wall time) while paused; return on resume, raise on abort."""
        self.poll()
        if not self.paused:
            return
        if on_pause is not None:
            on_pause()
        while self.paused:
            self.check_abort()
            time.sleep(PAUSE_POLL_S)
            self.poll()
        self.check_abort()

    # -------------------------------------------------------------- signals
    def install_signal_handlers(self) -> None:
        """Ctrl-C / SIGTERM abort cleanly (a second Ctrl-C interrupts at once);
        SIGUSR1 pauses, SIGUSR2 resumes."""
        if threading.current_thread() is not threading.main_thread():
            return

        def abort(signum, frame):
            if self.abort_requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            log.warning("signal %s: aborting after the safe state", signal.Signals(signum).name)
            self.request("abort")

        handlers = {
            signal.SIGINT: abort,
            signal.SIGTERM: abort,
            signal.SIGUSR1: lambda s, f: self.request("pause"),
            signal.SIGUSR2: lambda s, f: self.request("resume"),
        }
        for sig, handler in handlers.items():
            self._previous_handlers[sig] = signal.signal(sig, handler)

    def restore_signal_handlers(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers.clear()
