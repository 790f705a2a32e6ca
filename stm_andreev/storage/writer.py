"""RunWriter: the single writer of a crash-safe, live-readable HDF5 run file.

Crash safety rests on one ordering rule. ``append_spectrum`` writes row k of every per-row
dataset, flushes, and only then appends the point index to the ledger and flushes again. The
ledger is the single source of truth: row k counts only if ``k < len(ledger)``. A writer killed
anywhere leaves at most one unconfirmed row, which :meth:`RunWriter.resume` truncates, so after
resume every finished point is in the file exactly once and no confirmed point is missing.

The writer keeps no per-spectrum lists: its memory is a fixed bitmap of ``n_planned`` flags plus
HDF5's bounded caches, whatever the number of spectra.
"""

from __future__ import annotations

import errno
import logging
import numbers
import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import h5py
import numpy as np
from numpy.typing import ArrayLike

import stm_andreev
from stm_andreev.redact import redact

from .errors import (
    DuplicatePointError,
    InsufficientDiskSpaceError,
    NotARunFileError,
    PointIndexError,
    RecordFieldError,
    RunFileExistsError,
    RunFileNotFoundError,
    RunFileWriteError,
    SpectrumDataError,
    StorageError,
    UnwritableLocationError,
    WriterClosedError,
)
from .grid_layout import GridFiller, GridGeometry
from .h5open import open_h5
from .layout import (
    BIAS_AXIS,
    DATA,
    END_TIME,
    EVENT_COLUMNS,
    EVENT_KIND_BYTES,
    EVENT_MESSAGE_BYTES,
    EVENTS,
    FORMAT_NAME,
    FORMAT_VERSION,
    G0_S,
    LEDGER,
    POINT_COLUMNS,
    POINTS,
    RAMP_COLUMNS,
    SIGMA_DATASET,
    SPECTRUM_DATASETS,
    STATUS,
    Column,
    create_layout,
    encode_fixed,
    encode_truncated,
    estimated_size_bytes,
    extra_columns,
    to_json,
)
from .nexus import write_sweep
from .rows import RowAppender
from .superblock import clear_open_flags
from .writer_lock import WriterLock

log = logging.getLogger(__name__)

FaultHook = Callable[[str, int], None]


def utc_now_iso() -> str:
    """Current wall-clock time as ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _claim_new_file(path: Path, staging: Path) -> None:
    """Create ``staging`` empty and exclusively; errors name the run file ``path``."""
    directory = path.parent
    if not directory.exists():
        raise UnwritableLocationError(f"cannot create run file {path}: directory {directory} "
                                      "does not exist")
    if not directory.is_dir():
        raise UnwritableLocationError(f"cannot create run file {path}: {directory} is not a "
                                      "directory")
    try:
        fd = os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError as exc:  # a stale staging file of a dead process with our pid
        raise RunFileWriteError(f"cannot create run file {path}: leftover {staging} is in "
                                "the way (delete it)") from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise InsufficientDiskSpaceError(f"cannot create run file {path}: disk full") from exc
        raise UnwritableLocationError(
            f"cannot create run file {path}: directory {directory} is not writable "
            f"({exc.strerror})"
        ) from exc
    os.close(fd)


def _staging_path(path: Path) -> Path:
    """Hidden name a new run file is laid out under before it appears as ``path``.

    A GUI or a script watching the run directory may open any ``*.h5`` the moment it appears;
    HDF5's own file lock then makes the writer's create fail (EAGAIN). Laying the file out
    under a dot-name and linking it into place means every ``*.h5`` a watcher sees is a
    complete SWMR run file.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.creating")


def _publish(staging: Path, path: Path) -> None:
    """Give the laid-out file its real name; never replaces an existing file."""
    try:
        os.link(staging, path)  # atomic and fails if path exists, unlike rename
    except FileExistsError as exc:
        raise RunFileExistsError(f"run file {path} already exists; run files are never "
                                 "overwritten (resume it or choose a new name)") from exc
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
            raise
        # Filesystems without hard links (some network or FAT mounts): a rename is still
        # atomic; the exists-check above the layout is then the only overwrite guard.
        if path.exists():
            raise RunFileExistsError(f"run file {path} already exists") from exc
        os.rename(staging, path)
        return
    staging.unlink()


