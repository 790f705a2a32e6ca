"""RunReader: read a run file, finished or still being written (SWMR live follow).

Readers only ever see ledger-confirmed rows: the writer flushes a row before it appends the
ledger entry, so after refreshing the ledger first and the rows second, every row below the
ledger length is complete. A row written by a writer that died before confirming it is never
shown. The status and the event log are refreshed before the ledger for the same reason.
"""

from __future__ import annotations

import json
import logging
import numbers
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from . import shared_file
from .errors import NotARunFileError, ReaderNotLiveError, RunFileNotFoundError
from .layout import (
    CONFIG,
    DATA,
    END_TIME,
    ENTRY,
    EVENT_COLUMNS,
    EVENTS,
    FORMAT_NAME,
    LEDGER,
    POINTS,
    SIGMA_DATASET,
    SPECTRUM_DATASETS,
    START_TIME,
    STATUS,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spectrum:
    """One confirmed spectrum: arrays of n_bias values and its per-spectrum record."""

    row: int
    """Position in write order (0-based)."""
    point_index: int
    """Index of the point in the plan."""
    bias_V: np.ndarray
    G_S: np.ndarray
    """dI/dV in S."""
    G_G0: np.ndarray
    """dI/dV in units of 2e^2/h."""
    X_V: np.ndarray
    Y_V: np.ndarray
    record: dict[str, Any]
    """Per-spectrum table row (time_s, temperatures, setpoint, status, ...)."""
    G_sigma_S: np.ndarray | None = None
    """One standard deviation of each point of G_S (S) where the mode estimates it
    (continuous spectra; NaN in other rows); None if the run file has no such dataset."""


@dataclass(frozen=True)
class Event:
    """One entry of the run's event log."""

    time_s: float
    point_index: int
    kind: str
    message: str


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else str(value)


class RunReader:
    """Read-only view of a run file; use as a context manager or call :meth:`close`.

    With ``live=True`` the file may still be open in a writer; :meth:`refresh` picks up what
    the writer has flushed since. Without it the number of spectra is fixed at open time.
    Files left by a writer that died can be read as they are (without resuming them).

    All readers of one file in a process share one HDF5 handle per dataset
    (:mod:`.shared_file`), so any number of them can follow a run side by side; status and end
    time show what the latest refresh of any of them read.
    """

    def __init__(self, path: str | os.PathLike[str], *, live: bool = False) -> None:
        self._path = Path(path)
        self._live = live
        if not self._path.is_file():
            raise RunFileNotFoundError(f"run file {self._path} does not exist")
        try:
            # Every reader of this file in the process shares one handle per dataset (see
            # shared_file.py: two handles of one dataset read stale rows after a refresh).
            self._shared = shared_file.acquire(self._path)
        except OSError as exc:
            raise NotARunFileError(f"{self._path} cannot be opened as an HDF5 run file: "
                                   f"{exc}") from exc
        self._release = weakref.finalize(self, self._shared.release)
        self._file = self._shared.file
        ds = self._shared.dataset
        try:
            with self._shared.lock:
                if self._file.attrs.get("stm_andreev_format") != FORMAT_NAME:
                    raise NotARunFileError(f"{self._path} is HDF5 but not an stm_andreev run "
                                           "file")
                self._column_names = [str(n) for n in self._file[POINTS].attrs["columns"]]
                spectra = SPECTRUM_DATASETS
                if SIGMA_DATASET[1].name in self._file[DATA]:  # runs with continuous spectra
                    spectra = (*spectra, SIGMA_DATASET)
                self._spectrum_ds = {arg: ds(f"{DATA}/{c.name}") for arg, c in spectra}
                self._column_ds = {n: ds(f"{POINTS}/{n}") for n in self._column_names}
                self._row_ds = [*self._spectrum_ds.values(), *self._column_ds.values()]
                self._event_ds = [ds(f"{EVENTS}/{c.name}") for c in EVENT_COLUMNS]
                self._ledger_ds = ds(LEDGER)
                self._status_ds = ds(STATUS)
                self._end_time_ds = ds(END_TIME)
                # Read in the reverse of the order the writer writes, so that what is seen of
                # a later write implies every earlier one: rows are flushed before their
                # ledger entry, a run's last ledger entry and events before its final status,
                # a pause event before the status "paused", the status before the end time.
                # End time and status are read (and kept until the next refresh) before the
                # growing datasets are refreshed (their shapes change only then).
                self._refresh_order = [
                    *(f"{EVENTS}/{c.name}" for c in EVENT_COLUMNS),
                    LEDGER,
                    *(f"{DATA}/{c.name}" for _, c in spectra),
                    *(f"{POINTS}/{n}" for n in self._column_names),
                ]
                self._end_time = self._status = ""
                # Refreshed even when just opened: the datasets were opened before the status
                # was read (and another reader of this process may have opened them earlier).
                self._take_snapshot()
        except KeyError as exc:
            self.close()
            raise NotARunFileError(f"{self._path}: damaged or incomplete run file: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------------------- life
    def refresh(self) -> int:
        """Pick up what the writer flushed since; return the number of confirmed spectra.

        Raises ReaderNotLiveError unless the reader was opened with ``live=True``.
        """
        if not self._live:
            raise ReaderNotLiveError(f"reader of {self._path} was opened without live=True")
        with self._shared.lock:
            self._take_snapshot()
        return self._n

    def _take_snapshot(self) -> None:
        # A contiguous dataset's value is cached (HDF5's sieve buffer) until it is refreshed,
        # and read from the disk at the first read after that.
        self._shared.refresh([END_TIME])
        self._end_time = _text(self._end_time_ds[()])
        self._shared.refresh([STATUS])
        self._status = _text(self._status_ds[()])
        self._shared.refresh(self._refresh_order)
        self._n = self._confirmed_rows()

    def close(self) -> None:
        """Close the file (idempotent); the last reader of it in this process closes it."""
        self._release()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _confirmed_rows(self) -> int:
        n = self._ledger_ds.shape[0]
        shortest = min(ds.shape[0] for ds in self._row_ds)
        if shortest < n:
            log.warning("%s: ledger confirms %d rows but only %d are visible", self._path, n,
                        shortest)
        return min(n, shortest)

    # ----------------------------------------------------------------------------- metadata
    @property
    def path(self) -> Path:
        """Path of the run file."""
        return self._path

    @property
    def metadata(self) -> dict[str, Any]:
        """Run metadata: the dict given at creation plus the file's own facts.

        The file's facts are under reserved keys: ``start_time``, ``end_time`` (ISO 8601 UTC,
        "" while open), ``status``, ``software_version``, ``n_bias``, ``n_planned``. They win
        over user keys of the same name.
        """
        with self._shared.lock:
            meta: dict[str, Any] = json.loads(self._config_text("metadata_json"))
            meta.update(
                start_time=_text(self._read(START_TIME)),
                end_time=self.end_time,
                status=self.status,
                software_version=_text(self._read(f"{ENTRY}/software_version")),
                n_bias=int(self._read(f"{ENTRY}/n_bias")),
                n_planned=int(self._read(f"{ENTRY}/n_planned")),
            )
        return meta

    def _read(self, name: str) -> Any:
        return self._shared.dataset(name)[()]

    def _config_text(self, name: str) -> str:
        return _text(self._read(f"{CONFIG}/{name}"))

    @property
    def status(self) -> str:
        """Run status ("running", "finished", "aborted", ...) as of the last refresh (or the
        opening): it never runs ahead of the spectra and events this reader shows."""
        return self._status

    @property
    def end_time(self) -> str:
        """Run end, ISO 8601 UTC; "" while the run is open (as of the last refresh)."""
        return self._end_time

    @property
    def station_text(self) -> str:
        """The station file the run used, verbatim."""
        return self._config_text("station_text")

    @property
    def plan_text(self) -> str:
        """The plan file the run used, verbatim."""
        return self._config_text("plan_text")

    @property
    def snapshot(self) -> dict[str, Any]:
        """Instrument snapshot at run start."""
        return json.loads(self._config_text("snapshot_json"))

    @property
    def n_bias(self) -> int:
        """Number of bias points per spectrum."""
        with self._shared.lock:
            return int(self._spectrum_ds["G_S"].shape[1])

    # ----------------------------------------------------------------------------- data
    @property
    def n_spectra(self) -> int:
        """Number of confirmed spectra visible to this reader."""
        return self._n

    @property
    def ledger(self) -> np.ndarray:
        """Point index of each confirmed row, in write order (int64)."""
        with self._shared.lock:
            return self._ledger_ds[: self._n].astype(np.int64)

    def spectrum(self, i: int) -> Spectrum:
        """Return confirmed row ``i`` (0 <= i < n_spectra; negative counts from the end)."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"spectrum index must be an integer, got {i!r}")
        n = self._n
        if not -n <= i < n:
            raise IndexError(f"spectrum {i} out of range: {self._path} has {n} confirmed")
        i %= n
        with self._shared.lock:
            arrays = {arg: ds[i] for arg, ds in self._spectrum_ds.items()}
            record = {name: self._scalar(ds[i]) for name, ds in self._column_ds.items()}
            point_index = int(self._ledger_ds[i])
        return Spectrum(row=i, point_index=point_index, record=record, **arrays)

    def spectra(self) -> dict[str, np.ndarray]:
        """All confirmed spectra as 2D arrays [n_spectra, n_bias].

        Keys: bias_V, G_S, G_G0, X_V, Y_V, and G_sigma_S in runs with continuous spectra.
        """
        with self._shared.lock:
            return {arg: ds[: self._n] for arg, ds in self._spectrum_ds.items()}

    def table(self) -> dict[str, np.ndarray]:
        """The per-spectrum table of confirmed rows: column name -> 1D array [n_spectra]."""
        table: dict[str, np.ndarray] = {}
        with self._shared.lock:
            for name, ds in self._column_ds.items():
                if h5py.check_string_dtype(ds.dtype) is not None:
                    table[name] = np.array(ds.asstr()[: self._n], dtype=object)
                else:
                    table[name] = ds[: self._n]
        return table

    def event_count(self) -> int:
        """How many events are logged (as of the last refresh); the log only grows, so a
        follower re-reads :meth:`events` only when this changed."""
        with self._shared.lock:
            return min(ds.shape[0] for ds in self._event_ds)

    def events(self) -> list[Event]:
        """The event log in order of logging."""
        with self._shared.lock:
            m = min(ds.shape[0] for ds in self._event_ds)
            time_s, point_index, kind, message = self._event_ds
            times = time_s[:m]
            indices = point_index[:m]
            kinds = kind.asstr()[:m]
            messages = message.asstr()[:m]
        return [
            Event(float(t), int(p), str(k), str(msg))
            for t, p, k, msg in zip(times, indices, kinds, messages, strict=True)
        ]

    def to_xarray(self) -> Any:
        """The run as an ``xarray.Dataset``: a grid run as its cube (dims y, x, bias;
        :func:`.grid_read.read_grid`), any other run as its confirmed spectra (dims spectrum,
        bias, every per-spectrum column a coordinate; :mod:`.xarray_view`)."""
        from .xarray_view import run_to_xarray  # xarray is imported only when asked for

        return run_to_xarray(self)

    @staticmethod
    def _scalar(value: Any) -> Any:
        if isinstance(value, bytes | np.bytes_):
            return value.decode("utf-8")
        if isinstance(value, np.generic):
            return value.item()
        return value
