"""Opening run files with HDF5's file lock when possible, without it when it is in the way.

HDF5 takes a ``flock`` on open. A SWMR reader (the GUI following a run) holds a shared one, so
reopening the file for writing on resume fails with "unable to lock file" while the GUI is
attached. The run-file writer has its own single-writer lock
(:mod:`stm_andreev.storage.writer_lock`), so dropping HDF5's lock in that case is safe. Within
one process HDF5 shares one open file between handles and refuses a second handle whose
locking setting differs ("file locking flag values don't match"); the retry below follows
whatever setting the first handle used.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import h5py

log = logging.getLogger(__name__)

_LOCK_CONFLICTS = ("unable to lock file", "file locking flag values don't match")


def open_h5(path: str | os.PathLike[str], mode: str, **kwargs: Any) -> h5py.File:
    """``h5py.File(path, mode, **kwargs)``, retried without HDF5 file locking on a lock clash."""
    try:
        return h5py.File(path, mode, **kwargs)
    except OSError as exc:
        if not any(text in str(exc) for text in _LOCK_CONFLICTS):
            raise
        log.info("%s: HDF5 file lock in the way (%s); opening without it", path, exc)
        return h5py.File(path, mode, locking=False, **kwargs)
