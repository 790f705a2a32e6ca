"""One HDF5 handle per run file, and one per dataset, shared by every reader in a process.

HDF5 opens a file once per process: every ``h5py.File`` on the same file shares one metadata
cache, and every handle on the same dataset shares one in-memory dataset (extent, chunk index).
``H5Drefresh`` of one handle while another handle of the same dataset is open leaves that
shared state half-refreshed: with HDF5 2.0 / h5py 3.16 two live readers of one run file in one
process (the GUI's progress panel and its spectra view) read rows 1, 2, ... of a growing
dataset as row 0, and a handle that is not refreshed stops following altogether
(tests/e2e/test_live_follow.py). A dataset refreshed through its only open handle reads what
is on disk. So the readers of one file in a process share one handle per dataset here and
refresh through it; :class:`~.reader.RunReader` is the only user.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import h5py

from .h5open import open_h5

log = logging.getLogger(__name__)

FileKey = tuple[int, int]

_SWMR_CLASH = "SWMR read access flag not the same"

_registry: dict[FileKey, SharedFile] = {}
_registry_lock = threading.Lock()


class SharedFile:
    """An HDF5 file open for SWMR reading, with its datasets opened once each.

    Get one with :func:`acquire` and give it back with :meth:`release`. ``lock`` serialises
    refreshes and multi-call reads of the users (threads of one process).
    """

    def __init__(self, key: FileKey, path: Path, file: h5py.File) -> None:
        self.key = key
        self.path = path
        self.file = file
        self.lock = threading.RLock()
        self.users = 0
        self._datasets: dict[str, h5py.Dataset] = {}

    def dataset(self, name: str) -> h5py.Dataset:
        """The one handle of dataset ``name`` (KeyError if the file has none)."""
        with self.lock:
            ds = self._datasets.get(name)
            if ds is None:
                ds = self.file[name]
                if not isinstance(ds, h5py.Dataset):
                    raise KeyError(f"{name} is not a dataset")
                self._datasets[name] = ds
            return ds

    def refresh(self, names: Iterable[str]) -> None:
        """Re-read the named datasets' metadata from disk, in the order given (not in a
        file opened without SWMR: no one writes it, and a refresh while the opener's own
        handle of the dataset is open breaks HDF5's shared dataset)."""
        if not self.file.swmr_mode:
            return
        with self.lock:
            for name in names:
                self.dataset(name).refresh()

    def release(self) -> None:
        """One user fewer; the last one closes the file."""
        with _registry_lock:
            self.users -= 1
            if self.users > 0:
                return
            if _registry.get(self.key) is self:
                del _registry[self.key]
        with self.lock:
            self._datasets.clear()
            if self.file.id.valid:
                self.file.close()


def _key(path: Path) -> FileKey:
    # HDF5 itself tells files apart by device and inode, so a second path to the same file
    # (a hard link, a symlink, a relative path) must find the same entry.
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def acquire(path: Path) -> SharedFile:
    """The shared handle of ``path``, opened if no reader in this process has it (refresh it
    before use: another reader may have refreshed it long ago). Raises OSError if the file
    cannot be opened as HDF5."""
    key = _key(path)
    with _registry_lock:
        shared = _registry.get(key)
        if shared is None or not shared.file.id.valid:
            # SWMR read mode also opens files whose (dead) writer left the open flags set.
            try:
                file = open_h5(path, "r", libver="latest", swmr=True)
            except OSError as exc:
                if _SWMR_CLASH not in str(exc):
                    raise
                # Someone in this process (a caller's own h5py.File) has it open without
                # SWMR; HDF5 shares one open file per process, so follow that handle's flag.
                file = open_h5(path, "r", libver="latest")
            shared = SharedFile(key, path, file)
            _registry[key] = shared
        shared.users += 1
    return shared


def held(path: Path) -> SharedFile | None:
    """The shared handle of ``path`` if a reader of this process has it open (acquired: give
    it back with :meth:`SharedFile.release`), else None; never opens the file."""
    try:
        key = _key(path)
    except OSError:
        return None
    with _registry_lock:
        shared = _registry.get(key)
        if shared is None or not shared.file.id.valid:
            return None
        shared.users += 1
    return shared


def open_count() -> int:
    """Number of run files the readers of this process hold open (for tests)."""
    with _registry_lock:
        return len(_registry)