def _allocate_plot_axis(file: h5py.File) -> None:
    """Give the plot axis its storage before SWMR starts, in files laid out before it was
    allocated up front (see :func:`~.layout.create_layout`): NaN until the first spectrum."""
    axis = file[BIAS_AXIS]
    if axis.id.get_storage_size() == 0:
        axis[:] = np.full(axis.shape, np.nan)


def _as_spectrum(value: ArrayLike, name: str, n_bias: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpectrumDataError(f"{name} is not an array of numbers: {exc}") from exc
    if array.shape != (n_bias,):
        raise SpectrumDataError(f"{name} has shape {array.shape}; this run has {n_bias} "
                                "bias points per spectrum")
    return array


def _check_value(column: Column, value: Any) -> float | int | bytes:
    if value is None:
        value = column.fill
    if column.kind == "text":
        if not isinstance(value, str):
            raise RecordFieldError(f"record field {column.name} must be text, got {value!r}")
        raw, cut = encode_truncated(value, column.max_bytes)
        if cut:
            log.warning("%s cut to %d UTF-8 bytes: %r", column.name, column.max_bytes, value)
        return raw
    if isinstance(value, bool | np.bool_):
        raise RecordFieldError(f"record field {column.name} must be a number, got {value!r}")
    if column.kind == "int":
        if not isinstance(value, numbers.Integral):
            raise RecordFieldError(f"record field {column.name} must be an integer, "
                                   f"got {value!r}")
        return int(value)
    if not isinstance(value, numbers.Real):
        raise RecordFieldError(f"record field {column.name} must be a real number "
                               f"({column.units}), got {value!r}")
    return float(value)


class RunWriter:
    """Single writer of one run file; make it with :meth:`create` or :meth:`resume`.

    Readers in other processes may follow the file live (:class:`~.reader.RunReader` with
    ``live=True``) while this writer appends. Calls from several threads (acquisition loop,
    interlock watcher) are serialised by an internal lock.
    """

    # Fault-injection seam for the crash tests: called as hook(stage, point_index) with stage
    # "row_written" (row flushed, ledger not yet written) and "ledger_written" (ledger written,
    # not yet flushed). None in production.
    fault_hook: ClassVar[FaultHook | None] = None

    def __init__(
        self,
        file: h5py.File,
        path: Path,
        lock: WriterLock,
        *,
        columns: Sequence[Column],
        finished: np.ndarray,
        n_rows: int,
        n_events: int,
        rows_discarded: int = 0,
        previous_status: str = "",
        recovered_unclean: bool = False,
    ) -> None:
        """Internal: use :meth:`create` or :meth:`resume`."""
        self._file = file
        self._path = path
        self._lock = lock
        self._columns = tuple(columns)
        self._finished = finished
        self._n_rows = n_rows
        self._n_events = n_events
        self._n_bias = int(file[DATA]["G_S"].shape[1])
        self._closed = False
        self._failed: str | None = None
        self._mutex = threading.RLock()
        self.rows_discarded = rows_discarded
        """Unconfirmed rows (written but not in the ledger) that resume truncated."""
        self.previous_status = previous_status
        """Status the file had when resumed ("" for a new file)."""
        self.recovered_unclean = recovered_unclean
        """True if resume found the file left open by a writer that died."""
        self.close_failed = False
        """True if closing failed after a write failure (full disk): HDF5 still holds the file,
        so only a new process can resume it (see :func:`unclosed_files`)."""
        data = file[DATA]
        points = file[POINTS]
        events = file[EVENTS]
        spectra = SPECTRUM_DATASETS
        if SIGMA_DATASET[1].name in data:
            spectra = (*spectra, SIGMA_DATASET)
        self._spectrum_rows = [(arg, RowAppender(data[c.name])) for arg, c in spectra]
        self._column_rows = [(c.name, RowAppender(points[c.name])) for c in self._columns]
        self._event_rows = [(c.name, RowAppender(events[c.name])) for c in EVENT_COLUMNS]
        self._ledger_rows = RowAppender(file[LEDGER])
        self._ledger = file[LEDGER]
        self._status = file[STATUS]
        self._end_time = file[END_TIME]
        self._bias_axis = file[BIAS_AXIS]
        self._record_names = frozenset(c.name for c in self._columns)
        self._grid = GridFiller.open(file)

    # ----------------------------------------------------------------------------- opening
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        n_bias: int,
        n_planned: int,
        metadata: Mapping[str, Any],
        station_text: str,
        plan_text: str,
        snapshot: Mapping[str, Any],
        point_keys: Sequence[str] | None = None,
        continuous: bool = False,
        grid: GridGeometry | None = None,
    ) -> RunWriter:
        """Create a new run file at ``path``, laid out in full, open for SWMR appending.

        ``n_bias`` (>= 1) is the number of bias points of every spectrum; ``n_planned`` (>= 1)
        the number of plan points (point indices run from 0 to n_planned - 1). ``metadata`` and
        ``snapshot`` must be JSON-serialisable (numpy scalars and arrays allowed); the station
        and plan files are stored verbatim. ``point_keys`` names extra float columns of the
        per-spectrum table; a suffix such as ``_K``, ``_V`` or ``_W`` gives the unit.
        ``continuous``: the run takes continuous spectra, so the file also has the per-point
        uncertainty ``G_sigma_S`` and the ramp columns (:data:`~.layout.RAMP_COLUMNS`).
        ``grid`` lays out ``/entry/grid`` for a run with a map (storage/grid_layout.py).

        Raises RunFileExistsError (never overwrites), UnwritableLocationError (missing or
        unwritable directory), InsufficientDiskSpaceError (free space below the planned size
        estimate), RecordFieldError (bad point_keys, metadata or snapshot).
        """
        path = Path(path)
        n_bias = _positive_int(n_bias, "n_bias")
        n_planned = _positive_int(n_planned, "n_planned")
        columns = POINT_COLUMNS + (RAMP_COLUMNS if continuous else ()) + extra_columns(
            point_keys)
        if not isinstance(station_text, str) or not isinstance(plan_text, str):
            raise RecordFieldError("station_text and plan_text must be text (the file contents)")
        # No credential from the station file (a webhook's user:password or token) is stored.
        station_text = redact(station_text)
        text_bytes = sum(
            len(t.encode("utf-8"))
            for t in (station_text, plan_text, to_json(dict(snapshot), "snapshot"),
                      to_json(dict(metadata), "metadata"))
        )
        if path.exists():
            raise RunFileExistsError(f"run file {path} already exists; run files are never "
                                     "overwritten (resume it or choose a new name)")
        needed = estimated_size_bytes(n_bias, n_planned, len(columns), text_bytes,
                                      n_spectrum_datasets=len(SPECTRUM_DATASETS) + continuous)
        if grid is not None:
            needed += grid.size_bytes()
        if path.parent.is_dir():
            free = shutil.disk_usage(path.parent).free
            if free < needed:
                raise InsufficientDiskSpaceError(
                    f"not enough disk space for run file {path}: the plan needs about "
                    f"{needed / 1e6:.1f} MB, {free / 1e6:.1f} MB free"
                )
        staging = _staging_path(path)
        _claim_new_file(path, staging)
        lock: WriterLock | None = None
        file: h5py.File | None = None
        try:
            lock = WriterLock(staging)  # an OFD lock belongs to the inode: it survives the link
            file = h5py.File(staging, "w", libver="latest")
            create_layout(
                file,
                n_bias=n_bias,
                n_planned=n_planned,
                metadata=metadata,
                station_text=station_text,
                plan_text=plan_text,
                snapshot=snapshot,
                columns=columns,
                software_version=stm_andreev.__version__,
                start_time=utc_now_iso(),
                file_name=path.name,
                spectrum_sigma=continuous,
                grid=grid,
            )
            # SWMR last: no dataset or attribute can be created once it is on.
            file.swmr_mode = True
            file.flush()
            _publish(staging, path)
        except BaseException as exc:
            if file is not None:
                try:
                    file.close()
                except Exception as close_exc:  # full disk: HDF5 cannot write its metadata
                    log.debug("closing the half-made %s failed: %s", staging, close_exc)
                    # Never collected: h5py would crash on the file, and the objects in the
                    # failed frames would each print a deallocation traceback.
                    _keep_unclosed(file, exc)
            if lock is not None:
                lock.release()
            staging.unlink(missing_ok=True)  # ours, and holds no data yet
            if isinstance(exc, OSError | RuntimeError) and not isinstance(exc, StorageError):
                if _disk_is_full(exc, path):
                    raise InsufficientDiskSpaceError(
                        f"cannot create run file {path}: disk full (nothing was written; "
                        "free space and start again)"
                    ) from None
                raise RunFileWriteError(f"cannot lay out run file {path}: {exc}") from None
            raise
        log.info("created run file %s (%d points x %d bias values)", path, n_planned, n_bias)
        return cls(
            file, path, lock, columns=columns, finished=np.zeros(n_planned, dtype=bool),
            n_rows=0, n_events=0,
        )

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> RunWriter:
        """Reopen a run file for appending, after a clean close or a crash (even SIGKILL).

        Clears the open-for-write flags a dead writer left, truncates rows written after the
        last ledger entry (see :attr:`rows_discarded`) and half-written events, sets the status
        back to "running". :attr:`finished_points` then tells which points to skip.

        Raises RunFileNotFoundError, RunFileBusyError (another live writer holds the file),
        NotARunFileError (not a run file of this format, or damaged beyond repair).
        """
        path = Path(path)
        if not path.is_file():
            raise RunFileNotFoundError(f"run file {path} does not exist")
        try:
            lock = WriterLock(path)
        except OSError as exc:  # a read-only disk or file: nothing was written
            raise UnwritableLocationError(
                f"cannot resume {path}: it cannot be opened for writing ({exc.strerror})"
            ) from None
        file: h5py.File | None = None
        try:
            unclean = clear_open_flags(path)
            try:
                file = open_h5(path, "r+", libver="latest")
            except OSError as exc:
                raise NotARunFileError(f"{path} cannot be opened as HDF5: {exc}") from exc
            if file.attrs.get("stm_andreev_format") != FORMAT_NAME:
                raise NotARunFileError(f"{path} is HDF5 but not an stm_andreev run file")
            version = int(file.attrs.get("stm_andreev_format_version", -1))
            if version != FORMAT_VERSION:
                raise NotARunFileError(f"{path} has run-file format version {version}; this "
                                       f"software writes version {FORMAT_VERSION}")
            _allocate_plot_axis(file)
            # SWMR on before any repair: the truncations below then reach attached readers
            # in order, and a crash during them is no worse than one during appends.
            file.swmr_mode = True
            try:
                writer = cls._recover(file, path, lock, unclean)
            except (KeyError, OSError, ValueError) as exc:
                if isinstance(exc, StorageError):
                    raise
                raise NotARunFileError(f"{path}: damaged or incomplete run file: {exc}") from exc
        except BaseException:
            if file is not None:
                file.close()
            lock.release()
            raise
        log.info(
            "resumed run file %s: %d spectra confirmed, %d unconfirmed rows dropped, "
            "previous status %r%s",
            path, writer.n_spectra, writer.rows_discarded, writer.previous_status,
            " (writer had died)" if unclean else "",
        )
        return writer

    @classmethod
    def _recover(cls, file: h5py.File, path: Path, lock: WriterLock, unclean: bool) -> RunWriter:
        n_planned = int(file["entry/n_planned"][()])
        standard = {c.name: c for c in POINT_COLUMNS + RAMP_COLUMNS}
        points = file[POINTS]
        columns = tuple(
            standard.get(name)
            or Column(name, "float", points[name].attrs["units"], points[name].attrs["long_name"])
            for name in (str(n) for n in points.attrs["columns"])
        )
        ledger = file[LEDGER][()].astype(np.int64)
        bad = (ledger < 0) | (ledger >= n_planned)
        if bad.any():
            raise NotARunFileError(f"{path}: ledger holds point indices outside 0..{n_planned - 1}")
        finished = np.zeros(n_planned, dtype=bool)
        finished[ledger] = True
        if int(finished.sum()) != len(ledger):
            raise NotARunFileError(f"{path}: ledger lists a point twice; the file is damaged")
        n_rows = len(ledger)
        row_datasets = [file[DATA][c.name] for _, c in (*SPECTRUM_DATASETS, SIGMA_DATASET)
                        if c.name in file[DATA]]
        row_datasets += [points[c.name] for c in columns]
        discarded = max(ds.shape[0] for ds in row_datasets) - n_rows
        if min(ds.shape[0] for ds in row_datasets) < n_rows:
            raise NotARunFileError(f"{path}: the ledger confirms rows that are missing")
        for ds in row_datasets:
            ds.resize(n_rows, axis=0)
        grid = GridFiller.open(file)
        if grid is not None:
            cleared = grid.reconcile(finished)
            if cleared:
                log.info("%s: %d grid pixel(s) written but never confirmed cleared", path, cleared)
        event_datasets = [file[EVENTS][c.name] for c in EVENT_COLUMNS]
        n_events = min(ds.shape[0] for ds in event_datasets)
        for ds in event_datasets:
            ds.resize(n_events, axis=0)
        previous = bytes(file[STATUS][()]).decode("utf-8")
        file[STATUS][()] = encode_fixed("running", "status")
        file[END_TIME][()] = b""
        file.flush()
        return cls(
            file, path, lock, columns=columns, finished=finished, n_rows=n_rows,
            n_events=n_events, rows_discarded=discarded, previous_status=previous,
            recovered_unclean=unclean,
        )

    # ----------------------------------------------------------------------------- state
    @property
    def path(self) -> Path:
        """Path of the run file."""
        return self._path

    @property
    def n_bias(self) -> int:
        """Number of bias points per spectrum."""
        return self._n_bias

    @property
    def record_names(self) -> frozenset[str]:
        """Names of the per-spectrum columns this run file has (standard and extra)."""
        return self._record_names

    @property
    def stores_sigma(self) -> bool:
        """True if the file has the per-point uncertainty ``G_sigma_S`` (continuous runs)."""
        return any(arg == SIGMA_DATASET[0] for arg, _ in self._spectrum_rows)

    @property
    def n_planned(self) -> int:
        """Number of points in the plan; valid point indices are 0..n_planned-1."""
        return len(self._finished)

    @property
    def n_spectra(self) -> int:
        """Number of confirmed spectra (ledger entries)."""
        return self._n_rows

    @property
    def finished_points(self) -> set[int]:
        """Point indices already in the ledger (built on demand; skip these on resume)."""
        return {int(i) for i in np.flatnonzero(self._finished)}

    def is_finished(self, point_index: int) -> bool:
        """True if ``point_index`` (0..n_planned-1) is already in the ledger (O(1))."""
        if isinstance(point_index, bool) or not isinstance(point_index, numbers.Integral) or not (
            0 <= point_index < self.n_planned
        ):
            raise PointIndexError(f"point_index {point_index!r} outside the plan "
                                  f"(0..{self.n_planned - 1})")
        return bool(self._finished[point_index])

    @property
    def point_keys(self) -> list[str]:
        """Names of every per-spectrum column, standard ones first."""
        return [c.name for c in self._columns]

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    # ----------------------------------------------------------------------------- writing
    def append_spectrum(
        self,
        point_index: int,
        *,
        bias_V: ArrayLike,
        G_S: ArrayLike,
        X_V: ArrayLike,
        Y_V: ArrayLike,
        record: Mapping[str, Any],
        G_sigma_S: ArrayLike | None = None,
        grid: Mapping[str, float] | None = None,
    ) -> None:
        """Store one spectrum and its per-spectrum record, then confirm it in the ledger.

        ``bias_V`` (V, finite), ``G_S`` (dI/dV in S), ``X_V`` and ``Y_V`` (lock-in outputs in
        V) are arrays of n_bias values; NaN is allowed in G, X, Y (a failed acquisition flagged
        by ``status_code``). G in units of 2e^2/h is derived. ``record`` maps per-spectrum
        column names (see :data:`~.layout.POINT_COLUMNS` plus the run's extra keys) to values;
        missing or None values are stored as NaN / -1 / "". A point that is a pixel of the
        run's grid also needs ``grid``: its values (``pos_x_m``, ``pos_y_m``, ``z_m``,
        ``T_K``, ``time_s``); the spectrum is copied to its pixel of ``/entry/grid``.

        Raises PointIndexError, DuplicatePointError, SpectrumDataError, RecordFieldError
        (nothing is written then), WriterClosedError, RunFileWriteError or
        InsufficientDiskSpaceError (the writer is then unusable; resume the file).

        ``G_sigma_S`` (S, one standard deviation per point) is stored where the file has room
        for it (:attr:`stores_sigma`), as NaN when not given; giving it to a file without that
        room is an error (SpectrumDataError).
        """
        with self._mutex:
            self._append_spectrum(point_index, bias_V, G_S, X_V, Y_V, record, G_sigma_S, grid)

    def _append_spectrum(
        self,
        point_index: int,
        bias_V: ArrayLike,
        G_S: ArrayLike,
        X_V: ArrayLike,
        Y_V: ArrayLike,
        record: Mapping[str, Any],
        G_sigma_S: ArrayLike | None = None,
        grid: Mapping[str, float] | None = None,
    ) -> None:
        self._check_writable()
        index = self._check_point(point_index)
        pixel = None
        if self._grid is not None and self._grid.pixel_of(index) is not None:
            pixel = GridFiller.check_values(grid, index)
        elif grid is not None:
            raise RecordFieldError(f"point {index} is not a pixel of this run's grid; it takes "
                                   "no grid values")
        arrays = {
            "bias_V": _as_spectrum(bias_V, "bias_V", self._n_bias),
            "G_S": _as_spectrum(G_S, "G_S", self._n_bias),
            "X_V": _as_spectrum(X_V, "X_V", self._n_bias),
            "Y_V": _as_spectrum(Y_V, "Y_V", self._n_bias),
        }
        if self.stores_sigma:
            arrays["G_sigma_S"] = (np.full(self._n_bias, np.nan) if G_sigma_S is None
                                   else _as_spectrum(G_sigma_S, "G_sigma_S", self._n_bias))
        elif G_sigma_S is not None:
            raise SpectrumDataError(
                f"point {index}: G_sigma_S given, but this run file was created without room "
                "for it (RunWriter.create(..., continuous=True))")
        if not np.isfinite(arrays["bias_V"]).all():
            raise SpectrumDataError(f"bias_V of point {index} has non-finite values")
        arrays["G_G0"] = arrays["G_S"] / G0_S
        values = self._check_record(record, index)
        _check_room(self._path, f"writing the spectrum of point {index}")
        k = self._n_rows
        with self._guard(f"writing the spectrum of point {index}"):
            for arg, rows in self._spectrum_rows:
                rows.write(k, arrays[arg])
            if k == 0:
                self._bias_axis[:] = arrays["bias_V"]
                write_sweep(self._file, arrays["bias_V"])  # NXsts sweep fields
            for name, rows in self._column_rows:
                rows.write(k, values[name])
            if pixel is not None:
                self._grid.write_pixel(index, arrays["G_S"], arrays["G_G0"], pixel)
            # The row must be on disk before the ledger names it.
            self._file.flush()
            self._fault("row_written", index)
            self._ledger_rows.write(k, index)
            if pixel is not None:
                self._grid.mark_done(index)  # flushed with the ledger entry it mirrors
            self._fault("ledger_written", index)
            self._file.flush()
        self._finished[index] = True
        self._n_rows = k + 1

    def grid_state(self) -> dict:
        """The grid's stored drift reference and last pixel ({} for a run without a grid);
        see :meth:`~.grid_layout.GridFiller.state`."""
        with self._mutex:
            return {} if self._grid is None else self._grid.state()

    def set_grid_reference(self, profiles: ArrayLike) -> None:
        """Store the grid's drift reference patch ([n, n] z in m) and flush."""
        with self._mutex:
            self._check_writable()
            if self._grid is None:
                raise RecordFieldError("this run has no grid: no drift reference to store")
            with self._guard("storing the drift reference"):
                self._grid.set_reference(np.asarray(profiles, dtype=np.float64))
                self._file.flush()

    def log_event(
        self, kind: str, message: str, *, time_s: float, point_index: int = -1
    ) -> None:
        """Append an event (start, pause, retake, interlock, ...) to the log and flush.

        ``time_s`` is on the run clock (s, finite); ``point_index`` is -1 or a plan point.
        Over-long messages are cut to 1024 UTF-8 bytes (ending in an ellipsis); the kind is at
        most 32 bytes.
        """
        with self._mutex:
            self._log_event(kind, message, time_s, point_index)

    def _log_event(self, kind: str, message: str, time_s: float, point_index: int) -> None:
        self._check_writable()
        if not isinstance(kind, str) or not kind:
            raise RecordFieldError(f"event kind must be non-empty text, got {kind!r}")
        if not isinstance(message, str):
            raise RecordFieldError(f"event message must be text, got {message!r}")
        if (isinstance(time_s, bool) or not isinstance(time_s, numbers.Real)
                or not np.isfinite(time_s)):
            raise RecordFieldError(f"event time_s must be a finite number of s, got {time_s!r}")
        if isinstance(point_index, bool) or not isinstance(point_index, numbers.Integral) or not (
            -1 <= point_index < self.n_planned
        ):
            raise PointIndexError(f"event point_index must be -1 or 0..{self.n_planned - 1}, "
                                  f"got {point_index!r}")
        raw_message, cut = encode_truncated(message, EVENT_MESSAGE_BYTES)
        if cut:
            log.warning("event message cut to %d UTF-8 bytes: %r", EVENT_MESSAGE_BYTES, message)
        values = {"time_s": float(time_s), "point_index": int(point_index),
                  "kind": encode_fixed(kind, "event kind", EVENT_KIND_BYTES),
                  "message": raw_message}
        _check_room(self._path, f"logging event {kind!r}")
        m = self._n_events
        with self._guard(f"logging event {kind!r}"):
            for name, rows in self._event_rows:
                rows.write(m, values[name])
            self._file.flush()
        self._n_events = m + 1

    def set_status(self, status: str) -> None:
        """Set the run status ("running", "paused", "aborted", ...; at most 64 UTF-8 bytes)."""
        with self._mutex:
            self._check_writable()
            raw = self._status_bytes(status)
            with self._guard("setting the run status"):
                self._status[()] = raw
                self._file.flush()

    def close(self, status: str = "finished") -> None:
        """Record ``status`` and the end time, flush, close and release the file; idempotent.

        After a failed write the status is still recorded if the file takes it (best effort);
        the confirmed rows are safe either way. A bad ``status`` raises and leaves it open.
        """
        with self._mutex:
            if self._closed:
                return
            raw = self._status_bytes(status)
            try:
                if self._failed is None:
                    with self._guard("closing the run file"):
                        self._write_end(raw)
                else:
                    try:
                        self._write_end(raw)
                    except Exception as exc:  # the file failed once already; keep what it has
                        log.warning("%s: could not record status %r after the earlier failure: "
                                    "%s", self._path, status, exc)
            finally:
                self._closed = True
                try:
                    self._close_file()
                finally:
                    self._lock.release()
        log.info("closed run file %s with status %r (%d spectra)", self._path, status,
                 self._n_rows)

    def _close_file(self) -> None:
        """Close the HDF5 file; on a full disk HDF5 cannot write its metadata and the close
        fails: the file object is then kept for the life of the process, because h5py
        collecting (or touching) it later crashes the process (SIGSEGV). Appends check the free
        space first (:func:`_check_room`) so that this stays the rare race it is."""
        try:
            self._file.close()
        except Exception as exc:
            if self._failed is None:
                raise
            log.warning("%s: could not close after the earlier failure (%s)", self._path, exc)
            _keep_unclosed(self._file, exc)
            self.close_failed = True

    def _write_end(self, raw_status: bytes) -> None:
        self._status[()] = raw_status
        self._end_time[()] = encode_fixed(utc_now_iso(), "end_time")
        self._file.flush()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close with status "finished", or "aborted" if the block raised."""
        self.close("finished" if exc_type is None else "aborted")

    # ----------------------------------------------------------------------------- helpers
    def _check_writable(self) -> None:
        if self._closed:
            raise WriterClosedError(f"run file {self._path} writer is closed")
        if self._failed is not None:
            raise WriterClosedError(f"run file {self._path} writer failed earlier "
                                    f"({self._failed}); resume the file to continue")

    def _check_point(self, point_index: int) -> int:
        if isinstance(point_index, bool) or not isinstance(point_index, numbers.Integral):
            raise PointIndexError(f"point_index must be an integer, got {point_index!r}")
        if not 0 <= point_index < self.n_planned:
            raise PointIndexError(f"point_index {point_index} outside the plan "
                                  f"(0..{self.n_planned - 1})")
        if self._finished[point_index]:
            raise DuplicatePointError(f"point {point_index} is already in the ledger of "
                                      f"{self._path}; a spectrum is never recorded twice")
        return int(point_index)

    def _check_record(self, record: Mapping[str, Any], index: int) -> dict[str, Any]:
        if not isinstance(record, Mapping):
            raise RecordFieldError(f"record must be a mapping, got {type(record).__name__}")
        unknown = sorted(set(record) - self._record_names)
        if unknown:
            raise RecordFieldError(f"record has unknown field(s) {unknown}; known: "
                                   f"{sorted(self._record_names)}")
        if record.get("point_index", index) != index:
            raise RecordFieldError(f"record point_index {record['point_index']!r} differs "
                                   f"from point_index {index}")
        values = {c.name: _check_value(c, record.get(c.name)) for c in self._columns}
        values["point_index"] = index
        return values

    @staticmethod
    def _status_bytes(status: str) -> bytes:
        if not isinstance(status, str) or not status:
            raise RecordFieldError(f"status must be non-empty text, got {status!r}")
        return encode_fixed(status, "status")

    def _fault(self, stage: str, point_index: int) -> None:
        hook = type(self).fault_hook
        if hook is not None:
            hook(stage, point_index)

    def _guard(self, what: str) -> _WriteGuard:
        return _WriteGuard(self, what)


class _WriteGuard:
    """Marks the writer failed if a write is interrupted, and names the file in OS errors."""

    def __init__(self, writer: RunWriter, what: str) -> None:
        self._writer = writer
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        writer = self._writer
        writer._failed = f"{self._what}: {exc}"
        log.error("run file %s: %s failed: %s", writer.path, self._what, exc)
        # h5py reports failed writes (a full disk among them) as RuntimeError, not OSError.
        if isinstance(exc, OSError | RuntimeError) and not isinstance(exc, StorageError):
            if _disk_is_full(exc, writer.path):
                raise InsufficientDiskSpaceError(
                    f"disk full while {self._what} in {writer.path}; free space, then resume"
                ) from exc
            raise RunFileWriteError(f"{self._what} in {writer.path} failed: {exc}") from exc


# Free space (bytes) an append needs before it touches the file: a few table chunks (text
# columns take up to 64 KiB per chunk) and HDF5 metadata. Below it the append is refused with
# nothing written, so HDF5 never meets a full disk half-way through a flush (h5py then fails
# to close the file, and a later collection of it crashes the process).
MIN_FREE_BYTES = 2 * 1024 * 1024


def _check_room(path: Path, what: str) -> None:
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return  # cannot tell: the write itself will say
    if free < MIN_FREE_BYTES:
        raise InsufficientDiskSpaceError(
            f"disk nearly full before {what} in {path} ({free / 1e6:.1f} MB free, "
            f"{MIN_FREE_BYTES / 1e6:.1f} MB needed); nothing written; free space, then resume"
        )


def _h5py_release_failure(exc: BaseException | None) -> bool:
    return isinstance(exc, RuntimeError) and "decrement id ref count" in str(exc)


def _install_quiet_h5py_release() -> None:
    """Silence h5py's reports of objects it cannot release on a full disk.

    Once HDF5 cannot flush (full disk), every h5py object collected afterwards fails to
    release and h5py prints a traceback for each (through ``sys.excepthook`` and
    ``sys.unraisablehook``): dozens of tracebacks for one failure the writer already reported
    with a message. Only that failure is filtered (logged at debug level); everything else
    goes to the previous hooks.
    """
    previous_unraisable, previous_except = sys.unraisablehook, sys.excepthook

    def unraisable(info) -> None:
        if _h5py_release_failure(info.exc_value):
            log.debug("h5py could not release an object: %s", info.exc_value)
            return
        previous_unraisable(info)

    def excepthook(kind, value, tb) -> None:
        if _h5py_release_failure(value) and tb is not None and "h5py" in repr(tb.tb_frame):
            log.debug("h5py could not release an object: %s", value)
            return
        previous_except(kind, value, tb)

    sys.unraisablehook = unraisable
    sys.excepthook = excepthook


_install_quiet_h5py_release()


# h5py objects whose close failed (full disk), with the exception whose frames hold the
# file's datasets; see RunWriter._close_file.
_UNCLOSED: list[tuple[h5py.File, BaseException]] = []


def _keep_unclosed(file: h5py.File, exc: BaseException) -> None:
    _UNCLOSED.append((file, exc))


def unclosed_files() -> int:
    """How many run files this process could not close after a full disk. A process with any
    must end with ``os._exit``: h5py collecting them at interpreter exit crashes (SIGSEGV)."""
    return len(_UNCLOSED)


def _disk_is_full(exc: BaseException, path: Path) -> bool:
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return True
    text = str(exc)
    if "errno = 28" in text or "No space left on device" in text:
        return True
    try:
        # HDF5 reports write failures without errno; judge by what is left on the disk.
        return shutil.disk_usage(path.parent).free < 1024 * 1024
    except OSError:
        return False
