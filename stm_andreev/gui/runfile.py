"""Following a run file from the GUI: new spectra, progress with ETA, events, interlock state.

Qt-free, so it is tested on its own. The GUI only ever *reads* the run file (SWMR); the run
itself is a separate ``stm-andreev run`` process, which the GUI can neither stop by closing nor
by crashing.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import math
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stm_andreev.storage import Event, RunReader, StorageError

log = logging.getLogger(__name__)

#: Event kinds that mean the engine made the instruments safe and paused (engine/runner.py and
#: procedures/errors.py name them).
INTERLOCK_KINDS = frozenset(
    {
        "interlock",
        "safe_tip",
        "saturation",
        "temperature_ceiling",
        "settle_timeout",
        "link_lost",
        "instrument_error",
    }
)
#: Event kinds after which the engine re-takes the point (no pause): shown as a warning while
#: they are the latest news.
RETAKE_KINDS = frozenset({"retake", "settings_lost", "link_error"})
#: Run statuses after which the file no longer changes.
FINAL_STATUSES = frozenset({"finished", "aborted", "failed"})
# Up to this many new rows are read one by one; more (attaching to a long run) in bulk.
SMALL_BLOCK_ROWS = 16

ReaderFactory = Callable[[Path], RunReader]


def live_reader(path: Path) -> RunReader:
    """The default reader factory: a live SWMR reader."""
    return RunReader(path, live=True)


class RunFollowError(Exception):
    """The run file cannot be followed (message names the file and why)."""


@dataclass
class Progress:
    """Where a run stands: spectra done of planned, elapsed wall time, ETA (s, NaN if unknown)."""

    done: int
    planned: int
    elapsed_s: float
    eta_s: float
    status: str

    @property
    def fraction(self) -> float:
        return self.done / self.planned if self.planned else 0.0


@dataclass
class Banner:
    """What the interlock banner shows: ``level`` is "" (hidden), "warning" (a point is being
    re-taken, e.g. the temperature left its band), "pause" or "interlock"."""

    level: str
    text: str


@dataclass
class SpectraBlock:
    """Spectra appended to a run since the last poll (rows ``first`` .. ``first + n - 1``)."""

    first: int
    bias_V: np.ndarray  # [n, n_bias]
    G_G0: np.ndarray  # [n, n_bias], units of 2e^2/h
    table: dict[str, np.ndarray] = field(default_factory=dict)  # column -> [n]

    @property
    def n(self) -> int:
        return int(self.G_G0.shape[0])


def writer_alive(path: str | os.PathLike[str]) -> bool:
    """Whether a live ``stm-andreev run`` process holds the run file's writer lock.

    Asks the kernel (F_OFD_GETLK on the byte the writer locks, storage/writer_lock.py) without
    taking anything; False where OFD locks do not exist or the file is gone.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        return False
    getlk = getattr(fcntl, "F_OFD_GETLK", None)
    if getlk is None:  # pragma: no cover - non-Linux
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        # struct flock as in storage/writer_lock.py: type, whence, start, len, pid
        probe = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 1 << 62, 1, 0)
        reply = fcntl.fcntl(fd, getlk, probe)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOSYS):
            return False
        raise
    finally:
        os.close(fd)
    lock_type = struct.unpack("hhqqi4x", reply)[0]
    return lock_type != fcntl.F_UNLCK


def _iso_to_epoch(text: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, TypeError):
        return None


