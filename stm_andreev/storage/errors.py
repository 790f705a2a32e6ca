"""Exceptions raised by the run-file storage; each names the file and what is wrong."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error raised by :mod:`stm_andreev.storage`."""


class RunFileExistsError(StorageError, FileExistsError):
    """A run file already exists at the requested path; run files are never overwritten."""


class RunFileNotFoundError(StorageError, FileNotFoundError):
    """The run file to resume or read does not exist."""


class UnwritableLocationError(StorageError, PermissionError):
    """The directory for a new run file is missing, not a directory, or not writable."""


class InsufficientDiskSpaceError(StorageError, OSError):
    """The disk lacks room for the planned run (checked up front) or filled up while writing."""


class RunFileBusyError(StorageError):
    """Another live writer holds the run file (two writers would corrupt it)."""


class NotARunFileError(StorageError):
    """The file is not HDF5, or not laid out by this package, or its layout version is unknown."""


class RunFileWriteError(StorageError, OSError):
    """Writing to the run file failed; the writer is unusable and the run must be resumed."""


class WriterClosedError(StorageError):
    """The writer was closed (or failed) and can take no more data."""


class SpectrumDataError(StorageError, ValueError):
    """A spectrum array is not numeric, lacks the run's number of bias points, or has a
    non-finite bias value."""


class PointIndexError(StorageError, ValueError):
    """A point index is outside ``0 <= i < n_planned``."""


class DuplicatePointError(StorageError, ValueError):
    """The point is already in the ledger; a spectrum is never recorded twice."""


class RecordFieldError(StorageError, ValueError):
    """A per-spectrum record has an unknown key or a value of the wrong kind."""


class ReaderNotLiveError(StorageError):
    """``refresh()`` was called on a reader opened without ``live=True``."""
