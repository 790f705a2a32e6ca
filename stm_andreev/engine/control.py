"""Pause, resume and abort: from signals, from the terminal and from a local control channel.

The control channel is a small text file beside the run file (``<run>.h5.control``): any
process (the GUI, ``stm-andreev control``, a shell) appends one command per line (``pause``,
``resume``, ``abort``). The engine reads new lines at every check point. A file survives a
GUI crash, needs no server, and every command is on record.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

COMMANDS = ("pause", "resume", "abort")
# Bounds on reading the control file (anyone can write junk into it): bytes read per poll,
# length of a command line, lines taken per poll. A command is a word; the rest is junk.
MAX_POLL_BYTES = 256 * 1024
MAX_LINE_BYTES = 256
MAX_POLL_LINES = 256
# Repeated warnings about junk: the first few in full, then one summary per interval (wall s).
WARNINGS_IN_FULL = 5
WARNING_INTERVAL_S = 60.0
# How often a paused run looks for a resume, in wall seconds: a human is on the other side.
PAUSE_POLL_S = 0.05


def _shown(text: str, limit: int = 80) -> str:
    """``text`` cut for a log line."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _byte_at(f, offset: int) -> bytes:
    f.seek(offset)
    return f.read(1)


class RateLimitedWarning:
    """A warning logged in full a few times, then summarised at most once per interval."""

    def __init__(self, logger: logging.Logger, in_full: int = WARNINGS_IN_FULL,
                 interval_s: float = WARNING_INTERVAL_S) -> None:
        self.logger = logger
        self.in_full = in_full
        self.interval_s = interval_s
        self.count = 0
        self._suppressed = 0
        self._last_summary = 0.0

    def warn(self, message: str, *args) -> None:
        self.count += 1
        if self.count <= self.in_full:
            self.logger.warning(message, *args)
            return
        self._suppressed += 1
        now = time.monotonic()
        if now - self._last_summary >= self.interval_s:
            self.logger.warning("%d more such warnings suppressed (last: %s)", self._suppressed,
                                _shown(message % args))
            self._suppressed = 0
            self._last_summary = now


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
        self._discarding = False  # inside a line longer than MAX_LINE_BYTES
        self._last_byte = b""  # the byte before _offset: if it changes, the file was rewritten
        self._unknown = RateLimitedWarning(log)
        if self.path is not None and self.path.exists():
            # Commands left from an earlier process are history, not requests for this one.
            with open(self.path, "rb") as f:
                self._offset = os.fstat(f.fileno()).st_size
                self._last_byte = _byte_at(f, self._offset - 1) if self._offset else b""
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
                self._unknown.warn("ignoring unknown run command %r", _shown(command))

    def poll(self) -> None:
        """Read new commands from the control file, in bounded time and memory.

        At most :data:`MAX_POLL_BYTES` are read per call (the rest waits for the next poll);
        a line longer than :data:`MAX_LINE_BYTES` is junk and skipped to its end; bytes that
        are not UTF-8 are replaced, never fatal; a file overwritten instead of appended to
        (``echo resume > RUN.h5.control``) is read again from its start.
        """
        if self.path is None:
            return
        with self._poll_lock:
            lines = self._read_lines()
        for line in lines:
            if line.strip():
                self.request(line.strip().lower())

    def _read_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if self._offset and (size < self._offset or _byte_at(f, self._offset - 1)
                                     != self._last_byte):
                    # Truncated or rewritten: what is there now is new.
                    self._offset = 0
                    self._discarding = False
                if size <= self._offset:
                    return []
                f.seek(self._offset)
                chunk = f.read(MAX_POLL_BYTES)
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._unknown.warn("cannot read the control file %s: %s", self.path, exc)
            return []
        lines: list[str] = []
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            if end < 0:
                rest = len(chunk) - start
                if self._discarding or rest > MAX_LINE_BYTES:
                    # An over-long line without its end yet: skip what is here.
                    if not self._discarding:
                        self._unknown.warn("control file %s: line longer than %d bytes "
                                           "ignored", self.path, MAX_LINE_BYTES)
                    self._discarding = True
                    start = len(chunk)
                break  # a writer may be half-way through a short line: wait for its end
            raw = chunk[start:end]
            start = end + 1
            if self._discarding:
                self._discarding = False  # the end of the over-long line
                continue
            if len(raw) > MAX_LINE_BYTES:
                self._unknown.warn("control file %s: line longer than %d bytes ignored",
                                   self.path, MAX_LINE_BYTES)
                continue
            lines.append(raw.decode("utf-8", errors="replace"))
            if len(lines) >= MAX_POLL_LINES:
                break
        if start:
            self._offset += start
            self._last_byte = chunk[start - 1:start]
        return lines

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
