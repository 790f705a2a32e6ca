"""One writer per run file: an exclusive lock held for the writer's whole life.

HDF5's own file lock is released once SWMR writing starts (so readers can open the file), and
a dead writer's superblock flags look exactly like a live writer's. To tell them apart before
clearing those flags on resume, the writer holds an open-file-description (OFD) byte-range
lock. OFD locks belong to the open file, not the process: the kernel drops them when the
process dies (even by SIGKILL), closing another descriptor of the same file does not drop them
(unlike classic POSIX locks), and they do not interact with the ``flock`` lock that HDF5 takes.
The locked byte lies far beyond any real file size, so no data is ever covered.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from pathlib import Path

from .errors import RunFileBusyError

log = logging.getLogger(__name__)

try:
    import fcntl

    _F_OFD_SETLK: int | None = getattr(fcntl, "F_OFD_SETLK", None)
except ImportError:  # Windows: no fcntl
    fcntl = None  # type: ignore[assignment]
    _F_OFD_SETLK = None

_LOCK_OFFSET = 1 << 62


def _flock_struct(lock_type: int) -> bytes:
    # struct flock {short l_type; short l_whence; off_t l_start; off_t l_len; pid_t l_pid;};
    # l_pid must be 0 for OFD locks; trailing padding keeps the kernel's 32-byte read in bounds.
    return struct.pack("hhqqi4x", lock_type, os.SEEK_SET, _LOCK_OFFSET, 1, 0)


class WriterLock:
    """Exclusive lock on a run file, taken on construction, released by :meth:`release`.

    Raises :class:`RunFileBusyError` if another live writer holds it. Where OFD locks do not
    exist (non-Linux), it logs a warning and guards nothing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        if _F_OFD_SETLK is None:
            log.warning("%s: no OFD locks on this platform; a second writer is not detected",
                        self.path)
            return
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.fcntl(fd, _F_OFD_SETLK, _flock_struct(fcntl.F_WRLCK))
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise RunFileBusyError(
                    f"{self.path} is held by another live writer; stop it before resuming"
                ) from exc
            raise
        self._fd = fd

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the OFD lock
            self._fd = None
