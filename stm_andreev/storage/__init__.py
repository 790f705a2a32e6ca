"""Crash-safe, live-readable HDF5 run files: one file per run, one writer, SWMR readers.

Public API::

    RunWriter.create(path, *, n_bias, n_planned, metadata, station_text, plan_text, snapshot,
                     point_keys=None) -> RunWriter
    RunWriter.resume(path) -> RunWriter            # after a clean close or a crash
    writer.append_spectrum(point_index, *, bias_V, G_S, X_V, Y_V, record)
    writer.log_event(kind, message, *, time_s, point_index=-1)
    writer.set_status(status); writer.close(status="finished"); writer.finished_points
    RunReader(path, *, live=False): metadata, n_spectra, spectrum(i), spectra(), table(),
                                    ledger, events(), refresh(), close()

The file layout is in :mod:`stm_andreev.storage.layout` and docs/storage-layout.md.
"""

from .errors import (
    DuplicatePointError,
    InsufficientDiskSpaceError,
    NotARunFileError,
    PointIndexError,
    ReaderNotLiveError,
    RecordFieldError,
    RunFileBusyError,
    RunFileExistsError,
    RunFileNotFoundError,
    RunFileWriteError,
    SpectrumDataError,
    StorageError,
    UnwritableLocationError,
    WriterClosedError,
)
from .layout import EVENT_COLUMNS, G0_S, POINT_COLUMNS, SPECTRUM_DATASETS, Column
from .reader import Event, RunReader, Spectrum
from .writer import RunWriter

__all__ = [
    "EVENT_COLUMNS",
    "G0_S",
    "POINT_COLUMNS",
    "SPECTRUM_DATASETS",
    "Column",
    "DuplicatePointError",
    "Event",
    "InsufficientDiskSpaceError",
    "NotARunFileError",
    "PointIndexError",
    "ReaderNotLiveError",
    "RecordFieldError",
    "RunFileBusyError",
    "RunFileExistsError",
    "RunFileNotFoundError",
    "RunFileWriteError",
    "RunReader",
    "RunWriter",
    "Spectrum",
    "SpectrumDataError",
    "StorageError",
    "UnwritableLocationError",
    "WriterClosedError",
]
