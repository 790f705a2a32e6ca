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

# The HDF5 side (h5py, numpy) is imported on first use: a command that only checks a file in a
# child process (`verify`, the check before `analyze` and `--resume`) does not wait for it.
_LAZY = {
    "EVENT_COLUMNS": ".layout", "G0_S": ".layout", "POINT_COLUMNS": ".layout",
    "SPECTRUM_DATASETS": ".layout", "Column": ".layout",
    "Event": ".reader", "RunReader": ".reader", "Spectrum": ".reader",
    "RunWriter": ".writer",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