class RunFollower:
    """Reads a run file live, handing out only what is new since the last :meth:`poll`.

    :param path: the run file (it may not exist yet: polls return nothing until it does).
    :param reader_factory: opens a reader (default: :func:`live_reader`); tests may pass their
        own.
    :param now: wall clock in s, for the time since the file's start time stamp.
    :param monotonic: monotonic clock in s, for the rate spectra arrive at: a step of the
        wall clock (NTP, someone setting it) must not make the ETA negative or huge. Both are
        injected so the ETA is testable without waiting.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        reader_factory: ReaderFactory = live_reader,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._factory = reader_factory
        self._now = now
        self._monotonic = monotonic
        self._reader: RunReader | None = None
        self._rows_seen = 0
        self._first_seen: tuple[float, int] | None = None  # (monotonic s, spectra) when followed
        self._last_change: tuple[float, int] | None = None
        self.events: list[Event] = []
        self.status = ""
        self.last_spectrum_time_s = math.nan  # run-clock time of the newest spectrum
        self.metadata: dict[str, Any] = {}

    # ------------------------------------------------------------------ life
    @property
    def opened(self) -> bool:
        return self._reader is not None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _open(self) -> RunReader | None:
        if self._reader is None:
            if not self.path.exists():
                return None
            try:
                self._reader = self._factory(self.path)
            except StorageError as exc:
                # A file being laid out by a just-started writer is not readable yet.
                log.debug("%s not readable yet: %s", self.path, exc)
                return None
            self.metadata = self._reader.metadata
        return self._reader

    # ------------------------------------------------------------------ polling
    def poll(self, max_rows: int | None = None, *, read_events: bool = True
             ) -> SpectraBlock | None:
        """Refresh the file; return the spectra confirmed since the last poll (or None).

        ``max_rows`` caps how many rows one poll hands out (the rest come on later polls),
        so a first look at a long run does not freeze the GUI for one big read.
        ``read_events``: also re-read the event log (views that do not show it skip it).
        """
        reader = self._open()
        if reader is None:
            return None
        try:
            n = reader.refresh()
            self.status = reader.status
            if read_events:
                self._read_events(reader)
            self.metadata["end_time"] = reader.end_time
        except (OSError, KeyError, StorageError) as exc:
            raise RunFollowError(f"{self.path}: cannot refresh the run file: {exc}") from exc
        self._note_count(n)
        if n <= self._rows_seen:
            return None
        first = self._rows_seen
        stop = n if max_rows is None else min(n, first + max_rows)
        block = self._read_rows(reader, first, stop)
        self._rows_seen = stop
        times = block.table.get("time_s")
        if times is not None and len(times):
            self.last_spectrum_time_s = float(times[-1])
        return block

    def poll_status(self) -> int | None:
        """Refresh status, events and the number of confirmed spectra without reading them
        (what the progress bar and the event log need). None until the file is readable."""
        reader = self._open()
        if reader is None:
            return None
        try:
            n = reader.refresh()
            self.status = reader.status
            self._read_events(reader)
            self.metadata["end_time"] = reader.end_time
        except (OSError, KeyError, StorageError) as exc:
            raise RunFollowError(f"{self.path}: cannot refresh the run file: {exc}") from exc
        if n != self._rows_seen and n > 0 and any(
                e.kind == "pause" or e.kind in RETAKE_KINDS for e in self.events[-3:]):
            # Only a pause or re-take banner needs it (is the news older than the spectrum?),
            # and a whole row is ~20 dataset reads.
            self.last_spectrum_time_s = float(reader.spectrum(n - 1).record.get("time_s", math.nan))
        self._note_count(n)
        self._rows_seen = n
        return n

    def _read_events(self, reader: RunReader) -> None:
        # The log only grows: re-read it (four dataset reads of every event) only when it
        # did, not at every poll of every follower.
        if reader.event_count() != len(self.events):
            self.events = reader.events()

    def _note_count(self, n: int) -> None:
        now = self._monotonic()
        if self._first_seen is None:
            self._first_seen = (now, n)
        if self._last_change is None or self._last_change[1] != n:
            self._last_change = (now, n)

    @property
    def rows_seen(self) -> int:
        return self._rows_seen

    @staticmethod
    def _read_rows(reader: RunReader, first: int, stop: int) -> SpectraBlock:
        if stop - first <= SMALL_BLOCK_ROWS:
            rows = [reader.spectrum(i) for i in range(first, stop)]
            table = {k: np.asarray([r.record[k] for r in rows]) for k in rows[0].record}
            return SpectraBlock(
                first,
                np.stack([r.bias_V for r in rows]),
                np.stack([r.G_G0 for r in rows]),
                table,
            )
        # Bulk (attaching to a long run): the reader's whole-dataset reads, sliced here.
        spectra = reader.spectra()
        table = {k: np.asarray(v[first:stop]) for k, v in reader.table().items()}
        return SpectraBlock(
            first,
            np.asarray(spectra["bias_V"][first:stop]),
            np.asarray(spectra["G_G0"][first:stop]),
            table,
        )

    # ------------------------------------------------------------------ derived state
    def progress(self) -> Progress:
        """Spectra done / planned, elapsed wall time and ETA.

        The rate comes from what this follower saw arrive (spectra per monotonic second since
        it started following); before a second spectrum arrived it falls back to the file's
        start time (a resumed run's earlier part then counts too, so the first ETA is rough).
        """
        planned = int(self.metadata.get("n_planned", 0) or 0)
        done = self._rows_seen
        now = self._now()
        start = _iso_to_epoch(str(self.metadata.get("start_time", "")))
        elapsed = now - start if start is not None else math.nan
        if elapsed < 0:  # the wall clock was set back past the start: not known
            elapsed = math.nan
        end = _iso_to_epoch(str(self.metadata.get("end_time", "")))
        if self.status in FINAL_STATUSES:
            return Progress(done, planned, elapsed, 0.0 if done >= planned else math.nan,
                            self.status)
        rate = math.nan
        if self._first_seen and self._last_change and self._last_change[1] > self._first_seen[1]:
            dt_s = self._last_change[0] - self._first_seen[0]
            if dt_s > 0:
                rate = (self._last_change[1] - self._first_seen[1]) / dt_s
        if not rate > 0 and done > 0 and elapsed > 0 and end is None:
            rate = done / elapsed
        eta = (planned - done) / rate if rate > 0 else math.nan
        return Progress(done, planned, elapsed, eta, self.status)

    def banner(self) -> Banner:
        """The interlock/pause banner from the status and the event log."""
        return banner_for(self.status, self.events, self.last_spectrum_time_s)


def banner_for(status: str, events: list[Event], last_spectrum_time_s: float = math.nan
               ) -> Banner:
    """Banner text for a run: the last interlock since the last resume, or an operator pause.

    An interlock shows even if the status was already set back to "running" (the engine
    logs the interlock, then pauses): what matters is that no resume followed it. An operator
    pause is over once a spectrum newer than it arrived (``last_spectrum_time_s``, run clock):
    the engine logs no event and leaves the status at "paused" when it resumes from one.
    """
    last_interlock: Event | None = None
    last_pause: Event | None = None
    for event in events:
        if event.kind in INTERLOCK_KINDS:
            last_interlock = event
        elif event.kind == "pause":
            last_pause = event
        elif event.kind in ("resume", "start", "abort", "finish", "failure"):
            last_interlock = last_pause = None
    if status in FINAL_STATUSES:
        return Banner("", "")
    if last_interlock is not None:
        where = "" if last_interlock.point_index < 0 else f" at point {last_interlock.point_index}"
        return Banner(
            "interlock",
            f"INTERLOCK {last_interlock.kind}{where}: {last_interlock.message} - "
            "instruments in the safe state; the run is paused until resumed",
        )
    if last_pause is not None and last_spectrum_time_s > last_pause.time_s:
        return Banner("", "")
    if status == "paused" or last_pause is not None:
        why = last_pause.message if last_pause is not None else "paused"
        return Banner("pause", f"Run paused: {why}")
    last = events[-1] if events else None
    if last is not None and last.kind in RETAKE_KINDS and not (
            last_spectrum_time_s > last.time_s):
        return Banner("warning", f"Re-taking point {last.point_index}: {last.message}")
    return Banner("", "")


def format_duration(seconds: float) -> str:
    """``1h02m03s`` style; ``--`` for an unknown (NaN) duration."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s // 60 % 60:02d}m{s % 60:02d}s"
    return f"{s // 60}m{s % 60:02d}s"
